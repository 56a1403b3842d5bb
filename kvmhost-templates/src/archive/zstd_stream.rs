//! A streaming zstd compressor over libzstd's `ZSTD_compressStream2`, for the one setting the
//! `zstd` crate does not expose: the block pre-splitter of libzstd 1.5.7
//! (`ZSTD_c_blockSplitterLevel`), which at the fast levels spends a few percent of the CPU on
//! fingerprinting every block. A package's disks are large and the gain in size is about 1%,
//! so packing turns it off (level 1: no splitting, as zstd up to 1.5.6 wrote).
//!
//! The output is an ordinary zstd frame: any decoder reads it.

use std::io::{self, Write};
use std::ptr::NonNull;

use zstd::zstd_safe::zstd_sys;

/// Compresses what is written into one zstd frame written to `W`.
pub(crate) struct ZstdWriter<W: Write> {
    cctx: NonNull<zstd_sys::ZSTD_CCtx>,
    out: Vec<u8>,
    inner: Option<W>,
}

// SAFETY: the context is owned by this value alone and libzstd contexts may move between
// threads (they are not shared).
unsafe impl<W: Write + Send> Send for ZstdWriter<W> {}

fn check(code: usize, what: &str) -> io::Result<usize> {
    // SAFETY: both functions only read the code; the name is a static C string.
    if unsafe { zstd_sys::ZSTD_isError(code) } != 0 {
        let name = unsafe { std::ffi::CStr::from_ptr(zstd_sys::ZSTD_getErrorName(code)) };
        return Err(io::Error::other(format!("zstd {what}: {}", name.to_string_lossy())));
    }
    Ok(code)
}

impl<W: Write> ZstdWriter<W> {
    /// A compressor at `level` with `threads` workers (0 or 1: compress on the calling thread).
    pub(crate) fn new(inner: W, level: i32, threads: u32) -> io::Result<Self> {
        // SAFETY: creating a context has no preconditions; a null result is handled.
        let cctx = NonNull::new(unsafe { zstd_sys::ZSTD_createCCtx() })
            .ok_or_else(|| io::Error::other("zstd: cannot allocate a compression context"))?;
        // SAFETY: `out` is freed by Drop from here on.
        let mut w = ZstdWriter { cctx, out: vec![0u8; unsafe { zstd_sys::ZSTD_CStreamOutSize() }], inner: Some(inner) };
        w.set(zstd_sys::ZSTD_cParameter::ZSTD_c_compressionLevel, level)?;
        // ZSTD_c_blockSplitterLevel: 1 = no pre-splitting.
        w.set(zstd_sys::ZSTD_cParameter::ZSTD_c_experimentalParam20, 1)?;
        if threads > 1 {
            w.set(zstd_sys::ZSTD_cParameter::ZSTD_c_nbWorkers, threads.min(256) as i32)?;
        }
        Ok(w)
    }

    fn set(&mut self, param: zstd_sys::ZSTD_cParameter, value: i32) -> io::Result<()> {
        // SAFETY: the context is valid; libzstd checks the parameter and its bounds.
        check(unsafe { zstd_sys::ZSTD_CCtx_setParameter(self.cctx.as_ptr(), param, value) }, "parameter").map(drop)
    }

    /// Runs one `ZSTD_compressStream2` call; returns (input consumed, what libzstd returned).
    fn step(&mut self, data: &[u8], end: zstd_sys::ZSTD_EndDirective) -> io::Result<(usize, usize)> {
        let mut input = zstd_sys::ZSTD_inBuffer { src: data.as_ptr().cast(), size: data.len(), pos: 0 };
        let mut output = zstd_sys::ZSTD_outBuffer { dst: self.out.as_mut_ptr().cast(), size: self.out.len(), pos: 0 };
        // SAFETY: both buffers point to live memory of the stated sizes for the call.
        let left = check(
            unsafe { zstd_sys::ZSTD_compressStream2(self.cctx.as_ptr(), &mut output, &mut input, end) },
            "compression",
        )?;
        if output.pos > 0 {
            let inner = self.inner.as_mut().ok_or_else(|| io::Error::other("zstd writer finished"))?;
            inner.write_all(&self.out[..output.pos])?;
        }
        Ok((input.pos, left))
    }

    /// Ends the frame and returns the inner writer.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        while self.step(&[], zstd_sys::ZSTD_EndDirective::ZSTD_e_end)?.1 != 0 {}
        self.inner.take().ok_or_else(|| io::Error::other("zstd writer finished"))
    }
}

impl<W: Write> Write for ZstdWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        loop {
            // libzstd guarantees progress on input or output; return once input was taken.
            let (taken, _) = self.step(data, zstd_sys::ZSTD_EndDirective::ZSTD_e_continue)?;
            if taken > 0 {
                return Ok(taken);
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        while self.step(&[], zstd_sys::ZSTD_EndDirective::ZSTD_e_flush)?.1 != 0 {}
        self.inner.as_mut().map(|w| w.flush()).unwrap_or(Ok(()))
    }
}

impl<W: Write> Drop for ZstdWriter<W> {
    fn drop(&mut self) {
        // SAFETY: the context was created by ZSTD_createCCtx and is freed once, here.
        unsafe { zstd_sys::ZSTD_freeCCtx(self.cctx.as_ptr()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_the_zstd_crate_with_and_without_workers() {
        let data: Vec<u8> = (0..3_000_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        for threads in [0, 2] {
            let mut w = ZstdWriter::new(Vec::new(), 3, threads).unwrap();
            for piece in data.chunks(100_000) {
                w.write_all(piece).unwrap();
            }
            let packed = w.finish().unwrap();
            assert!(packed.len() < data.len() / 10, "{} bytes", packed.len());
            assert_eq!(zstd::decode_all(&packed[..]).unwrap(), data);
        }
    }

    #[test]
    fn out_of_range_settings_are_clamped_or_typed_errors() {
        // Levels above the maximum are clamped by libzstd: the frame stays readable.
        let mut w = ZstdWriter::new(Vec::new(), 99, 2).unwrap();
        w.write_all(b"hello").unwrap();
        assert_eq!(zstd::decode_all(&w.finish().unwrap()[..]).unwrap(), b"hello");
        // 256 workers at the highest level need more memory than a test machine may give: an
        // io::Error naming zstd, never a panic.
        let run = || -> io::Result<Vec<u8>> {
            let mut w = ZstdWriter::new(Vec::new(), 22, 1000)?;
            w.write_all(&[7u8; 1 << 20])?;
            w.finish()
        };
        match run() {
            Ok(packed) => assert_eq!(zstd::decode_all(&packed[..]).unwrap(), vec![7u8; 1 << 20]),
            Err(e) => assert!(e.to_string().starts_with("zstd "), "{e}"),
        }
    }
}
