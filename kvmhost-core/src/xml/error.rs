//! The error of parsing and writing XML, with its position when known.

use serde::{Deserialize, Serialize};

/// An XML text that cannot be parsed or written, with its position when known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum XmlError {
    /// The text is not well-formed XML.
    #[error("malformed XML at line {line}, column {column}: {message}")]
    Malformed {
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// What the parser found.
        message: String,
    },
    /// A name that is not an XML name (empty, for instance).
    #[error("invalid XML name {name:?}")]
    InvalidName {
        /// The name.
        name: String,
    },
    /// A character XML 1.0 cannot carry, found while writing or parsing.
    #[error("character U+{:04X} cannot appear in XML (in {context})", *.character as u32)]
    InvalidCharacter {
        /// The offending character.
        character: char,
        /// Where: element or attribute name, or position.
        context: String,
    },
    /// The document exceeds one of the parser's [`Limits`](super::Limits).
    #[error("XML limit exceeded at line {line}, column {column}: {limit} over {max} (Limits::{field})", field = .limit.field())]
    LimitExceeded {
        /// Which limit.
        limit: super::Limit,
        /// Its value (the largest accepted).
        max: usize,
        /// 1-based line where the document exceeds it.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
    },
}

impl XmlError {
    /// The 1-based line of a parse error, if known.
    ///
    /// ```
    /// use kvmhost_core::xml::Document;
    /// assert_eq!(Document::parse("<a>\n<b>\n</a>").unwrap_err().line(), Some(3));
    /// ```
    pub fn line(&self) -> Option<usize> {
        match self {
            XmlError::Malformed { line, .. } | XmlError::LimitExceeded { line, .. } => Some(*line),
            _ => None,
        }
    }

    /// The 1-based column of a parse error, if known.
    ///
    /// ```
    /// use kvmhost_core::xml::Document;
    /// assert!(Document::parse("<a></b>").unwrap_err().column().is_some());
    /// ```
    pub fn column(&self) -> Option<usize> {
        match self {
            XmlError::Malformed { column, .. } | XmlError::LimitExceeded { column, .. } => Some(*column),
            _ => None,
        }
    }
}

/// Line and column (1-based, column in characters) of byte `offset` in `input`.
pub(crate) fn line_column(input: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(input.len());
    while !input.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &input[..offset];
    let line = before.bytes().filter(|b| *b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    (line, before[line_start..].chars().count() + 1)
}
