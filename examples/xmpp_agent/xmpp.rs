//! A minimal XMPP client (RFC 6120) over tokio: TCP, STARTTLS (rustls, verified against the
//! system roots or a CA file), SASL SCRAM-SHA-1 or PLAIN, in-band registration (XEP-0077),
//! resource binding; then a [`Client`] that sends stanzas, matches iq answers to requests and
//! hands every other stanza to its owner.
//!
//! Kept small and self-contained on purpose: the agent and the test client share it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

use crate::stream::{StreamEvent, StreamReader};
use crate::xml::{Element, Limits, XmlError};

/// Stream namespaces.
pub const NS_CLIENT: &str = "jabber:client";
const NS_STREAMS: &str = "http://etherx.jabber.org/streams";
const NS_TLS: &str = "urn:ietf:params:xml:ns:xmpp-tls";
const NS_SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
const NS_BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";
const NS_SESSION: &str = "urn:ietf:params:xml:ns:xmpp-session";
/// XEP-0077.
pub const NS_REGISTER: &str = "jabber:iq:register";

/// How the connection is protected.
#[derive(Debug, Clone)]
pub enum Security {
    /// STARTTLS, required, the server's certificate verified against the system roots or the
    /// given PEM file.
    StartTls {
        /// Trust only these CA certificates (PEM) instead of the system's.
        ca_file: Option<PathBuf>,
    },
    /// Plain TCP, for loopback servers that offer no TLS (the caller checks the address).
    InsecureTcp,
}

/// Where and as whom to connect.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// The account's bare JID (`node@domain`).
    pub jid: String,
    /// Its password.
    pub password: String,
    /// `host:port` (default: the JID's domain, port 5222).
    pub server: Option<String>,
    /// TLS or not.
    pub security: Security,
    /// Create the account by in-band registration when the server says it does not exist.
    pub register: bool,
    /// The resource to bind.
    pub resource: String,
    /// Parsing limits.
    pub limits: Limits,
}

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum XmppError {
    /// TCP.
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    /// XML from the server.
    #[error("{0}")]
    Xml(#[from] XmlError),
    /// TLS setup or handshake.
    #[error("TLS: {0}")]
    Tls(String),
    /// SASL refused.
    #[error("authentication failed: {0}")]
    Auth(String),
    /// In-band registration refused.
    #[error("registration failed: {0}")]
    Register(String),
    /// The server said something unexpected.
    #[error("protocol: {0}")]
    Protocol(String),
    /// `<stream:error>`.
    #[error("stream error: {0}")]
    Stream(String),
    /// A bad JID.
    #[error("bad JID {0:?}")]
    Jid(String),
    /// No answer in time.
    #[error("timed out")]
    Timeout,
    /// The connection is gone.
    #[error("disconnected")]
    Disconnected,
}

/// `node@domain/resource` split; only the checks this client needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jid {
    /// Local part.
    pub node: Option<String>,
    /// Domain.
    pub domain: String,
    /// Resource.
    pub resource: Option<String>,
}

impl Jid {
    /// Parses a JID (lengths and forbidden characters checked, no stringprep).
    pub fn parse(s: &str) -> Result<Jid, XmppError> {
        let bad = || XmppError::Jid(s.to_string());
        if s.is_empty() || s.len() > 3071 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let (bare, resource) = match s.split_once('/') {
            Some((b, r)) if !r.is_empty() => (b, Some(r.to_string())),
            Some(_) => return Err(bad()),
            None => (s, None),
        };
        let (node, domain) = match bare.split_once('@') {
            Some((n, d)) if !n.is_empty() && !n.contains(['"', '&', '\'', ':', '<', '>']) => (Some(n.to_string()), d),
            Some(_) => return Err(bad()),
            None => (None, bare),
        };
        if domain.is_empty() || domain.contains('@') {
            return Err(bad());
        }
        Ok(Jid { node, domain: domain.to_string(), resource })
    }

    /// `node@domain` (or `domain`).
    pub fn bare(&self) -> String {
        match &self.node {
            Some(n) => format!("{n}@{}", self.domain),
            None => self.domain.clone(),
        }
    }
}

/// The bare part of a JID string (everything before `/`).
pub fn bare(jid: &str) -> &str {
    jid.split('/').next().unwrap_or(jid)
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}
type Transport = Box<dyn Io>;

