//! Shell-variable files (`/etc/default/libvirtd`, `/etc/sysconfig/libvirtd`,
//! `/etc/selinux/config`), parsed losslessly.
//!
//! Accepted lines: blank, `# comment`, and `[export ]NAME=VALUE [# comment]`, where VALUE is
//! made of unquoted characters, `'single-quoted'` and `"double-quoted"` parts (with `\"`, `\\`,
//! `` \` `` and `\$` escapes). Anything else (commands, `$VAR` expansions, line continuations,
//! `;`) is an error naming its line and column: such a file is not rewritten.

use super::{insert_line, line_col, syntax, ConfigError, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quote {
    None,
    Single,
    Double,
}

#[derive(Debug, Clone)]
struct Var {
    name: String,
    value: String,
    value_start: usize,
    value_end: usize,
    quote: Quote,
}

/// A file of shell variable assignments: its exact text and the variables in it.
///
/// ```
/// use kvmhost_core::config::ShellVars;
/// let text = "# Customizations\n#LIBVIRTD_ARGS=\"--timeout 120\"\n#LIBVIRTD_ARGS=\"--listen\"\n";
/// let mut f = ShellVars::parse(text).unwrap();
/// assert_eq!(f.get("LIBVIRTD_ARGS"), None);
/// assert!(f.set("LIBVIRTD_ARGS", "--listen").unwrap());
/// assert_eq!(f.text(), "# Customizations\n#LIBVIRTD_ARGS=\"--timeout 120\"\nLIBVIRTD_ARGS=\"--listen\"\n");
/// assert_eq!(f.get("LIBVIRTD_ARGS"), Some("--listen"));
/// ```
#[derive(Debug, Clone)]
pub struct ShellVars {
    origin: String,
    text: String,
    vars: Vec<Var>,
}

impl ShellVars {
    /// Parses text held in memory (errors name `<memory>`).
    pub fn parse(text: &str) -> Result<ShellVars> {
        ShellVars::parse_named("<memory>", text)
    }

    /// Parses `text`, naming `origin` in errors.
    pub fn parse_named(origin: &str, text: &str) -> Result<ShellVars> {
        let mut vars = Vec::new();
        let mut pos = 0;
        for line in text.split_inclusive('\n') {
            let body = line.strip_suffix('\n').unwrap_or(line);
            let body = body.strip_suffix('\r').unwrap_or(body);
            if let Some(v) = parse_line(origin, text, pos, body)? {
                vars.push(v);
            }
            pos += line.len();
        }
        Ok(ShellVars { origin: origin.to_string(), text: text.to_string(), vars })
    }

    /// Reads and parses a file; `Ok(None)` when it does not exist.
    pub fn load(path: impl AsRef<Path>) -> Result<Option<ShellVars>> {
        let path = path.as_ref();
        match super::read_text(path)? {
            Some(t) => ShellVars::parse_named(&path.display().to_string(), &t).map(Some),
            None => Ok(None),
        }
    }

    /// The document's text, with every edit made so far.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The variable's value as the shell sees it (the last assignment wins), if assigned.
    ///
    /// ```
    /// let f = kvmhost_core::config::ShellVars::parse("A='x y'\nexport A=\"a\\\"b\"c\n").unwrap();
    /// assert_eq!(f.get("A"), Some("a\"bc"));
    /// ```
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.iter().rev().find(|v| v.name == name).map(|v| v.value.as_str())
    }

    /// 1-based line and column of the value of the assignment that wins.
    pub fn position(&self, name: &str) -> Option<(usize, usize)> {
        self.vars.iter().rev().find(|v| v.name == name).map(|v| line_col(&self.text, v.value_start))
    }

    /// The names assigned, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.vars.iter().map(|v| v.name.as_str())
    }

    /// Sets `name` to `value`; returns whether the text changed.
    ///
    /// The assignment that wins is edited in place, keeping its quoting where the value allows.
    /// Otherwise a commented-out example `#NAME=value` holding this very value is uncommented,
    /// or the assignment is added after the last commented-out example, or at the end.
    ///
    /// ```
    /// let mut f = kvmhost_core::config::ShellVars::parse("SELINUX=enforcing # mode\n").unwrap();
    /// assert!(f.set("SELINUX", "permissive").unwrap());
    /// assert_eq!(f.text(), "SELINUX=permissive # mode\n");
    /// assert!(!f.set("SELINUX", "permissive").unwrap());
    /// ```
    pub fn set(&mut self, name: &str, value: &str) -> Result<bool> {
        check_name(name, value)?;
        if let Some(v) = self.vars.iter().rev().find(|v| v.name == name) {
            if v.value == value {
                return Ok(false);
            }
            let rendered = render(value, v.quote);
            let mut text = self.text.clone();
            text.replace_range(v.value_start..v.value_end, &rendered);
            return self.reparse(text).map(|()| true);
        }
        let mut text = self.text.clone();
        let mut last_example = None;
        let mut pos = 0;
        for line in self.text.split_inclusive('\n') {
            let body = line.strip_suffix('\n').unwrap_or(line);
            let lead = body.len() - body.trim_start_matches([' ', '\t']).len();
            if let Some(rest) = body[lead..].strip_prefix('#') {
                let rest = rest.trim_start_matches([' ', '\t']);
                if let Ok(Some(ex)) = parse_line("", rest, 0, rest) {
                    if ex.name == name && ex.value == value {
                        text.replace_range(pos..pos + body.len(), &format!("{}{rest}", &body[..lead]));
                        return self.reparse(text).map(|()| true);
                    }
                    if ex.name == name {
                        last_example = Some(pos);
                    }
                }
            }
            pos += line.len();
        }
        insert_line(&mut text, last_example, &format!("{name}={}", render(value, Quote::Double)));
        self.reparse(text).map(|()| true)
    }

    /// Removes every assignment of `name` (with its line); returns whether the text changed.
    ///
    /// ```
    /// let mut f = kvmhost_core::config::ShellVars::parse("A=1\nB=2\nA=3\n").unwrap();
    /// assert!(f.unset("A").unwrap());
    /// assert_eq!(f.text(), "B=2\n");
    /// ```
    pub fn unset(&mut self, name: &str) -> Result<bool> {
        let found: Vec<usize> = self.vars.iter().filter(|v| v.name == name).map(|v| v.value_start).collect();
        if found.is_empty() {
            return Ok(false);
        }
        let mut text = self.text.clone();
        for off in found.into_iter().rev() {
            super::remove_lines(&mut text, off, off);
        }
        self.reparse(text).map(|()| true)
    }

    fn reparse(&mut self, text: String) -> Result<()> {
        *self = ShellVars::parse_named(&self.origin, &text)?;
        Ok(())
    }
}

