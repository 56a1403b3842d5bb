//! Reading feeds: one streaming pass over quick-xml events, bounded depth, no recursion.

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

use super::{Feed, FeedError, Item, NAMESPACE};
use crate::Limits;

/// Deepest element nesting accepted.
const MAX_DEPTH: usize = 64;

/// Replaces each `&` that does not start a character or entity reference with `&amp;`, outside
/// CDATA sections and comments (Archipel's writer did not escape): linear time.
fn repair_ampersands(src: &str) -> std::borrow::Cow<'_, str> {
    if !src.contains('&') {
        return src.into();
    }
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len() + 16);
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        let skip_to = |open: &str, close: &str| -> Option<usize> {
            if src[i..].starts_with(open) {
                Some(src[i..].find(close).map(|p| i + p + close.len()).unwrap_or(b.len()))
            } else {
                None
            }
        };
        if let Some(end) = skip_to("<![CDATA[", "]]>").or_else(|| skip_to("<!--", "-->")) {
            i = end;
            continue;
        }
        if b[i] == b'&' && !is_reference(&b[i + 1..]) {
            out.push_str(&src[copied..i]);
            out.push_str("&amp;");
            copied = i + 1;
        }
        i += 1;
    }
    out.push_str(&src[copied..]);
    out.into()
}

/// `name;`, `#digits;` or `#xhex;` within 32 bytes.
fn is_reference(rest: &[u8]) -> bool {
    let end = match rest.iter().take(33).position(|&c| c == b';') {
        Some(e) if e > 0 => e,
        _ => return false,
    };
    let r = &rest[..end];
    if let Some(num) = r.strip_prefix(b"#x") {
        return !num.is_empty() && num.iter().all(u8::is_ascii_hexdigit);
    }
    if let Some(num) = r.strip_prefix(b"#") {
        return !num.is_empty() && num.iter().all(u8::is_ascii_digit);
    }
    (r[0].is_ascii_alphabetic() || r[0] == b'_') && r.iter().all(|&c| c.is_ascii_alphanumeric() || b"._-".contains(&c))
}

fn entity(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => return None,
    })
}

/// Which field an element is, by its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    ChannelTitle,
    ChannelLink,
    ChannelUuid,
    ChannelDescription,
    ChannelLanguage,
    Title,
    Link,
    Uuid,
    Description,
    PubDate,
    Sha256,
    Size,
    Format,
    Key,
}

#[derive(Default)]
struct RawItem {
    item: Item,
    has_enclosure: bool,
    size: Option<String>,
    length: Option<String>,
    format: Option<String>,
}

fn xml_err(r: &NsReader<&[u8]>, e: impl std::fmt::Display) -> FeedError {
    FeedError::Xml { position: r.buffer_position(), message: e.to_string() }
}

