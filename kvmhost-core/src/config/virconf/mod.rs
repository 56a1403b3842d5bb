//! libvirt's configuration syntax (`src/util/virconf.c`), parsed losslessly.
//!
//! A file is a sequence of statements `name = value`, separated by line ends or `;`; `#` starts
//! a comment (a whole line, or after a value). Names start with an ASCII letter and go on with
//! letters, digits and `_`. Values are integers (`[+-]digits`), strings (`"..."` or `'...'` on
//! one line, or `"""..."""` over several, without escapes) and lists `[ v, v, ]` that may span
//! lines (no comments inside). The first statement of a name is the one libvirt uses.
//!
//! Differences from libvirt, all stricter or harmless: integers that overflow 64 bits and lists
//! nested more than [`MAX_DEPTH`] deep are errors (libvirt wraps, or recurses without bound);
//! a file holding only blank lines parses (libvirt reports "expecting a name").

mod parser;

use super::{insert_line, line_bounds, line_col, remove_lines, ConfigError, Result};
use parser::Parser;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;

/// Deepest nesting of lists accepted.
pub const MAX_DEPTH: usize = 32;

/// A value in libvirt's configuration syntax.
///
/// ```
/// use kvmhost_core::config::Value;
/// assert_eq!(Value::from("0.0.0.0").to_string(), "\"0.0.0.0\"");
/// assert_eq!(Value::Int(-3).to_string(), "-3");
/// let l = Value::List(vec!["a".into(), "it's".into()]);
/// assert_eq!(l.to_string(), "[ \"a\", \"it's\" ]");
/// assert_eq!(Value::from("say \"hi\"").to_string(), "'say \"hi\"'");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Value {
    /// An integer (libvirt's `long long` / `unsigned long long`; booleans are 0 and 1).
    Int(i64),
    /// A string.
    String(String),
    /// A list of values.
    List(Vec<Value>),
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_string())
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Int(i64::from(b))
    }
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Int(_) => "an integer",
            Value::String(_) => "a string",
            Value::List(_) => "a list",
        }
    }

    /// Writes the value; `quote` is the quote to prefer for a string (`'` or `"`).
    fn render(&self, quote: u8, out: &mut String) -> std::result::Result<(), String> {
        match self {
            Value::Int(i) => out.push_str(&i.to_string()),
            Value::String(s) => {
                let multi = s.contains('\n') || s.contains('\r');
                if !multi && quote == b'\'' && !s.contains('\'') {
                    out.push('\'');
                    out.push_str(s);
                    out.push('\'');
                } else if !multi && !s.contains('"') {
                    out.push('"');
                    out.push_str(s);
                    out.push('"');
                } else if !multi && !s.contains('\'') {
                    out.push('\'');
                    out.push_str(s);
                    out.push('\'');
                } else if !s.contains("\"\"\"") && !s.ends_with('"') {
                    out.push_str("\"\"\"");
                    out.push_str(s);
                    out.push_str("\"\"\"");
                } else {
                    return Err("no quoting of libvirt's syntax can carry this string".into());
                }
            }
            Value::List(items) => {
                out.push_str("[ ");
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    v.render(quote, out)?;
                }
                out.push_str(" ]");
            }
        }
        Ok(())
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        match self.render(b'"', &mut s) {
            Ok(()) => f.write_str(&s),
            Err(_) => write!(f, "{self:?}"),
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    name: String,
    value: Value,
    start: usize,
    value_start: usize,
    value_end: usize,
    quote: u8,
}

/// A libvirt configuration file: its exact text and the statements in it.
///
/// ```
/// use kvmhost_core::config::{Value, Virconf};
/// let text = "# qemu.conf\n#vnc_listen = \"0.0.0.0\"\nsecurity_driver = [ \"selinux\",\n   \"apparmor\" ]\n";
/// let mut c = Virconf::parse(text).unwrap();
/// assert_eq!(c.get_str_list("security_driver").unwrap().unwrap(), ["selinux", "apparmor"]);
/// assert!(c.set("vnc_listen", Value::from("0.0.0.0")).unwrap());
/// assert!(c.text().contains("\nvnc_listen = \"0.0.0.0\"\n"));
/// assert!(!c.set("vnc_listen", Value::from("0.0.0.0")).unwrap(), "a second set changes nothing");
/// ```
#[derive(Debug, Clone)]
pub struct Virconf {
    origin: String,
    text: String,
    entries: Vec<Entry>,
}

