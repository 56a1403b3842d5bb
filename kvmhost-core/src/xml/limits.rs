//! Bounds on what the parser accepts: nesting depth, attributes per element, input size, name
//! length and text length, so that hostile input gets a typed error instead of exhausting time
//! or memory.

use serde::{Deserialize, Serialize};

/// Bounds on a document the parser accepts ([`Document::parse_with`](super::Document::parse_with)).
///
/// The defaults are far above anything libvirt writes and close to libxml2's own defaults (the
/// library libvirt parses with): [`Limits::max_depth`] 256 is libxml2's default nesting limit,
/// [`Limits::max_input_bytes`] 10 MiB is the largest XML file `virsh` reads. Raise a limit for
/// trusted input; the parser, the writer, comparison, coverage and drop are iterative and take
/// time and memory linear in the input whatever the limits.
///
/// ```
/// use kvmhost_core::xml::{Document, Limit, Limits, XmlError};
/// let deep = format!("{}{}", "<a>".repeat(300), "</a>".repeat(300));
/// let err = Document::parse(&deep).unwrap_err();
/// assert!(matches!(err, XmlError::LimitExceeded { limit: Limit::Depth, max: 256, line: 1, .. }), "{err}");
/// let limits = Limits::default().with_max_depth(1000);
/// assert!(Document::parse_with(&deep, &limits).is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Limits {
    /// Deepest element nesting, the root being at depth 1 (default 256, libxml2's default).
    pub max_depth: usize,
    /// Most attributes on one element (default 256; libvirt writes at most a few dozen).
    pub max_attributes: usize,
    /// Largest input, in bytes (default 10 MiB, what `virsh` reads at most).
    pub max_input_bytes: usize,
    /// Longest element or attribute name, in bytes (default 1,024).
    pub max_name_bytes: usize,
    /// Longest text run, attribute value, comment, CDATA section or processing instruction, in
    /// bytes as written (default 1 MiB).
    pub max_text_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_depth: 256,
            max_attributes: 256,
            max_input_bytes: 10 << 20,
            max_name_bytes: 1024,
            max_text_bytes: 1 << 20,
        }
    }
}

impl Limits {
    /// No bounds at all, for trusted input (time and memory stay linear in the input size).
    ///
    /// ```
    /// use kvmhost_core::xml::{Document, Limits};
    /// let deep = format!("{}{}", "<a>".repeat(5000), "</a>".repeat(5000));
    /// assert!(Document::parse_with(&deep, &Limits::unlimited()).is_ok());
    /// ```
    pub fn unlimited() -> Limits {
        Limits {
            max_depth: usize::MAX,
            max_attributes: usize::MAX,
            max_input_bytes: usize::MAX,
            max_name_bytes: usize::MAX,
            max_text_bytes: usize::MAX,
        }
    }

    /// With [`Limits::max_depth`] set to `n`.
    ///
    /// ```
    /// let l = kvmhost_core::xml::Limits::default().with_max_depth(1000).with_max_attributes(10);
    /// assert_eq!((l.max_depth, l.max_attributes), (1000, 10));
    /// ```
    pub fn with_max_depth(mut self, n: usize) -> Limits {
        self.max_depth = n;
        self
    }

    /// With [`Limits::max_attributes`] set to `n`.
    pub fn with_max_attributes(mut self, n: usize) -> Limits {
        self.max_attributes = n;
        self
    }

    /// With [`Limits::max_input_bytes`] set to `n`.
    pub fn with_max_input_bytes(mut self, n: usize) -> Limits {
        self.max_input_bytes = n;
        self
    }

    /// With [`Limits::max_name_bytes`] set to `n`.
    pub fn with_max_name_bytes(mut self, n: usize) -> Limits {
        self.max_name_bytes = n;
        self
    }

    /// With [`Limits::max_text_bytes`] set to `n`.
    ///
    /// ```
    /// use kvmhost_core::xml::{Document, Limit, Limits, XmlError};
    /// let err = Document::parse_with("<a>\n 0123456789</a>", &Limits::default().with_max_text_bytes(8)).unwrap_err();
    /// assert!(matches!(err, XmlError::LimitExceeded { limit: Limit::TextBytes, max: 8, line: 1, column: 4 }), "{err}");
    /// ```
    pub fn with_max_text_bytes(mut self, n: usize) -> Limits {
        self.max_text_bytes = n;
        self
    }
}

/// Which of the [`Limits`] a document exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Limit {
    /// [`Limits::max_depth`].
    Depth,
    /// [`Limits::max_attributes`].
    Attributes,
    /// [`Limits::max_input_bytes`].
    InputBytes,
    /// [`Limits::max_name_bytes`].
    NameBytes,
    /// [`Limits::max_text_bytes`].
    TextBytes,
}

impl Limit {
    /// The name of the [`Limits`] field.
    ///
    /// ```
    /// assert_eq!(kvmhost_core::xml::Limit::Depth.field(), "max_depth");
    /// ```
    pub fn field(self) -> &'static str {
        match self {
            Limit::Depth => "max_depth",
            Limit::Attributes => "max_attributes",
            Limit::InputBytes => "max_input_bytes",
            Limit::NameBytes => "max_name_bytes",
            Limit::TextBytes => "max_text_bytes",
        }
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Limit::Depth => "element nesting depth",
            Limit::Attributes => "number of attributes of an element",
            Limit::InputBytes => "input size in bytes",
            Limit::NameBytes => "name length in bytes",
            Limit::TextBytes => "text or attribute value length in bytes",
        })
    }
}
