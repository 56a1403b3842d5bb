//! Archipel's command envelope ("ACP"): `<iq type='get|set'><query xmlns=NS><archipel
//! action=ACTION …/></query></iq>`, its result (payload inside `<query>`) and its error
//! (`archipelcore.utils.build_error_iq`): the request's query echoed back, then
//! `<error type='cancel' code=CODE><NS-with-dashes xmlns=NS/><text>MESSAGE\n\nQUERY_NS\nACTION</text></error>`.

use crate::xml::Element;
use crate::xmpp::NS_CLIENT;

/// `archipel:error:generic`: everything that is not a permission refusal nor libvirt's.
pub const NS_ERROR_GENERIC: &str = "archipel:error:generic";
/// `archipel:error:permission`: a refusal.
pub const NS_ERROR_PERMISSION: &str = "archipel:error:permission";
/// `libvirt:error:generic`: libvirt refused (the code is libvirt's error number).
pub const NS_ERROR_LIBVIRT: &str = "libvirt:error:generic";
/// Archipel's code for a query that is not an ACP.
pub const CODE_NOT_WELL_FORMED: i64 = -42;

/// A parsed command.
#[derive(Debug, Clone)]
pub struct Request {
    /// The whole iq.
    pub iq: Element,
    /// The sender's full JID.
    pub from: String,
    /// The query namespace.
    pub ns: String,
    /// `action`.
    pub action: String,
}

impl Request {
    /// The `<archipel>` element.
    pub fn archipel(&self) -> &Element {
        self.iq.get_child("query").and_then(|q| q.get_child("archipel")).expect("checked by parse")
    }

    /// An attribute of `<archipel>`.
    pub fn arg(&self, name: &str) -> Option<&str> {
        self.archipel().get_attr(name)
    }

    /// A required attribute of `<archipel>`.
    pub fn required(&self, name: &str) -> Result<&str, Failure> {
        self.arg(name).ok_or_else(|| Failure::generic(-1, format!("missing attribute '{name}'")))
    }

    /// The sender's bare JID.
    pub fn sender(&self) -> &str {
        crate::xmpp::bare(&self.from)
    }
}

/// Why a command failed, as Archipel reports it.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The `code` attribute (Archipel's negative codes, or libvirt's error number).
    pub code: i64,
    /// The error namespace.
    pub ns: &'static str,
    /// The message.
    pub message: String,
}

impl Failure {
    /// An `archipel:error:generic` failure.
    pub fn generic(code: i64, message: impl Into<String>) -> Failure {
        Failure { code, ns: NS_ERROR_GENERIC, message: message.into() }
    }

    /// A permission refusal (`check_perm`: code -1).
    pub fn permission(action: &str) -> Failure {
        Failure { code: -1, ns: NS_ERROR_PERMISSION, message: format!("Cannot use '{action}': permission denied") }
    }

    /// A libvirt error; `fallback` is the action's Archipel code for errors that did not come
    /// from libvirt.
    pub fn libvirt(e: &kvmhost::libvirt::LibvirtError, fallback: i64) -> Failure {
        use kvmhost::libvirt::LibvirtError as E;
        // libvirt's virErrorNumber for the kinds the typed error keeps (kvmhost-libvirt does
        // not expose the raw number).
        let code = match e {
            E::NoSuchDomain { .. } => 42,
            E::OperationInvalid { .. } => 55,
            E::InvalidXml { .. } => 27,
            E::InvalidArgument { .. } => 8,
            E::NotSupported { .. } => 3,
            E::AlreadyExists { .. } => 9,
            E::AccessDenied { .. } => 88,
            E::Connect { .. } | E::ConnectionLost { .. } => 38,
            E::Other { code, .. } => i64::from(*code),
            _ => return Failure::generic(fallback, e.to_string()),
        };
        Failure { code, ns: NS_ERROR_LIBVIRT, message: e.message() }
    }
}

/// Parses an iq addressed to a handled namespace; a query without `<archipel action=…>` is
/// answered with Archipel's "not well formed" error.
pub fn parse(iq: &Element) -> Result<Request, Element> {
    let query = iq.get_child("query");
    let ns = query.map(|q| q.ns.clone()).unwrap_or_default();
    let action = query.and_then(|q| q.get_child("archipel")).and_then(|a| a.get_attr("action"));
    match action {
        Some(action) if !action.is_empty() => Ok(Request {
            iq: iq.clone(),
            from: iq.get_attr("from").unwrap_or_default().to_string(),
            ns,
            action: action.to_string(),
        }),
        _ => Err(error_iq(
            iq,
            &Failure::generic(CODE_NOT_WELL_FORMED, "the query is not an Archipel command (no <archipel action=…>)"),
        )),
    }
}

fn reply(iq: &Element, kind: &str) -> Element {
    let mut r = Element::new("iq", NS_CLIENT).attr("type", kind);
    if let Some(id) = iq.get_attr("id") {
        r.set_attr("id", id);
    }
    if let Some(from) = iq.get_attr("from") {
        r.set_attr("to", from);
    }
    r
}

/// `<iq type='result'>` with `payload` inside `<query xmlns=NS>`.
pub fn result(req: &Request, payload: Vec<Element>) -> Element {
    let mut query = Element::new("query", &req.ns);
    for mut p in payload {
        // Children built without a namespace inherit the query's, as in Archipel's replies.
        if p.ns.is_empty() {
            p.rebase_ns("", &req.ns);
        }
        query = query.child(p);
    }
    reply(&req.iq, "result").child(query)
}

/// Archipel's error reply for `iq`.
pub fn error_iq(iq: &Element, failure: &Failure) -> Element {
    let query = iq.get_child("query");
    let origin = query.map(|q| q.ns.as_str()).unwrap_or_default();
    let action = query.and_then(|q| q.get_child("archipel")).and_then(|a| a.get_attr("action"));
    let text = match action {
        Some(action) => format!("{}\n\n{origin}\n{action}", failure.message),
        None => failure.message.clone(),
    };
    let mut r = reply(iq, "error");
    if let Some(q) = query {
        r = r.child(q.clone());
    }
    r.child(
        Element::new("error", NS_CLIENT)
            .attr("code", failure.code.to_string())
            .attr("type", "cancel")
            .child(Element::new(&failure.ns.replace(':', "-"), failure.ns))
            .child(Element::new("text", NS_CLIENT).text(text)),
    )
}

/// A plain XMPP error (`service-unavailable`, …) for iqs nobody handles.
pub fn xmpp_error(iq: &Element, kind: &str, condition: &str) -> Element {
    reply(iq, "error").child(
        Element::new("error", NS_CLIENT)
            .attr("type", kind)
            .child(Element::new(condition, "urn:ietf:params:xml:ns:xmpp-stanzas")),
    )
}

/// An empty `<iq type='result'>` (pings).
pub fn empty_result(iq: &Element) -> Element {
    reply(iq, "result")
}