struct Stream {
    reader: StreamReader<ReadHalf<Transport>>,
    writer: WriteHalf<Transport>,
    domain: String,
}

impl Stream {
    fn new(io: Transport, domain: &str, limits: Limits) -> Stream {
        let (r, w) = tokio::io::split(io);
        Stream { reader: StreamReader::new(r, limits), writer: w, domain: domain.into() }
    }

    async fn send(&mut self, s: &str) -> Result<(), XmppError> {
        self.writer.write_all(s.as_bytes()).await?;
        self.writer.flush().await?;
        Ok(())
    }

    /// Opens a stream and returns its features.
    async fn open(&mut self) -> Result<Element, XmppError> {
        self.reader.restart();
        let header = format!(
            "<?xml version='1.0'?><stream:stream to='{}' version='1.0' xmlns='{NS_CLIENT}' xmlns:stream='{NS_STREAMS}'>",
            crate::xml::escape(&self.domain)
        );
        self.send(&header).await?;
        match self.reader.next().await? {
            StreamEvent::Open => {}
            StreamEvent::Stanza(s) => {
                return Err(XmppError::Protocol(format!("expected a stream header, got <{}>", s.name)))
            }
        }
        let features = self.recv().await?;
        if features.name != "stream:features" {
            return Err(XmppError::Protocol(format!("expected features, got <{}>", features.name)));
        }
        Ok(features)
    }

    /// The next top-level element (stream errors become errors).
    async fn recv(&mut self) -> Result<Element, XmppError> {
        match self.reader.next().await? {
            StreamEvent::Stanza(s) if s.name == "stream:error" => Err(stream_error(&s)),
            StreamEvent::Stanza(s) => Ok(s),
            StreamEvent::Open => Err(XmppError::Protocol("unexpected second stream header".into())),
        }
    }
}

fn stream_error(s: &Element) -> XmppError {
    let cond = s.elements().next().map(|e| e.name.clone()).unwrap_or_default();
    let text = s.get_child("text").map(|t| t.text_content()).unwrap_or_default();
    XmppError::Stream(if text.is_empty() { cond } else { format!("{cond}: {text}") })
}

