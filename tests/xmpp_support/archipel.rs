//! Archipel answers and events as the tests check them: results, Archipel's error format,
//! permission refusals, `<info>` attributes, presences and pubsub pushes awaited in order.

use std::time::Instant;

use tokio::sync::mpsc::UnboundedReceiver;

use super::T;
use crate::xml::Element;
use crate::xmpp::{self, Client, NS_CLIENT};

/// `archipel:hypervisor:control`.
pub const HYP: &str = "archipel:hypervisor:control";
/// `archipel:vm:control`.
pub const CONTROL: &str = "archipel:vm:control";
/// `archipel:vm:definition`.
pub const DEFINITION: &str = "archipel:vm:definition";
/// `archipel:permissions`.
pub const PERMISSIONS: &str = "archipel:permissions";

/// The `<query>` of a result (panics with the stanza otherwise).
pub fn ok(answer: &Element) -> Element {
    assert_eq!(answer.get_attr("type"), Some("result"), "expected a result: {answer}");
    answer.get_child("query").cloned().unwrap_or_default()
}

/// Asserts Archipel's error format; returns (code, error namespace, text).
pub fn archipel_error(answer: &Element) -> (String, String, String) {
    assert_eq!(answer.get_attr("type"), Some("error"), "expected an error: {answer}");
    let query = answer.get_child("query").unwrap_or_else(|| panic!("the query is not echoed: {answer}"));
    assert!(query.get_child("archipel").is_some(), "{answer}");
    let error = answer.get_child("error").unwrap();
    assert_eq!(error.get_attr("type"), Some("cancel"), "{answer}");
    let cond = error.elements().find(|e| e.name != "text").unwrap_or_else(|| panic!("no condition: {answer}"));
    assert_eq!(cond.name, cond.ns.replace(':', "-"), "condition named after its namespace: {answer}");
    let text = error.get_child("text").map(|t| t.text_content()).unwrap_or_default();
    (error.get_attr("code").unwrap_or_default().to_string(), cond.ns.clone(), text)
}

pub fn refused(answer: &Element, action: &str, ns: &str) {
    let (code, err_ns, text) = archipel_error(answer);
    assert_eq!(code, "-1", "{answer}");
    assert_eq!(err_ns, "archipel:error:permission", "{answer}");
    assert_eq!(text, format!("Cannot use '{action}': permission denied\n\n{ns}\n{action}"), "{answer}");
}

pub fn info_attr(answer: &Element, name: &str) -> String {
    let q = ok(answer);
    let info = q.get_child("info").unwrap_or_else(|| panic!("no <info>: {answer}"));
    info.get_attr(name).unwrap_or_else(|| panic!("no {name}: {answer}")).to_string()
}

/// A client's incoming stanzas: presences are awaited in order (others dropped), messages
/// (pubsub notifications) kept until a wait asks for them.
pub struct Inbox {
    /// The client's stanzas.
    pub rx: UnboundedReceiver<Element>,
    /// Messages kept for a later wait.
    pub messages: Vec<Element>,
}

impl Inbox {
    pub async fn next(&mut self, deadline: Instant, what: &str) -> Element {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, self.rx.recv()).await {
            Ok(Some(s)) => s,
            Ok(None) => panic!("connection closed waiting for {what}"),
            Err(_) => panic!("timed out waiting for {what}; kept messages: {:?}", self.messages),
        }
    }

    pub async fn wait_presence(&mut self, from: &str, status: &str) {
        let deadline = Instant::now() + T;
        let what = format!("presence {status:?} from {from}");
        loop {
            let p = self.next(deadline, &what).await;
            match p.name.as_str() {
                "presence" => {
                    // A full JID must match exactly (which agent serves the VM), a bare one any resource.
                    let full = p.get_attr("from").unwrap_or_default();
                    let who = if from.contains('/') { full } else { xmpp::bare(full) };
                    let st = p.get_child("status").map(|s| s.text_content()).unwrap_or_default();
                    if who == from && st == status && p.get_attr("type").is_none() {
                        return;
                    }
                }
                "message" => self.messages.push(p),
                _ => {}
            }
        }
    }

    pub async fn wait_presence_type(&mut self, from: &str, kind: &str) {
        let deadline = Instant::now() + T;
        let mut what = format!("presence type {kind} from {from}; seen:");
        loop {
            let p = self.next(deadline, &what).await;
            what.push_str(&format!(" {p}"));
            if p.name == "presence"
                && p.get_attr("type") == Some(kind)
                && p.get_attr("from").map(xmpp::bare) == Some(from)
            {
                return;
            }
        }
    }

    /// Waits for an Archipel push on `node`; returns its `date`.
    pub async fn wait_push(&mut self, node: &str, namespace: &str, change: &str) -> String {
        let matches = |m: &Element| -> Option<String> {
            let items = m.get_child("event")?.get_child("items")?;
            if items.get_attr("node") != Some(node) {
                return None;
            }
            let push = items.get_child("item")?.get_child("push")?;
            (push.ns == format!("archipel:push:{namespace}") && push.get_attr("change") == Some(change))
                .then(|| push.get_attr("date").unwrap_or_default().to_string())
        };
        if let Some(i) = self.messages.iter().position(|m| matches(m).is_some()) {
            return matches(&self.messages.remove(i)).unwrap();
        }
        let deadline = Instant::now() + T;
        let what = format!("push {namespace} {change} on {node}");
        loop {
            let m = self.next(deadline, &what).await;
            if m.name == "message" {
                match matches(&m) {
                    Some(date) => return date,
                    None => self.messages.push(m),
                }
            }
        }
    }
}

pub async fn subscribe_node(c: &Client, node: &str) {
    let iq = Element::new("iq", NS_CLIENT).attr("type", "set").attr("to", "pubsub.localhost").child(
        Element::new("pubsub", "http://jabber.org/protocol/pubsub").child(
            Element::new("subscribe", "http://jabber.org/protocol/pubsub")
                .attr("node", node)
                .attr("jid", c.jid.as_str()),
        ),
    );
    let answer = c.request(iq, T).await.unwrap();
    assert_eq!(answer.get_attr("type"), Some("result"), "subscribing to {node}: {answer}");
}

pub fn grant(user: &str, perm: &str, value: &str) -> Element {
    Element::new("permission", PERMISSIONS)
        .attr("permission_type", "user")
        .attr("permission_target", user)
        .attr("permission_name", perm)
        .attr("permission_value", value)
}