impl fmt::Display for ShellVars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn check_name(name: &str, value: &str) -> Result<()> {
    let b = name.as_bytes();
    let ok = b.first().is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_');
    let reason = if !ok {
        "a variable's name is a letter or _ followed by letters, digits and _"
    } else if value.contains(['\n', '\r']) {
        "values in these files are single lines"
    } else {
        return Ok(());
    };
    Err(ConfigError::InvalidValue { key: name.into(), value: value.into(), reason: reason.into() })
}

fn safe_unquoted(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_-./:,+=@%".contains(c)
}

fn render(value: &str, quote: Quote) -> String {
    match quote {
        Quote::None if !value.is_empty() && value.chars().all(safe_unquoted) => value.to_string(),
        Quote::Single if !value.contains('\'') => format!("'{value}'"),
        _ => {
            let mut s = String::from("\"");
            for c in value.chars() {
                if matches!(c, '"' | '\\' | '$' | '`') {
                    s.push('\\');
                }
                s.push(c);
            }
            s.push('"');
            s
        }
    }
}

/// One line (without newline) starting at byte `pos` of `text`.
fn parse_line(origin: &str, text: &str, pos: usize, line: &str) -> Result<Option<Var>> {
    let b = line.as_bytes();
    let mut i = 0;
    let skip = |i: &mut usize| {
        while matches!(b.get(*i), Some(b' ' | b'\t')) {
            *i += 1;
        }
    };
    let err = |at: usize, m: &str| syntax(origin, text, pos + at, m);
    skip(&mut i);
    match b.get(i) {
        None | Some(b'#') => return Ok(None),
        _ => {}
    }
    if line[i..].starts_with("export ") || line[i..].starts_with("export\t") {
        i += 6;
        skip(&mut i);
    }
    let name_start = i;
    if !b.get(i).is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_') {
        return Err(err(i, "expecting NAME=VALUE"));
    }
    while b.get(i).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_') {
        i += 1;
    }
    let name = line[name_start..i].to_string();
    if b.get(i) != Some(&b'=') {
        return Err(err(name_start, "expecting NAME=VALUE"));
    }
    i += 1;
    let value_start = i;
    let mut value = String::new();
    let mut quote = Quote::None;
    let mut parts = 0;
    loop {
        match b.get(i) {
            None | Some(b' ' | b'\t') => break,
            Some(b'\'') => {
                let close = line[i + 1..].find('\'').ok_or_else(|| err(i, "unterminated '"))?;
                value.push_str(&line[i + 1..i + 1 + close]);
                i += close + 2;
                quote = Quote::Single;
            }
            Some(b'"') => {
                let open = i;
                i += 1;
                loop {
                    match b.get(i) {
                        None => return Err(err(open, "unterminated \"")),
                        Some(b'"') => break,
                        Some(b'\\') if matches!(b.get(i + 1), Some(b'"' | b'\\' | b'$' | b'`')) => {
                            value.push(char::from(b[i + 1]));
                            i += 2;
                        }
                        Some(b'\\') => return Err(err(i, "unsupported escape or line continuation")),
                        Some(b'$' | b'`') => return Err(err(i, "shell expansions are not supported")),
                        Some(_) => {
                            let c = line[i..].chars().next().unwrap_or('\u{fffd}');
                            value.push(c);
                            i += c.len_utf8();
                        }
                    }
                }
                i += 1;
                quote = Quote::Double;
            }
            Some(b'\\') => match line[i + 1..].chars().next() {
                Some(c) => {
                    value.push(c);
                    i += 1 + c.len_utf8();
                }
                None => return Err(err(i, "line continuations are not supported")),
            },
            Some(b'$' | b'`') => return Err(err(i, "shell expansions are not supported")),
            Some(b';' | b'&' | b'|' | b'<' | b'>' | b'(' | b')') => {
                return Err(err(i, "only NAME=VALUE assignments are supported"))
            }
            Some(_) => {
                let c = line[i..].chars().next().unwrap_or('\u{fffd}');
                value.push(c);
                i += c.len_utf8();
            }
        }
        parts += 1;
    }
    if parts > 1 && quote != Quote::None {
        quote = Quote::Double;
    }
    let value_end = i;
    skip(&mut i);
    if i < b.len() && b[i] != b'#' {
        return Err(err(i, "only one NAME=VALUE assignment per line is supported"));
    }
    Ok(Some(Var { name, value, value_start: pos + value_start, value_end: pos + value_end, quote }))
}