impl Virconf {
    /// Parses text held in memory (errors name `<memory>`).
    pub fn parse(text: &str) -> Result<Virconf> {
        Virconf::parse_named("<memory>", text)
    }

    /// Parses `text`, naming `origin` (usually its path) in errors.
    pub fn parse_named(origin: &str, text: &str) -> Result<Virconf> {
        let entries = Parser { origin, text, b: text.as_bytes(), i: 0 }.statements()?;
        Ok(Virconf { origin: origin.to_string(), text: text.to_string(), entries })
    }

    /// Reads and parses a file; `Ok(None)` when it does not exist.
    pub fn load(path: impl AsRef<Path>) -> Result<Option<Virconf>> {
        let path = path.as_ref();
        match super::read_text(path)? {
            Some(t) => Virconf::parse_named(&path.display().to_string(), &t).map(Some),
            None => Ok(None),
        }
    }

    /// The document's text, with every edit made so far.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The name errors give the document.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The names set in the document, in order (a name set twice appears twice).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.name.as_str())
    }

    fn entry(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name == key)
    }

    /// The value libvirt uses for `key` (its first statement), if set.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entry(key).map(|e| &e.value)
    }

    /// 1-based line and column where `key`'s value starts.
    ///
    /// ```
    /// let c = kvmhost_core::config::Virconf::parse("\n  a = 1").unwrap();
    /// assert_eq!(c.position("a"), Some((2, 7)));
    /// ```
    pub fn position(&self, key: &str) -> Option<(usize, usize)> {
        self.entry(key).map(|e| line_col(&self.text, e.value_start))
    }

    fn type_error(&self, e: &Entry, expected: &'static str) -> ConfigError {
        let (line, column) = line_col(&self.text, e.value_start);
        let found = match &e.value {
            Value::Int(i) => format!("the integer {i}"),
            other => other.kind().to_string(),
        };
        ConfigError::Type { file: self.origin.clone(), key: e.name.clone(), line, column, expected, found }
    }

    /// A string setting (libvirt's `virConfGetValueString`).
    ///
    /// ```
    /// let c = kvmhost_core::config::Virconf::parse("a = 'x'\nb = 2").unwrap();
    /// assert_eq!(c.get_str("a").unwrap(), Some("x"));
    /// assert_eq!(c.get_str("b").unwrap_err().to_string(), "<memory>:2:5: b: expected a string, found the integer 2");
    /// ```
    pub fn get_str(&self, key: &str) -> Result<Option<&str>> {
        let Some(e) = self.entry(key) else { return Ok(None) };
        match &e.value {
            Value::String(s) => Ok(Some(s)),
            _ => Err(self.type_error(e, "a string")),
        }
    }

    /// A boolean setting: the integer 0 or 1 (libvirt's `virConfGetValueBool`).
    ///
    /// ```
    /// let c = kvmhost_core::config::Virconf::parse("a = 1\nb = 2").unwrap();
    /// assert_eq!(c.get_bool("a").unwrap(), Some(true));
    /// assert!(c.get_bool("b").is_err());
    /// ```
    pub fn get_bool(&self, key: &str) -> Result<Option<bool>> {
        let Some(e) = self.entry(key) else { return Ok(None) };
        match &e.value {
            Value::Int(0) => Ok(Some(false)),
            Value::Int(1) => Ok(Some(true)),
            _ => Err(self.type_error(e, "0 or 1")),
        }
    }

    /// An unsigned 32-bit setting (libvirt's `virConfGetValueUInt`).
    ///
    /// ```
    /// let c = kvmhost_core::config::Virconf::parse("max_clients = 200\nn = -1").unwrap();
    /// assert_eq!(c.get_u32("max_clients").unwrap(), Some(200));
    /// assert!(c.get_u32("n").is_err());
    /// ```
    pub fn get_u32(&self, key: &str) -> Result<Option<u32>> {
        let Some(e) = self.entry(key) else { return Ok(None) };
        match &e.value {
            Value::Int(i) => u32::try_from(*i).map(Some).map_err(|_| self.type_error(e, "an unsigned integer")),
            _ => Err(self.type_error(e, "an unsigned integer")),
        }
    }

    /// A list of strings; a single string counts as a one-element list (libvirt's
    /// `virConfGetValueStringList` with `compatString`).
    pub fn get_str_list(&self, key: &str) -> Result<Option<Vec<String>>> {
        let Some(e) = self.entry(key) else { return Ok(None) };
        match &e.value {
            Value::String(s) => Ok(Some(vec![s.clone()])),
            Value::List(items) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(self.type_error(e, "a list of strings")),
                })
                .collect::<Result<Vec<_>>>()
                .map(Some),
            _ => Err(self.type_error(e, "a string or a list of strings")),
        }
    }

    fn reparse(&mut self, text: String) -> Result<()> {
        *self = Virconf::parse_named(&self.origin, &text)?;
        Ok(())
    }

    /// Sets `key` to `value`; returns whether the text changed.
    ///
    /// An existing statement gets the new value in place (its spacing, trailing comment and
    /// quote style kept). Otherwise a commented-out example of the same setting holding the
    /// same value (`#listen_tcp = 1`) is uncommented; failing that, the statement is added
    /// after the last commented-out example of the setting, or at the end of the file.
    pub fn set(&mut self, key: &str, value: Value) -> Result<bool> {
        check_name(key)?;
        let invalid = |reason: String| ConfigError::InvalidValue { key: key.into(), value: value.to_string(), reason };
        if let Some(e) = self.entry(key) {
            if e.value == value {
                return Ok(false);
            }
            let mut rendered = String::new();
            value.render(e.quote, &mut rendered).map_err(invalid)?;
            let mut text = self.text.clone();
            text.replace_range(e.value_start..e.value_end, &rendered);
            self.reparse(text)?;
            return Ok(true);
        }
        let mut rendered = String::new();
        value.render(b'"', &mut rendered).map_err(invalid)?;
        let mut text = self.text.clone();
        let mut last_example = None;
        let mut uncomment = None;
        for (start, line) in line_starts(&self.text) {
            let Some((hash, example)) = commented_example(line, key) else { continue };
            if example == value {
                let after = line[hash + 1..].trim_start_matches([' ', '\t']);
                uncomment = Some((start..start + line.len(), format!("{}{after}", &line[..hash])));
                break;
            }
            last_example = Some(start);
        }
        if let Some((range, line)) = uncomment {
            text.replace_range(range, &line);
            self.reparse(text)?;
            return Ok(true);
        }
        insert_line(&mut text, last_example, &format!("{key} = {rendered}"));
        self.reparse(text)?;
        Ok(true)
    }

    /// Removes every statement of `key` (a statement alone on its lines takes the lines with
    /// it); returns whether the text changed.
    ///
    /// ```
    /// let mut c = kvmhost_core::config::Virconf::parse("a = 1\nb = [ 1,\n 2 ]\nc = 3").unwrap();
    /// assert!(c.unset("b").unwrap());
    /// assert_eq!(c.text(), "a = 1\nc = 3");
    /// assert!(!c.unset("b").unwrap());
    /// ```
    pub fn unset(&mut self, key: &str) -> Result<bool> {
        let found: Vec<Entry> = self.entries.iter().filter(|e| e.name == key).cloned().collect();
        if found.is_empty() {
            return Ok(false);
        }
        let mut text = self.text.clone();
        for e in found.iter().rev() {
            let (ls, _) = line_bounds(&text, e.start);
            let (_, le) = line_bounds(&text, e.value_end);
            let before = &text[ls..e.start];
            let after = text[e.value_end..le].trim_start_matches([' ', '\t']);
            if before.trim().is_empty() && (after.is_empty() || after.starts_with('#')) {
                remove_lines(&mut text, e.start, e.value_end);
            } else {
                let mut end = e.value_end;
                let rest = &text[end..];
                let skip = rest.len() - rest.trim_start_matches([' ', '\t']).len();
                if rest[skip..].starts_with(';') {
                    let after = &rest[skip + 1..];
                    end += skip + 1 + (after.len() - after.trim_start_matches([' ', '\t']).len());
                }
                text.replace_range(e.start..end, "");
            }
        }
        self.reparse(text)?;
        Ok(true)
    }
}

