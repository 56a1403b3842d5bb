//! The parser of libvirt's configuration syntax (`virConfParse*` of `src/util/virconf.c`).

use super::{Entry, Value, MAX_DEPTH};
use crate::config::{syntax, ConfigError, Result};

pub(super) struct Parser<'a> {
    pub origin: &'a str,
    pub text: &'a str,
    pub b: &'a [u8],
    pub i: usize,
}

impl Parser<'_> {
    fn cur(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn err(&self, message: &str) -> ConfigError {
        syntax(self.origin, self.text, self.i, message)
    }

    fn skip_blanks(&mut self) {
        while matches!(self.cur(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    fn skip_blanks_and_eol(&mut self) {
        while matches!(self.cur(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn skip_to_eol(&mut self) {
        while !matches!(self.cur(), None | Some(b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    pub fn statements(mut self) -> Result<Vec<Entry>> {
        let mut entries = Vec::new();
        loop {
            self.skip_blanks_and_eol();
            let Some(c) = self.cur() else { break };
            if c == b'#' {
                self.skip_to_eol();
            } else {
                entries.push(self.statement()?);
            }
            self.skip_blanks();
            match self.cur() {
                None => break,
                Some(b'\n' | b'\r') => self.skip_blanks_and_eol(),
                Some(b';') => {
                    self.i += 1;
                    self.skip_blanks_and_eol();
                }
                Some(_) => return Err(self.err("expecting a separator")),
            }
        }
        Ok(entries)
    }

    fn statement(&mut self) -> Result<Entry> {
        let start = self.i;
        if !self.cur().is_some_and(|c| c.is_ascii_alphabetic()) {
            return Err(self.err("expecting a name"));
        }
        while self.cur().is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_') {
            self.i += 1;
        }
        let name = self.text[start..self.i].to_string();
        self.skip_blanks();
        if self.cur() != Some(b'=') {
            return Err(self.err("expecting an assignment"));
        }
        self.i += 1;
        self.skip_blanks();
        let value_start = self.i;
        let quote = self.cur().unwrap_or(b'"');
        let value = self.value(0)?;
        let value_end = self.i;
        self.skip_blanks();
        if self.cur() == Some(b'#') {
            self.skip_to_eol();
        }
        Ok(Entry { name, value, start, value_start, value_end, quote })
    }

    fn value(&mut self, depth: usize) -> Result<Value> {
        self.skip_blanks();
        match self.cur() {
            None => Err(self.err("expecting a value")),
            Some(b'\'') => self.quoted(b'\'').map(Value::String),
            Some(b'"') if self.b[self.i..].starts_with(b"\"\"\"") => {
                let body = self.i + 3;
                match self.text[body..].find("\"\"\"") {
                    Some(n) => {
                        self.i = body + n + 3;
                        Ok(Value::String(self.text[body..body + n].to_string()))
                    }
                    None => Err(syntax(self.origin, self.text, self.i, "unterminated string")),
                }
            }
            Some(b'"') => self.quoted(b'"').map(Value::String),
            Some(b'[') => {
                if depth >= MAX_DEPTH {
                    return Err(self.err("lists nested too deeply"));
                }
                self.i += 1;
                self.skip_blanks_and_eol();
                let mut items = Vec::new();
                if !matches!(self.cur(), None | Some(b']')) {
                    items.push(self.value(depth + 1)?);
                    self.skip_blanks_and_eol();
                }
                while !matches!(self.cur(), None | Some(b']')) {
                    if self.cur() != Some(b',') {
                        return Err(self.err("expecting a separator in list"));
                    }
                    self.i += 1;
                    self.skip_blanks_and_eol();
                    if self.cur() == Some(b']') {
                        break;
                    }
                    items.push(self.value(depth + 1)?);
                    self.skip_blanks_and_eol();
                }
                if self.cur() != Some(b']') {
                    return Err(self.err("list is not closed with ]"));
                }
                self.i += 1;
                Ok(Value::List(items))
            }
            Some(c) if c.is_ascii_digit() || c == b'-' || c == b'+' => self.integer(),
            Some(_) => Err(self.err("expecting a value")),
        }
    }

    fn quoted(&mut self, q: u8) -> Result<String> {
        let open = self.i;
        self.i += 1;
        while !matches!(self.cur(), None | Some(b'\n' | b'\r')) && self.cur() != Some(q) {
            self.i += 1;
        }
        if self.cur() != Some(q) {
            return Err(syntax(self.origin, self.text, open, "unterminated string"));
        }
        self.i += 1;
        Ok(self.text[open + 1..self.i - 1].to_string())
    }

    fn integer(&mut self) -> Result<Value> {
        let start = self.i;
        let neg = self.cur() == Some(b'-');
        if matches!(self.cur(), Some(b'-' | b'+')) {
            self.i += 1;
        }
        if !self.cur().is_some_and(|c| c.is_ascii_digit()) {
            return Err(self.err("unterminated number"));
        }
        let mut v: i64 = 0;
        while let Some(c @ b'0'..=b'9') = self.cur() {
            let d = i64::from(c - b'0');
            let next = v.checked_mul(10).and_then(|v| if neg { v.checked_sub(d) } else { v.checked_add(d) });
            match next {
                Some(n) => v = n,
                None => return Err(syntax(self.origin, self.text, start, "integer out of range")),
            }
            self.i += 1;
        }
        Ok(Value::Int(v))
    }
}
