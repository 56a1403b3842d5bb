//! Writing feeds: RSS 2.0 Archipel reads, everything escaped, extensions in [`NAMESPACE`].

use super::{Feed, FeedError, NAMESPACE, PREFIX};

fn esc(s: &str, out: &mut String) -> Result<(), FeedError> {
    if s.chars().any(|c| !kvmhost_core::xml::is_xml_char(c)) {
        return Err(FeedError::Unwritable(s.to_string()));
    }
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    Ok(())
}

fn element(out: &mut String, indent: &str, name: &str, value: &str) -> Result<(), FeedError> {
    out.push_str(indent);
    out.push('<');
    out.push_str(name);
    out.push('>');
    esc(value, out)?;
    out.push_str("</");
    out.push_str(name);
    out.push_str(">\n");
    Ok(())
}

/// Writes `feed` as an RSS 2.0 document.
///
/// ```
/// use kvmhost_templates::feed::{parse, write, Feed};
/// let mut feed = Feed::default();
/// feed.title = "<Tom & Jerry>".into();
/// let xml = write(&feed).unwrap();
/// assert!(xml.contains("<title>&lt;Tom &amp; Jerry&gt;</title>"));
/// assert_eq!(parse(xml.as_bytes(), &Default::default()).unwrap().title, "<Tom & Jerry>");
/// ```
pub fn write(feed: &Feed) -> Result<String, FeedError> {
    let mut o = String::with_capacity(1024 + feed.items.len() * 700);
    o.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    o.push_str(&format!("<rss version=\"2.0\" xmlns:{PREFIX}=\"{NAMESPACE}\">\n  <channel>\n"));
    element(&mut o, "    ", "title", &feed.title)?;
    element(&mut o, "    ", "link", &feed.link)?;
    if let Some(u) = &feed.uuid {
        element(&mut o, "    ", "uuid", u)?;
    }
    element(&mut o, "    ", "description", &feed.description)?;
    if let Some(l) = &feed.language {
        element(&mut o, "    ", "language", l)?;
    }
    for it in &feed.items {
        let i = "      ";
        o.push_str("    <item>\n");
        element(&mut o, i, "title", &it.title)?;
        element(&mut o, i, "link", &it.link)?;
        element(&mut o, i, "uuid", &it.uuid)?;
        o.push_str(i);
        o.push_str("<enclosure url=\"");
        esc(&it.enclosure.url, &mut o)?;
        o.push_str(&format!("\" length=\"{}\" type=\"", it.enclosure.length));
        esc(&it.enclosure.mime, &mut o)?;
        o.push_str("\"/>\n");
        element(&mut o, i, "description", &it.description)?;
        if let Some(d) = &it.pub_date {
            element(&mut o, i, "pubDate", d)?;
        }
        if let Some(h) = &it.sha256 {
            element(&mut o, i, &format!("{PREFIX}:sha256"), h)?;
        }
        element(&mut o, i, &format!("{PREFIX}:size"), &it.enclosure.length.to_string())?;
        if let Some(f) = &it.format {
            element(&mut o, i, &format!("{PREFIX}:format"), &f.to_string())?;
        }
        if let Some(k) = &it.key_id {
            element(&mut o, i, &format!("{PREFIX}:key"), k)?;
        }
        o.push_str("    </item>\n");
    }
    o.push_str("  </channel>\n</rss>\n");
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::{parse, Enclosure, Item};

    #[test]
    fn written_feeds_read_back_identically() {
        let mut feed = Feed { title: "t".into(), link: "http://h/".into(), uuid: Some("u".into()), ..Feed::default() };
        feed.language = Some("en".into());
        let mut it = Item {
            title: "a <b> & 'c'".into(),
            link: "http://h/".into(),
            uuid: "1".into(),
            enclosure: Enclosure { url: "http://h/a b.vmcast?x=1&y=2".into(), length: 42, mime: "m".into() },
            description: "]]> & <![CDATA[".into(),
            pub_date: Some(crate::date::rfc822(1_478_512_290)),
            published: Some(1_478_512_290),
            sha256: Some("ab".repeat(32)),
            format: Some(crate::Format::Native),
            key_id: Some("0123456789ABCDEF".into()),
        };
        feed.items.push(it.clone());
        it.uuid = "2".into();
        it.sha256 = None;
        it.format = None;
        it.key_id = None;
        feed.items.push(it);
        let back = parse(write(&feed).unwrap().as_bytes(), &Default::default()).unwrap();
        assert_eq!(back, feed);
        feed.title = "\u{1}".into();
        assert!(matches!(write(&feed), Err(FeedError::Unwritable(_))));
    }
}