/// SELinux's mode (`SELINUX=` in `/etc/selinux/config`, `getenforce` at run time).
///
/// ```
/// use kvmhost_core::config::SelinuxMode;
/// let m: SelinuxMode = "Enforcing".parse().unwrap();
/// assert_eq!(m, SelinuxMode::Enforcing);
/// assert_eq!(SelinuxMode::Permissive.to_string(), "permissive");
/// assert!("maybe".parse::<SelinuxMode>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SelinuxMode {
    /// Policy enforced.
    Enforcing,
    /// Denials logged, not enforced.
    Permissive,
    /// SELinux off.
    Disabled,
}

impl std::str::FromStr for SelinuxMode {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<SelinuxMode, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "enforcing" | "1" => Ok(SelinuxMode::Enforcing),
            "permissive" | "0" => Ok(SelinuxMode::Permissive),
            "disabled" => Ok(SelinuxMode::Disabled),
            other => Err(format!("unknown SELinux mode {other:?} (enforcing, permissive, disabled)")),
        }
    }
}

impl fmt::Display for SelinuxMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SelinuxMode::Enforcing => "enforcing",
            SelinuxMode::Permissive => "permissive",
            SelinuxMode::Disabled => "disabled",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar_and_errors() {
        let f = ShellVars::parse("  A=a\\ b'c d'\"e\"  # x\n\nB=\nexport C=1\r\n").unwrap();
        assert_eq!(f.get("A"), Some("a bc de"));
        assert_eq!(f.get("B"), Some(""));
        assert_eq!(f.get("C"), Some("1"));
        for (text, line, col) in [
            ("A=1\nB=$HOME\n", 2, 3),
            ("A=\"x", 1, 3),
            ("A=1 B=2", 1, 5),
            ("systemctl start x", 1, 1),
            ("A=x\\", 1, 4),
            ("A='x", 1, 3),
            ("A=a;b", 1, 4),
        ] {
            match ShellVars::parse(text) {
                Err(ConfigError::Syntax { line: l, column, .. }) => assert_eq!((l, column), (line, col), "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn set_quotes() {
        let mut f = ShellVars::parse("A='x'\n").unwrap();
        f.set("A", "y z").unwrap();
        assert_eq!(f.text(), "A='y z'\n");
        f.set("A", "it's $1").unwrap();
        assert_eq!(f.text(), "A=\"it's \\$1\"\n");
        assert_eq!(f.get("A"), Some("it's $1"));
        f.set("NEW", "plain").unwrap();
        assert_eq!(f.text(), "A=\"it's \\$1\"\nNEW=\"plain\"\n");
        assert!(f.set("1X", "v").is_err());
        assert!(f.set("X", "a\nb").is_err());
    }
}