/// Parses a feed document (UTF-8).
pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Feed, FeedError> {
    if bytes.len() as u64 > limits.max_feed_bytes {
        return Err(FeedError::Limit(format!("document over {} bytes", limits.max_feed_bytes)));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|e| FeedError::Xml { position: e.valid_up_to() as u64, message: "not UTF-8".into() })?;
    let text = repair_ampersands(text);
    let mut r = NsReader::from_str(&text);
    r.config_mut().check_end_names = true;
    // Path of (namespace is ours, local name) from the root.
    let mut path: Vec<(bool, String)> = Vec::new();
    let mut feed = Feed::default();
    let mut saw_rss = false;
    let mut saw_channel = false;
    let mut items: Vec<RawItem> = Vec::new();
    let mut current: Option<RawItem> = None;
    let mut field: Option<Field> = None;
    let mut buf = String::new();

    loop {
        let (ours, ev) = match r.read_resolved_event() {
            Ok((ns, ev)) => (matches!(ns, ResolveResult::Bound(n) if n.as_ref() == NAMESPACE.as_bytes()), ev),
            Err(e) => return Err(xml_err(&r, e)),
        };
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(ev, Event::Empty(_));
                let local = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if path.len() >= MAX_DEPTH {
                    return Err(FeedError::Limit(format!("elements nested deeper than {MAX_DEPTH}")));
                }
                path.push((ours, local));
                let names: Vec<(&str, bool)> = path.iter().map(|(o, n)| (n.as_str(), *o)).collect();
                match names.as_slice() {
                    [("rss", false)] => saw_rss = true,
                    [("rss", false), ("channel", false)] => saw_channel = true,
                    [("rss", false), ("channel", false), ("item", false)] => {
                        if items.len() as u64 >= limits.max_feed_items {
                            return Err(FeedError::Limit(format!("more than {} items", limits.max_feed_items)));
                        }
                        current = Some(RawItem::default());
                    }
                    [("rss", false), ("channel", false), ("item", false), ("enclosure", false)] => {
                        let it = current.as_mut().expect("inside an item");
                        read_enclosure(&r, e, it)?;
                    }
                    _ => {}
                }
                field = field_of(&names);
                buf.clear();
                if empty {
                    finish_element(&mut path, &mut field, &mut buf, &mut feed, &mut current, &mut items);
                }
            }
            Event::Text(t) if field.is_some() => buf.push_str(&t.decode().map_err(|e| xml_err(&r, e))?),
            Event::GeneralRef(g) if field.is_some() => {
                let name = g.decode().map_err(|e| xml_err(&r, e))?;
                match g.resolve_char_ref().map_err(|e| xml_err(&r, e))? {
                    Some(c) => buf.push(c),
                    None => match entity(&name) {
                        Some(c) => buf.push(c),
                        None => {
                            buf.push('&');
                            buf.push_str(&name);
                            buf.push(';');
                        }
                    },
                }
            }
            Event::CData(c) if field.is_some() => buf.push_str(&String::from_utf8_lossy(&c)),
            Event::End(_) => finish_element(&mut path, &mut field, &mut buf, &mut feed, &mut current, &mut items),
            Event::Eof => {
                if let Some((_, open)) = path.last() {
                    return Err(FeedError::Xml {
                        position: r.buffer_position(),
                        message: format!("<{open}> is not closed"),
                    });
                }
                break;
            }
            _ => {}
        }
    }
    if !saw_rss {
        return Err(FeedError::NotRss("no <rss> root element".into()));
    }
    if !saw_channel {
        return Err(FeedError::NotRss("no <channel>".into()));
    }
    for (index, raw) in items.into_iter().enumerate() {
        feed.items.push(check_item(index, raw)?);
    }
    Ok(feed)
}

fn field_of(names: &[(&str, bool)]) -> Option<Field> {
    use Field::*;
    Some(match names {
        [("rss", false), ("channel", false), (n, false)] => match *n {
            "title" => ChannelTitle,
            "link" => ChannelLink,
            "uuid" => ChannelUuid,
            "description" => ChannelDescription,
            "language" => ChannelLanguage,
            _ => return None,
        },
        [("rss", false), ("channel", false), ("item", false), (n, ours)] => match (*n, *ours) {
            ("title", false) => Title,
            ("link", false) => Link,
            ("uuid", false) => Uuid,
            ("description", false) => Description,
            ("pubDate", false) => PubDate,
            ("sha256", true) => Sha256,
            ("size", true) => Size,
            ("format", true) => Format,
            ("key", true) => Key,
            _ => return None,
        },
        _ => return None,
    })
}

fn finish_element(
    path: &mut Vec<(bool, String)>,
    field: &mut Option<Field>,
    buf: &mut String,
    feed: &mut Feed,
    current: &mut Option<RawItem>,
    items: &mut Vec<RawItem>,
) {
    if let Some(f) = field.take() {
        let v = buf.trim().to_string();
        let it = current.as_mut();
        match (f, it) {
            (Field::ChannelTitle, _) => feed.title = v,
            (Field::ChannelLink, _) => feed.link = v,
            (Field::ChannelUuid, _) => feed.uuid = Some(v),
            (Field::ChannelDescription, _) => feed.description = v,
            (Field::ChannelLanguage, _) => feed.language = Some(v),
            (Field::Title, Some(i)) => i.item.title = v,
            (Field::Link, Some(i)) => i.item.link = v,
            (Field::Uuid, Some(i)) => i.item.uuid = v,
            (Field::Description, Some(i)) => i.item.description = v,
            (Field::PubDate, Some(i)) => i.item.pub_date = Some(v),
            (Field::Sha256, Some(i)) => i.item.sha256 = Some(v.to_ascii_lowercase()),
            (Field::Size, Some(i)) => i.size = Some(v),
            (Field::Format, Some(i)) => i.format = Some(v),
            (Field::Key, Some(i)) => i.item.key_id = Some(v),
            _ => {}
        }
    }
    buf.clear();
    if path.len() == 3 && path[2].1 == "item" && !path[2].0 {
        if let Some(it) = current.take() {
            items.push(it);
        }
    }
    path.pop();
}

