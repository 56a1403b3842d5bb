//! Shared by `tests/xmpp_agent.rs` and `benches/xmpp_agent.rs`: a private Prosody (started by
//! `scripts/services/prosody.sh`, stopped by PID on drop), agent processes (killed on drop,
//! their stderr collected), clients and Archipel commands. The including crate declares the
//! example's `xml` and `xmpp` modules at its root.

pub mod archipel;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedReceiver;

use crate::xml::{self, Element};
use crate::xmpp::{self, Client, ConnectOptions, Security, NS_CLIENT};

/// How long one answer may take.
pub const T: Duration = Duration::from_secs(20);

/// The private Prosody; stopped by PID (the script's pid file) on drop.
pub struct Prosody {
    /// Its directory (config, data, log, CA).
    pub dir: PathBuf,
    /// Its client port on 127.0.0.1.
    pub port: u16,
    admins: String,
}

impl Prosody {
    fn script() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/services/prosody.sh")
    }

    /// Starts it; `None` (after printing SKIP) without prosody or root. `pubsub_admins`: the
    /// JIDs that may create pubsub nodes.
    pub fn start(pubsub_admins: &[&str]) -> Option<Prosody> {
        let installed =
            Command::new("sh").args(["-c", "command -v prosody"]).output().is_ok_and(|o| o.status.success());
        let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0");
        if !installed || !root {
            eprintln!("SKIP: xmpp_agent needs prosody installed and root (scripts/install-deps.sh test)");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = PathBuf::from(format!("/tmp/kvmhost-xmpp-test-{}", std::process::id()));
        let guard = Prosody { dir, port, admins: pubsub_admins.join(" ") };
        let out = guard.command("start").output().expect("run prosody.sh");
        assert!(out.status.success(), "prosody.sh start: {}", String::from_utf8_lossy(&out.stderr));
        Some(guard)
    }

    /// Stops it and starts a fresh one on the same port (accounts and nodes gone, new CA).
    pub fn restart(&self) {
        let _ = self.command("stop").status();
        let out = self.command("start").output().expect("run prosody.sh");
        assert!(out.status.success(), "prosody.sh start: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn command(&self, verb: &str) -> Command {
        let mut c = Command::new(Self::script());
        c.arg(verb)
            .env("KVMHOST_PROSODY_DIR", &self.dir)
            .env("KVMHOST_PROSODY_PORT", self.port.to_string())
            .env("KVMHOST_PROSODY_PUBSUB_ADMINS", &self.admins);
        c
    }

    /// `127.0.0.1:PORT`.
    pub fn server(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Prosody {
    fn drop(&mut self) {
        let _ = self.command("stop").status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A private ejabberd node (`scripts/services/ejabberd.sh`); stopped on drop (`ejabberdctl stop`,
/// then by PID, with the port mapper it started).
pub struct Ejabberd {
    dir: PathBuf,
    /// Its client port on 127.0.0.1.
    pub port: u16,
    node: String,
    join: Option<String>,
    cookie: String,
}

impl Ejabberd {
    /// Starts it; `None` (after printing SKIP) without ejabberd or root.
    pub fn start() -> Option<Ejabberd> {
        Self::start_node("a", None)
    }

    /// A two-node cluster: node A, then node B joined to it (drop B first).
    pub fn start_cluster() -> Option<(Ejabberd, Ejabberd)> {
        let a = Self::start_node("a", None)?;
        let b = Self::start_node("b", Some(&a))?;
        Some((a, b))
    }

    fn start_node(tag: &str, join: Option<&Ejabberd>) -> Option<Ejabberd> {
        let installed =
            Command::new("sh").args(["-c", "command -v ejabberdctl"]).output().is_ok_and(|o| o.status.success());
        let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0");
        if !installed || !root {
            eprintln!("SKIP: the ejabberd run needs ejabberd installed and root (scripts/install-deps.sh test)");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let pid = std::process::id();
        let dir = PathBuf::from(format!("/tmp/kvmhost-xmpp-ejabberd-{pid}-{tag}"));
        let guard = Ejabberd {
            dir,
            port,
            node: format!("kvmhost{pid}{tag}@localhost"),
            join: join.map(|j| j.node.clone()),
            cookie: join
                .map(|j| j.cookie.clone())
                .unwrap_or_else(|| format!("kvmhost{pid}{}", uuid::Uuid::new_v4().simple())),
        };
        let out = guard.command("start").output().expect("run ejabberd.sh");
        assert!(out.status.success(), "ejabberd.sh start: {}", String::from_utf8_lossy(&out.stderr));
        Some(guard)
    }

    fn command(&self, verb: &str) -> Command {
        let mut c = Command::new(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/services/ejabberd.sh"));
        c.arg(verb)
            .env("KVMHOST_EJABBERD_DIR", &self.dir)
            .env("KVMHOST_EJABBERD_PORT", self.port.to_string())
            .env("KVMHOST_EJABBERD_NODE", &self.node)
            .env("KVMHOST_EJABBERD_COOKIE", &self.cookie)
            .env("KVMHOST_EJABBERD_JOIN", self.join.as_deref().unwrap_or(""));
        c
    }

    /// `127.0.0.1:PORT`.
    pub fn server(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Ejabberd {
    fn drop(&mut self) {
        let _ = self.command("stop").status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One agent process; killed on drop. Its stderr lines are collected.
pub struct AgentProc {
    child: Child,
    /// Its stderr so far.
    pub lines: Arc<Mutex<Vec<String>>>,
}

impl AgentProc {
    /// Starts an agent on plain TCP (loopback), `admin@localhost` as root admin.
    pub fn start(bin: &Path, jid: &str, server: &str, state: &Path) -> AgentProc {
        Self::start_with(bin, jid, server, state, &["--insecure-tcp"])
    }

    /// The same with other flags (`--insecure-tcp` not implied; `--libvirt test:///default`
    /// unless `extra` names a libvirt URI).
    pub fn start_with(bin: &Path, jid: &str, server: &str, state: &Path, extra: &[&str]) -> AgentProc {
        let libvirt: &[&str] = if extra.contains(&"--libvirt") { &[] } else { &["--libvirt", "test:///default"] };
        let mut child = Command::new(bin)
            .args(["--jid", jid, "--password", "hyp-secret", "--server", server])
            .args(extra)
            .args(libvirt)
            .args(["--admin", "admin@localhost", "--state"])
            .arg(state)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start xmpp_agent");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (sink, stderr) = (lines.clone(), child.stderr.take().unwrap());
        let tag = jid.to_string();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[{tag}] {line}");
                sink.lock().unwrap().push(line);
            }
        });
        AgentProc { child, lines }
    }

    /// Waits for a stderr line containing `needle`.
    pub async fn wait_line(&self, needle: &str) -> String {
        let deadline = Instant::now() + T;
        loop {
            if let Some(l) = self.lines.lock().unwrap().iter().find(|l| l.contains(needle)) {
                return l.clone();
            }
            assert!(Instant::now() < deadline, "no {needle:?} in the agent's log: {:?}", self.lines.lock().unwrap());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM, then waits for a clean exit.
    pub fn stop(&mut self) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), nix::sys::signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(status.success(), "agent exited with {status}");
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("agent did not stop on SIGTERM");
    }
}

impl Drop for AgentProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The example binary of this profile, built when missing or older than its sources.
pub fn agent_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let bin = exe.parent().and_then(|d| d.parent()).expect("target/<profile>").join("examples").join("xmpp_agent");
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/xmpp_agent");
    let newest_src = std::fs::read_dir(&src).unwrap().filter_map(|e| e.ok()?.metadata().ok()?.modified().ok()).max();
    let built = std::fs::metadata(&bin).and_then(|m| m.modified()).ok();
    if built.is_none() || built < newest_src {
        let release = bin.ancestors().nth(2).is_some_and(|p| p.ends_with("release"));
        let status = Command::new(option_env!("CARGO").unwrap_or("cargo"))
            .args(["build", "--quiet", "--example", "xmpp_agent"])
            .args(release.then_some("--release"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build --example xmpp_agent");
        assert!(status.success(), "cargo build --example xmpp_agent failed");
    }
    bin
}

/// A client `USER@localhost` (registered in-band), available.
pub async fn client(server: &str, user: &str) -> (Client, UnboundedReceiver<Element>) {
    let opts = ConnectOptions {
        jid: format!("{user}@localhost"),
        password: format!("{user}-secret"),
        server: Some(server.to_string()),
        security: Security::InsecureTcp,
        register: true,
        resource: "test".into(),
        limits: xml::Limits::default(),
    };
    let (c, rx) = xmpp::connect(&opts).await.unwrap_or_else(|e| panic!("{user}: {e}"));
    c.send(&Element::new("presence", NS_CLIENT)).unwrap();
    (c, rx)
}

/// Sends an Archipel command and returns the answer.
pub async fn acp(
    c: &Client,
    to: &str,
    ns: &str,
    action: &str,
    attrs: &[(&str, &str)],
    children: Vec<Element>,
) -> Element {
    let mut archipel = Element::new("archipel", ns).attr("action", action);
    for (k, v) in attrs {
        archipel = archipel.attr(k, *v);
    }
    for ch in children {
        archipel = archipel.child(ch);
    }
    let iq = Element::new("iq", NS_CLIENT)
        .attr("type", "set")
        .attr("to", to)
        .child(Element::new("query", ns).child(archipel));
    c.request(iq, T).await.unwrap_or_else(|e| panic!("{ns} {action} to {to}: {e}"))
}
