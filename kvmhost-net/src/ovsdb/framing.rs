//! Message framing: OVSDB sends JSON-RPC objects back to back on the stream, with no length
//! prefix and no required separator. [`Framer`] finds where each top-level value ends by
//! tracking nesting depth, strings and escapes as bytes arrive (linear in the input), then parses
//! exactly that slice.

use serde_json::Value as Json;

use super::Error;

/// Incremental splitter of a byte stream into complete JSON values.
///
/// ```
/// use kvmhost_net::ovsdb::Framer;
/// let mut f = Framer::default();
/// f.push(br#"{"id":1,"result":["Open_vSwitch"]}{"id":2,"res"#);
/// assert_eq!(f.next_message().unwrap().unwrap()["id"], 1);
/// assert!(f.next_message().unwrap().is_none()); // the second one is incomplete
/// f.push(br#"ult":[]}"#);
/// assert_eq!(f.next_message().unwrap().unwrap()["id"], 2);
/// ```
#[derive(Debug, Default)]
pub struct Framer {
    buf: Vec<u8>,
    /// Bytes of `buf` already scanned for the current value.
    scanned: usize,
    depth: usize,
    in_string: bool,
    escaped: bool,
    started: bool,
}

impl Framer {
    /// Appends received bytes.
    ///
    /// ```
    /// # use kvmhost_net::ovsdb::Framer;
    /// let mut f = Framer::default();
    /// f.push(b"  ");
    /// assert!(f.next_message().unwrap().is_none());
    /// ```
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete value, `None` if more bytes are needed; a top-level value that is not an
    /// object or array, or malformed JSON, is an error.
    ///
    /// ```
    /// # use kvmhost_net::ovsdb::Framer;
    /// let mut f = Framer::default();
    /// f.push(b"42 ");
    /// assert!(f.next_message().is_err());
    /// ```
    pub fn next_message(&mut self) -> Result<Option<Json>, Error> {
        let mut i = self.scanned;
        while i < self.buf.len() {
            let b = self.buf[i];
            i += 1;
            if !self.started {
                match b {
                    b' ' | b'\t' | b'\r' | b'\n' => {
                        // Whitespace between messages: drop it.
                        self.buf.drain(..i);
                        i = 0;
                        continue;
                    }
                    b'{' | b'[' => {
                        self.started = true;
                        self.depth = 1;
                    }
                    other => {
                        return Err(Error::Framing(format!(
                            "a message must be a JSON object or array, found byte {:?}",
                            other as char
                        )))
                    }
                }
                continue;
            }
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        let value = serde_json::from_slice(&self.buf[..i]).map_err(Error::Json);
                        self.buf.drain(..i);
                        self.scanned = 0;
                        self.started = false;
                        return value.map(Some);
                    }
                }
                _ => {}
            }
        }
        self.scanned = i;
        Ok(None)
    }

    /// Bytes received but not yet returned as a message.
    ///
    /// ```
    /// # use kvmhost_net::ovsdb::Framer;
    /// let mut f = Framer::default();
    /// f.push(b"{\"a\":");
    /// f.next_message().unwrap();
    /// assert_eq!(f.pending(), 5);
    /// ```
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_by_byte_with_braces_in_strings() {
        let text = br#"{"a":"}{\"]","b":[1,{"c":"\\"}]} [1,2]
{"x":"\u007d"}"#;
        let mut f = Framer::default();
        let mut got = Vec::new();
        for b in text {
            f.push(&[*b]);
            while let Some(v) = f.next_message().unwrap() {
                got.push(v);
            }
        }
        assert_eq!(got.len(), 3);
        assert_eq!(got[0]["a"], "}{\"]");
        assert_eq!(got[0]["b"][1]["c"], "\\");
        assert_eq!(got[1], serde_json::json!([1, 2]));
        assert_eq!(got[2]["x"], "}");
        assert_eq!(f.pending(), 0);
    }

    #[test]
    fn malformed_inside_a_frame_is_a_json_error() {
        let mut f = Framer::default();
        f.push(b"{\"a\" 1}");
        assert!(matches!(f.next_message(), Err(Error::Json(_))));
    }
}