impl fmt::Display for Virconf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for Virconf {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Virconf> {
        Virconf::parse(s)
    }
}

fn check_name(key: &str) -> Result<()> {
    let b = key.as_bytes();
    if b.first().is_some_and(u8::is_ascii_alphabetic) && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_') {
        Ok(())
    } else {
        Err(ConfigError::InvalidValue {
            key: key.into(),
            value: String::new(),
            reason: "a setting's name is an ASCII letter followed by letters, digits and _".into(),
        })
    }
}

/// (byte offset, line without its newline) for every line.
fn line_starts(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut pos = 0;
    text.split_inclusive('\n').map(move |l| {
        let start = pos;
        pos += l.len();
        (start, l.strip_suffix('\n').unwrap_or(l))
    })
}

/// A line `#key = value` (any blanks): the offset of its `#` and the value.
fn commented_example(line: &str, key: &str) -> Option<(usize, Value)> {
    let hash = line.len() - line.trim_start_matches([' ', '\t']).len();
    let rest = line[hash..].strip_prefix('#')?.trim_start_matches([' ', '\t']);
    if !rest.starts_with(key) {
        return None;
    }
    let c = Virconf::parse(rest).ok()?;
    match c.entries.as_slice() {
        [e] if e.name == key => Some((hash, e.value.clone())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libvirt_grammar() {
        let c = Virconf::parse("a=1;b = -2 # c\r\nc = \"\"\"x\ny\"\"\"\nd = [\n 'p' ,\n \"q\", ]\ne = []\n").unwrap();
        assert_eq!(c.get("a"), Some(&Value::Int(1)));
        assert_eq!(c.get("b"), Some(&Value::Int(-2)));
        assert_eq!(c.get_str("c").unwrap(), Some("x\ny"));
        assert_eq!(c.get_str_list("d").unwrap().unwrap(), ["p", "q"]);
        assert_eq!(c.get("e"), Some(&Value::List(vec![])));
    }

    #[test]
    fn errors_with_positions() {
        for (text, msg, line, col) in [
            ("a = ", "expecting a value", 1, 5),
            ("a = 'x", "unterminated string", 1, 5),
            ("a = [ 1 2 ]", "expecting a separator in list", 1, 9),
            ("a = [ 1,\n 2", "list is not closed with ]", 2, 3),
            ("a 1", "expecting an assignment", 1, 3),
            ("_a = 1", "expecting a name", 1, 1),
            ("a = 1 b = 2", "expecting a separator", 1, 7),
            ("a = -", "unterminated number", 1, 6),
            ("a = 99999999999999999999", "integer out of range", 1, 5),
            ("a = [ 1, # no\n 2 ]", "expecting a value", 1, 10),
        ] {
            match Virconf::parse(text) {
                Err(ConfigError::Syntax { line: l, column, message, .. }) => {
                    assert_eq!((message.as_str(), l, column), (msg, line, col), "{text:?}")
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
        let deep = format!("a = {}", "[".repeat(100_000));
        assert!(Virconf::parse(&deep).unwrap_err().to_string().contains("nested too deeply"));
    }

    #[test]
    fn set_keeps_style_and_neighbours() {
        let mut c = Virconf::parse("x = 'old' # keep\n").unwrap();
        c.set("x", "new".into()).unwrap();
        assert_eq!(c.text(), "x = 'new' # keep\n");
        c.set("x", "it's".into()).unwrap();
        assert_eq!(c.text(), "x = \"it's\" # keep\n");
        let mut c = Virconf::parse("#auth_tcp = \"sasl\"\nz = 1").unwrap();
        c.set("auth_tcp", "none".into()).unwrap();
        assert_eq!(c.text(), "#auth_tcp = \"sasl\"\nauth_tcp = \"none\"\nz = 1");
        assert!(c.set("bad-name", Value::Int(1)).is_err());
        assert!(c.set("s", Value::from("\"\"\"\n")).is_err());
    }
}