fn read_enclosure(r: &NsReader<&[u8]>, e: &BytesStart<'_>, it: &mut RawItem) -> Result<(), FeedError> {
    it.has_enclosure = true;
    for a in e.attributes() {
        let a = a.map_err(|err| xml_err(r, err))?;
        let v = a.unescape_value().map_err(|err| xml_err(r, err))?.into_owned();
        match a.key.as_ref() {
            b"url" => it.item.enclosure.url = v.trim().to_string(),
            b"length" => it.length = Some(v),
            b"type" => it.item.enclosure.mime = v,
            _ => {}
        }
    }
    Ok(())
}

fn check_item(index: usize, raw: RawItem) -> Result<Item, FeedError> {
    let mut item = raw.item;
    let missing = |field| FeedError::Missing { index, title: item.title.clone(), field };
    if !raw.has_enclosure || item.enclosure.url.is_empty() {
        return Err(missing("enclosure url"));
    }
    if item.uuid.is_empty() {
        return Err(missing("uuid"));
    }
    let length = raw.length.ok_or_else(|| missing("enclosure length"))?;
    item.enclosure.length = length.trim().parse().map_err(|_| FeedError::BadValue {
        index,
        field: "enclosure length",
        value: length.clone(),
    })?;
    if let Some(s) = raw.size {
        let size: u64 =
            s.parse().map_err(|_| FeedError::BadValue { index, field: "kvmhost:size", value: s.clone() })?;
        if size != item.enclosure.length {
            return Err(FeedError::BadValue {
                index,
                field: "kvmhost:size (differs from the enclosure length)",
                value: s,
            });
        }
    }
    if let Some(h) = &item.sha256 {
        if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(FeedError::BadValue { index, field: "kvmhost:sha256", value: h.clone() });
        }
    }
    if let Some(f) = raw.format {
        item.format = Some(f.parse().map_err(|_| FeedError::BadValue { index, field: "kvmhost:format", value: f })?);
    }
    item.published = item.pub_date.as_deref().and_then(crate::date::parse);
    Ok(item)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ampersands_are_repaired_outside_cdata_only() {
        assert_eq!(repair_ampersands("a & b &amp; &#65; &#x41; &x"), "a &amp; b &amp; &#65; &#x41; &amp;x");
        assert_eq!(repair_ampersands("<![CDATA[a & b]]> & <!-- & -->"), "<![CDATA[a & b]]> &amp; <!-- & -->");
    }

    #[test]
    fn malformed_feeds_are_typed_errors() {
        let l = Limits::default();
        assert!(matches!(parse(b"<rss><channel><item>", &l), Err(FeedError::Xml { .. })));
        assert!(matches!(parse(b"<html/>", &l), Err(FeedError::NotRss(_))));
        assert!(matches!(parse(b"<rss version='2.0'/>", &l), Err(FeedError::NotRss(_))));
        let no_url = b"<rss><channel><item><uuid>u</uuid><enclosure length='1'/></item></channel></rss>";
        assert!(matches!(parse(no_url, &l), Err(FeedError::Missing { field: "enclosure url", .. })));
        let bad_len = b"<rss><channel><item><uuid>u</uuid><enclosure url='x' length='-1'/></item></channel></rss>";
        assert!(matches!(parse(bad_len, &l), Err(FeedError::BadValue { .. })));
        let deep = format!("<rss>{}</rss>", "<a>".repeat(100) + &"</a>".repeat(100));
        assert!(matches!(parse(deep.as_bytes(), &l), Err(FeedError::Limit(_))));
        let small = Limits { max_feed_items: 1, ..Limits::default() };
        let two = b"<rss><channel><item><uuid>a</uuid><enclosure url='x' length='1'/></item>\
                    <item><uuid>b</uuid><enclosure url='x' length='1'/></item></channel></rss>";
        assert!(matches!(parse(two, &small), Err(FeedError::Limit(_))));
        assert!(matches!(parse(&[0xff, 0xfe], &l), Err(FeedError::Xml { .. })));
    }
}
