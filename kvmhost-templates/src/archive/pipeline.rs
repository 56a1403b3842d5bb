//! Threads between the package file and the codecs: a counting reader (the compressed side of
//! the decompression-bomb check), a reader that decompresses one chunk ahead on its own thread,
//! and a writer whose `write(2)` calls happen on their own thread.

use std::fs::File;
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A reader that counts the bytes it gave (the compressed side of a bomb check); the count is
/// shared so that it can be read while the reader works on another thread.
pub(crate) struct Counting<R> {
    pub inner: R,
    pub count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Reads `inner` on its own thread, one chunk ahead (at most `DEPTH` chunks of `CHUNK` bytes in
/// flight): decompression runs in parallel with whatever consumes the bytes (hashing, writing).
/// Dropping it stops the thread at its next chunk.
pub(crate) struct Pipelined {
    rx: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    recycle: std::sync::mpsc::SyncSender<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
    done: bool,
}

impl Pipelined {
    const CHUNK: usize = 128 << 10;
    const DEPTH: usize = 4;

    pub(crate) fn new<R: Read + Send + 'static>(mut inner: R) -> Pipelined {
        let (tx, rx) = std::sync::mpsc::sync_channel::<io::Result<Vec<u8>>>(Self::DEPTH);
        let (recycle, spare) = std::sync::mpsc::sync_channel::<Vec<u8>>(Self::DEPTH + 2);
        std::thread::spawn(move || loop {
            let mut buf = spare.try_recv().unwrap_or_else(|_| Vec::with_capacity(Self::CHUNK));
            buf.resize(Self::CHUNK, 0);
            let mut n = 0;
            let result = loop {
                if n == buf.len() {
                    break Ok(());
                }
                match inner.read(&mut buf[n..]) {
                    Ok(0) => break Ok(()),
                    Ok(k) => n += k,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => break Err(e),
                }
            };
            buf.truncate(n);
            let last = n == 0 || result.is_err();
            let sent = match result {
                Ok(()) => tx.send(Ok(buf)),
                Err(e) => {
                    let _ = if n > 0 { tx.send(Ok(buf)) } else { Ok(()) };
                    tx.send(Err(e))
                }
            };
            if last || sent.is_err() {
                return;
            }
        });
        Pipelined { rx, recycle, cur: Vec::new(), pos: 0, done: false }
    }
}

impl Read for Pipelined {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            if self.done {
                return Ok(0);
            }
            let next = match self.rx.recv() {
                Ok(r) => r?,
                Err(_) => return Ok(0),
            };
            let old = std::mem::replace(&mut self.cur, next);
            let _ = self.recycle.try_send(old);
            self.pos = 0;
            if self.cur.is_empty() {
                self.done = true;
            }
        }
        let n = out.len().min(self.cur.len() - self.pos);
        out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Writes to a file on its own thread: `write` only fills a buffer and hands full ones over
/// (at most `DEPTH` chunks of `CHUNK` bytes in flight), so whoever produces the bytes (the zstd
/// encoder feeding its workers) never waits on a `write(2)` that the kernel throttles while it
/// flushes dirty pages. [`ThreadedWriter::finish`] writes the rest and returns the file.
///
/// With `writeback`, the thread also starts the disk write of every `WRITEBACK` bytes behind
/// it (`sync_file_range(SYNC_FILE_RANGE_WRITE)`, which does not wait), so that the `fsync`
/// that follows a pack finds little left to write instead of the whole package.
pub(crate) struct ThreadedWriter {
    tx: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
    spare: std::sync::mpsc::Receiver<Vec<u8>>,
    /// Buffers made so far (at most `DEPTH + 2`: then one is waited for).
    made: usize,
    buf: Vec<u8>,
    thread: Option<std::thread::JoinHandle<io::Result<File>>>,
}

impl ThreadedWriter {
    const CHUNK: usize = 128 << 10;
    const DEPTH: usize = 8;
    const WRITEBACK: u64 = 8 << 20;

    pub(crate) fn new(mut file: File, writeback: bool) -> ThreadedWriter {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(Self::DEPTH);
        let (back, spare) = std::sync::mpsc::sync_channel::<Vec<u8>>(Self::DEPTH + 2);
        let thread = std::thread::spawn(move || -> io::Result<File> {
            use std::io::{Seek, Write};
            let mut synced = if writeback { file.stream_position()? } else { 0 };
            let mut pos = synced;
            for mut chunk in rx {
                file.write_all(&chunk)?;
                pos += chunk.len() as u64;
                if writeback && pos - synced >= Self::WRITEBACK {
                    start_writeback(&file, synced, pos - synced);
                    synced = pos;
                }
                chunk.clear();
                let _ = back.try_send(chunk);
            }
            Ok(file)
        });
        ThreadedWriter { tx: Some(tx), spare, made: 1, buf: Vec::with_capacity(Self::CHUNK), thread: Some(thread) }
    }

    fn hand_over(&mut self) -> io::Result<()> {
        let next = match self.spare.try_recv() {
            Ok(b) => b,
            Err(_) if self.made < Self::DEPTH + 2 => {
                self.made += 1;
                Vec::with_capacity(Self::CHUNK)
            }
            Err(_) if self.tx.is_some() => {
                // Every buffer is in flight: wait for one (bounded memory, no allocation).
                self.spare.recv().unwrap_or_else(|_| Vec::with_capacity(Self::CHUNK))
            }
            Err(_) => Vec::with_capacity(Self::CHUNK),
        };
        let full = std::mem::replace(&mut self.buf, next);
        let sent = self.tx.as_ref().map(|tx| tx.send(full).is_ok()).unwrap_or(false);
        if !sent {
            // The thread stopped: its error says why.
            return Err(self.join().err().unwrap_or_else(|| io::Error::other("writer thread stopped")));
        }
        Ok(())
    }

    fn join(&mut self) -> io::Result<File> {
        self.tx = None;
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| io::Error::other("writer thread panicked"))?,
            None => Err(io::Error::other("writer thread already joined")),
        }
    }

    /// Writes what is buffered, waits for the thread, returns the file.
    pub(crate) fn finish(mut self) -> io::Result<File> {
        if !self.buf.is_empty() {
            self.hand_over()?;
        }
        self.join()
    }
}

/// Starts writing a range of `file` to disk without waiting for it (a hint: errors are left
/// to the `fsync` that follows).
fn start_writeback(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (libc::off64_t::try_from(offset), libc::off64_t::try_from(len)) else {
        return;
    };
    // SAFETY: the descriptor is open for the duration of the call; the call reads no memory.
    let _ = unsafe { libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE) };
}

impl io::Write for ThreadedWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(Self::CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == Self::CHUNK {
            self.hand_over()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for ThreadedWriter {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
