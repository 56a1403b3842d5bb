//! Archipel's event pushes (`archipelEntity.push_change`): every entity owns the pubsub node
//! `/archipel/<bare JID>/events` on the pubsub service (XEP-0060) and publishes
//! `<push xmlns='archipel:push:<NS>' change='…' date='…'/>` items there.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::log;
use crate::xml::Element;
use crate::xmpp::{self, Client, NS_CLIENT};

const NS_PUBSUB: &str = "http://jabber.org/protocol/pubsub";

/// The events node of an entity.
pub fn events_node(bare_jid: &str) -> String {
    format!("/archipel/{bare_jid}/events")
}

fn pubsub_iq(service: &str, child: Element) -> Element {
    Element::new("iq", NS_CLIENT)
        .attr("type", "set")
        .attr("to", service)
        .child(Element::new("pubsub", NS_PUBSUB).child(child))
}

/// Creates the node unless it exists (`recover_pubsubs`). A server error (ejabberd answers
/// `internal-server-error` to concurrent creations under load) is retried a few times.
pub async fn ensure_node(client: &Client, service: &str, node: &str) -> Result<(), String> {
    let mut last = String::new();
    for attempt in 0..4u32 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
        }
        let iq = pubsub_iq(service, Element::new("create", NS_PUBSUB).attr("node", node));
        let answer = client.request(iq, Duration::from_secs(10)).await.map_err(|e| e.to_string())?;
        match (answer.get_attr("type"), xmpp::error_condition(&answer).as_str()) {
            (Some("result"), _) | (_, "conflict") => return Ok(()),
            (_, "internal-server-error" | "resource-constraint" | "wait") => last = xmpp::error_condition(&answer),
            (_, other) => return Err(format!("cannot create pubsub node {node} on {service}: {other}")),
        }
    }
    Err(format!("cannot create pubsub node {node} on {service}: {last}"))
}

/// Deletes the node (`remove_pubsubs`, when a VM is freed).
pub async fn delete_node(client: &Client, service: &str, node: &str) {
    let iq = Element::new("iq", NS_CLIENT).attr("type", "set").attr("to", service).child(
        Element::new("pubsub", "http://jabber.org/protocol/pubsub#owner")
            .child(Element::new("delete", "http://jabber.org/protocol/pubsub#owner").attr("node", node)),
    );
    if let Err(e) = client.request(iq, Duration::from_secs(5)).await {
        log!("pubsub: deleting {node}: {e}");
    }
}

/// Publishes a push item (in the background; failures are logged).
pub fn push(client: &Client, service: &str, node: &str, namespace: &str, change: &str) {
    let item =
        Element::new("push", &format!("archipel:push:{namespace}")).attr("change", change).attr("date", now_string());
    let iq = pubsub_iq(
        service,
        Element::new("publish", NS_PUBSUB).attr("node", node).child(Element::new("item", NS_PUBSUB).child(item)),
    );
    let (client, node) = (client.clone(), node.to_string());
    tokio::spawn(async move {
        match client.request(iq, Duration::from_secs(10)).await {
            Ok(a) if a.get_attr("type") == Some("result") => {}
            Ok(a) => log!("pubsub: publishing on {node}: {}", xmpp::error_condition(&a)),
            Err(e) => log!("pubsub: publishing on {node}: {e}"),
        }
    });
}

/// `YYYY-MM-DD HH:MM:SS.ffffff` in UTC (Archipel writes Python's `str(datetime.now())`).
fn now_string() -> String {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let (days, secs) = ((d.as_secs() / 86_400) as i64, d.as_secs() % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{:06}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        d.subsec_micros()
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn date_looks_like_pythons() {
        let s = super::now_string();
        assert_eq!(s.len(), 26, "{s}");
        assert!(s.starts_with("20") && &s[4..5] == "-" && &s[10..11] == " " && &s[19..20] == ".", "{s}");
    }
}
