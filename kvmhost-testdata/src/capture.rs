//! What a test's own tracing subscriber writes, kept in memory and read back.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

/// A `Write` into one shared buffer: every clone writes to the same bytes, so a subscriber's
/// writer (`with_writer(move || sink.clone())`) and the test reading [`Captured::text`] share
/// them.
///
/// ```
/// use std::io::Write;
/// let captured = kvmhost_testdata::capture::Captured::default();
/// let mut sink = captured.clone();
/// sink.write_all(b"INFO apply: step 1").unwrap();
/// assert_eq!(captured.text(), "INFO apply: step 1");
/// ```
#[derive(Clone, Default, Debug)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// Everything written so far, as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