fn tls_config(ca_file: &Option<PathBuf>) -> Result<Arc<rustls::ClientConfig>, XmppError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    let files: Vec<PathBuf> = match ca_file {
        Some(f) => vec![f.clone()],
        None => ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"]
            .iter()
            .map(PathBuf::from)
            .filter(|p| p.exists())
            .take(1)
            .collect(),
    };
    for f in &files {
        let certs = CertificateDer::pem_file_iter(f).map_err(|e| XmppError::Tls(format!("{}: {e}", f.display())))?;
        for cert in certs {
            let cert = cert.map_err(|e| XmppError::Tls(format!("{}: {e}", f.display())))?;
            // Skip certificates rustls cannot use rather than refusing the whole bundle.
            let _ = roots.add(cert);
        }
    }
    if roots.is_empty() {
        return Err(XmppError::Tls("no trusted CA certificates (system bundle missing; give --ca-file)".into()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| XmppError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Connects, secures, authenticates (registering first if asked and needed) and binds.
pub async fn connect(opts: &ConnectOptions) -> Result<(Client, mpsc::UnboundedReceiver<Element>), XmppError> {
    let jid = Jid::parse(&opts.jid)?;
    let node = jid.node.clone().ok_or_else(|| XmppError::Jid(opts.jid.clone()))?;
    let server = opts.server.clone().unwrap_or_else(|| format!("{}:5222", jid.domain));
    let tcp = TcpStream::connect(&server).await?;
    tcp.set_nodelay(true)?;
    let mut stream = Stream::new(Box::new(tcp), &jid.domain, opts.limits);
    let mut features = stream.open().await?;

    let starttls = features.get_child_ns("starttls", NS_TLS);
    match &opts.security {
        Security::StartTls { ca_file } => {
            if starttls.is_none() {
                return Err(XmppError::Tls(format!(
                    "{server} offers no STARTTLS (--insecure-tcp is for loopback servers without TLS)"
                )));
            }
            let config = tls_config(ca_file)?;
            stream.send(&format!("<starttls xmlns='{NS_TLS}'/>")).await?;
            let answer = stream.recv().await?;
            if answer.name != "proceed" {
                return Err(XmppError::Tls(format!("server answered <{}> to starttls", answer.name)));
            }
            let Stream { reader, writer, .. } = stream;
            let tcp = reader.into_inner().unsplit(writer);
            let name = rustls::pki_types::ServerName::try_from(jid.domain.clone())
                .map_err(|e| XmppError::Tls(format!("{}: {e}", jid.domain)))?;
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await
                .map_err(|e| XmppError::Tls(e.to_string()))?;
            stream = Stream::new(Box::new(tls), &jid.domain, opts.limits);
            features = stream.open().await?;
        }
        Security::InsecureTcp => {
            if starttls.is_some_and(|s| s.get_child("required").is_some()) {
                return Err(XmppError::Tls(format!("{server} requires TLS: drop --insecure-tcp")));
            }
        }
    }

    let mechanisms: Vec<String> = features
        .get_child_ns("mechanisms", NS_SASL)
        .map(|m| m.elements().filter(|e| e.name == "mechanism").map(|e| e.text_content()).collect())
        .unwrap_or_default();
    match authenticate(&mut stream, &mechanisms, &node, &opts.password).await {
        Ok(()) => {}
        Err(XmppError::Auth(why)) if opts.register && why.contains("not-authorized") => {
            register(&mut stream, &node, &opts.password).await?;
            authenticate(&mut stream, &mechanisms, &node, &opts.password).await?;
        }
        Err(e) => return Err(e),
    }

    let features = stream.open().await?;
    if features.get_child_ns("bind", NS_BIND).is_none() {
        return Err(XmppError::Protocol("no resource binding offered".into()));
    }
    let bind = Element::new("iq", NS_CLIENT)
        .attr("type", "set")
        .attr("id", "bind-1")
        .child(Element::new("bind", NS_BIND).child(Element::new("resource", NS_BIND).text(opts.resource.clone())));
    stream.send(&bind.to_string()).await?;
    let answer = stream.recv().await?;
    if answer.get_attr("type") != Some("result") {
        return Err(XmppError::Protocol(format!("bind refused: {answer}")));
    }
    let bound = answer
        .get_child("bind")
        .and_then(|b| b.get_child("jid"))
        .map(|j| j.text_content())
        .ok_or_else(|| XmppError::Protocol("bind result without a JID".into()))?;
    if let Some(session) = features.get_child_ns("session", NS_SESSION) {
        if session.get_child("optional").is_none() {
            let iq = Element::new("iq", NS_CLIENT)
                .attr("type", "set")
                .attr("id", "session-1")
                .child(Element::new("session", NS_SESSION));
            stream.send(&iq.to_string()).await?;
            let answer = stream.recv().await?;
            if answer.get_attr("type") != Some("result") {
                return Err(XmppError::Protocol(format!("session refused: {answer}")));
            }
        }
    }
    Ok(Client::start(stream, bound))
}

async fn sasl_answer(stream: &mut Stream) -> Result<Element, XmppError> {
    let answer = stream.recv().await?;
    if answer.ns != NS_SASL {
        return Err(XmppError::Protocol(format!("expected a SASL answer, got <{}>", answer.name)));
    }
    if answer.name == "failure" {
        let cond = answer.elements().next().map(|e| e.name.clone()).unwrap_or_else(|| "failure".into());
        return Err(XmppError::Auth(cond));
    }
    Ok(answer)
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn unb64(text: &str) -> Result<Vec<u8>, XmppError> {
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| XmppError::Protocol(format!("bad base64 from the server: {e}")))
}

async fn authenticate(stream: &mut Stream, mechanisms: &[String], user: &str, password: &str) -> Result<(), XmppError> {
    if mechanisms.iter().any(|m| m == "SCRAM-SHA-1") {
        return scram_sha1(stream, user, password).await;
    }
    if mechanisms.iter().any(|m| m == "PLAIN") {
        let blob = b64(format!("\0{user}\0{password}").as_bytes());
        stream.send(&format!("<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{blob}</auth>")).await?;
        let answer = sasl_answer(stream).await?;
        return if answer.name == "success" {
            Ok(())
        } else {
            Err(XmppError::Protocol(format!("unexpected <{}>", answer.name)))
        };
    }
    Err(XmppError::Auth(format!("no supported mechanism among {mechanisms:?}")))
}

/// SCRAM-SHA-1 (RFC 5802) without channel binding; the server's signature is checked.
async fn scram_sha1(stream: &mut Stream, user: &str, password: &str) -> Result<(), XmppError> {
    use hmac::{Hmac, Mac};
    use sha1::{Digest, Sha1};
    type HmacSha1 = Hmac<Sha1>;
    let hmac = |key: &[u8], data: &[u8]| -> Vec<u8> {
        let mut m = HmacSha1::new_from_slice(key).expect("HMAC takes any key length");
        m.update(data);
        m.finalize().into_bytes().to_vec()
    };
    let cnonce = uuid::Uuid::new_v4().simple().to_string();
    let username = user.replace('=', "=3D").replace(',', "=2C");
    let client_first_bare = format!("n={username},r={cnonce}");
    stream
        .send(&format!(
            "<auth xmlns='{NS_SASL}' mechanism='SCRAM-SHA-1'>{}</auth>",
            b64(format!("n,,{client_first_bare}").as_bytes())
        ))
        .await?;
    let challenge = sasl_answer(stream).await?;
    if challenge.name != "challenge" {
        return Err(XmppError::Protocol(format!("expected a SCRAM challenge, got <{}>", challenge.name)));
    }
    let server_first = String::from_utf8(unb64(&challenge.text_content())?)
        .map_err(|_| XmppError::Protocol("SCRAM challenge is not UTF-8".into()))?;
    let field = |k: &str| {
        server_first.split(',').find_map(|kv| kv.strip_prefix(k).and_then(|v| v.strip_prefix('='))).map(str::to_string)
    };
    let bad = |what: &str| XmppError::Protocol(format!("SCRAM challenge: {what}"));
    let nonce = field("r").ok_or_else(|| bad("no nonce"))?;
    if !nonce.starts_with(&cnonce) || nonce.len() == cnonce.len() {
        return Err(bad("nonce does not extend ours"));
    }
    let salt = unb64(&field("s").ok_or_else(|| bad("no salt"))?)?;
    let iterations: u32 = field("i").and_then(|i| i.parse().ok()).ok_or_else(|| bad("no iteration count"))?;
    if !(1..=1_000_000).contains(&iterations) {
        return Err(bad("iteration count out of range"));
    }
    let mut salted = [0u8; 20];
    pbkdf2::pbkdf2_hmac::<Sha1>(password.as_bytes(), &salt, iterations, &mut salted);
    let client_key = hmac(&salted, b"Client Key");
    let stored_key = Sha1::digest(&client_key);
    let without_proof = format!("c=biws,r={nonce}");
    let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
    let signature = hmac(&stored_key, auth_message.as_bytes());
    let proof: Vec<u8> = client_key.iter().zip(&signature).map(|(a, b)| a ^ b).collect();
    stream
        .send(&format!(
            "<response xmlns='{NS_SASL}'>{}</response>",
            b64(format!("{without_proof},p={}", b64(&proof)).as_bytes())
        ))
        .await?;
    let success = sasl_answer(stream).await?;
    if success.name != "success" {
        return Err(XmppError::Protocol(format!("expected SASL success, got <{}>", success.name)));
    }
    let server_final = String::from_utf8(unb64(&success.text_content())?).unwrap_or_default();
    let expected = b64(&hmac(&hmac(&salted, b"Server Key"), auth_message.as_bytes()));
    if server_final.strip_prefix("v=") != Some(expected.as_str()) {
        return Err(XmppError::Auth("the server's SCRAM signature does not match (not the real server?)".into()));
    }
    Ok(())
}

/// XEP-0077 registration before authentication.
async fn register(stream: &mut Stream, user: &str, password: &str) -> Result<(), XmppError> {
    let iq = Element::new("iq", NS_CLIENT).attr("type", "set").attr("id", "register-1").child(
        Element::new("query", NS_REGISTER)
            .child(Element::new("username", NS_REGISTER).text(user))
            .child(Element::new("password", NS_REGISTER).text(password)),
    );
    stream.send(&iq.to_string()).await?;
    let answer = stream.recv().await?;
    match answer.get_attr("type") {
        Some("result") => Ok(()),
        _ => Err(XmppError::Register(error_condition(&answer))),
    }
}

/// The condition element name of an `<error>` child (`conflict`, `not-allowed`, …).
pub fn error_condition(stanza: &Element) -> String {
    stanza
        .get_child("error")
        .and_then(|e| e.elements().find(|c| c.name != "text"))
        .map(|c| c.name.clone())
        .unwrap_or_else(|| "unknown".into())
}

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<Element>>>>;

enum Out {
    Stanza(String),
    Close,
}

/// A bound session: send stanzas, await iq answers; every other stanza arrives on the
/// receiver [`connect`] returned, which ends when the connection does.
#[derive(Clone)]
pub struct Client {
    /// The full JID the server bound.
    #[allow(dead_code)] // the test client's; the agent knows its JIDs
    pub jid: String,
    out: mpsc::UnboundedSender<Out>,
    pending: Pending,
    next_id: Arc<AtomicU64>,
    alive: Arc<AtomicBool>,
}

impl Client {
    fn start(stream: Stream, jid: String) -> (Client, mpsc::UnboundedReceiver<Element>) {
        let (out, mut out_rx) = mpsc::unbounded_channel::<Out>();
        let (in_tx, in_rx) = mpsc::unbounded_channel::<Element>();
        let pending: Pending = Arc::default();
        let alive = Arc::new(AtomicBool::new(true));
        let Stream { mut reader, mut writer, .. } = stream;
        tokio::spawn(async move {
            while let Some(Out::Stanza(s)) = out_rx.recv().await {
                if writer.write_all(s.as_bytes()).await.is_err() || writer.flush().await.is_err() {
                    break;
                }
            }
            let _ = writer.write_all(b"</stream:stream>").await;
            let _ = writer.shutdown().await;
        });
        let (pend, up, closer) = (pending.clone(), alive.clone(), out.clone());
        tokio::spawn(async move {
            loop {
                let s = match reader.next().await {
                    Ok(StreamEvent::Stanza(s)) if s.name != "stream:error" => s,
                    // One hostile stanza dropped; the stream is intact.
                    Err(XmlError::Skipped(_)) => continue,
                    _ => break,
                };
                let answer = s.name == "iq" && matches!(s.get_attr("type"), Some("result" | "error"));
                let waiter =
                    if answer { s.get_attr("id").and_then(|id| pend.lock().unwrap().remove(id)) } else { None };
                match waiter {
                    Some(w) => {
                        let _ = w.send(s);
                    }
                    None => {
                        let _ = in_tx.send(s);
                    }
                }
            }
            // Waiters see their sender dropped (Disconnected); the owner sees the channel end;
            // the writer closes our side so the server drops the session at once.
            up.store(false, Ordering::SeqCst);
            pend.lock().unwrap().clear();
            let _ = closer.send(Out::Close);
        });
        (Client { jid, out, pending, next_id: Arc::new(AtomicU64::new(1)), alive }, in_rx)
    }

    /// Sends a stanza.
    pub fn send(&self, stanza: &Element) -> Result<(), XmppError> {
        self.out.send(Out::Stanza(stanza.to_string())).map_err(|_| XmppError::Disconnected)
    }

    /// A fresh stanza id.
    pub fn id(&self) -> String {
        format!("k{}", self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// Sends an iq (an id is set if it has none) and waits for its result or error.
    pub async fn request(&self, mut iq: Element, timeout: Duration) -> Result<Element, XmppError> {
        let id = match iq.get_attr("id") {
            Some(id) => id.to_string(),
            None => {
                let id = self.id();
                iq.set_attr("id", id.clone());
                id
            }
        };
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap().insert(id.clone(), tx);
        self.send(&iq)?;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(_)) => Err(XmppError::Disconnected),
            Err(_) => {
                self.pending.lock().unwrap().remove(&id);
                Err(XmppError::Timeout)
            }
        }
    }

    /// Whether the connection still runs.
    #[allow(dead_code)] // the test client's
    pub fn is_connected(&self) -> bool {
        self.alive.load(Ordering::SeqCst) && !self.out.is_closed()
    }

    /// Closes the stream (after what was already queued).
    pub fn close(&self) {
        let _ = self.out.send(Out::Close);
    }
}
