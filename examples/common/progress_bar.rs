//! Progress of long work (packing, verifying, unpacking, downloading) for the examples: a bar on
//! stderr when it is a terminal, redrawn at most every 100 ms; otherwise, if asked, one line per
//! phase and item on stdout.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use kvmhost::templates::Progress;

/// One bar (or line log) for one piece of work; [`Bar::done`] clears the bar.
pub struct Bar {
    tty: bool,
    /// Off a terminal: print a line when the phase or item changes.
    lines: bool,
    /// Put in front of each line and bar.
    indent: &'static str,
    drawn: Option<Instant>,
    last: Option<(&'static str, String)>,
}

impl Bar {
    /// A bar on a terminal; off one, a line per phase and item when `lines`, else nothing.
    pub fn new(indent: &'static str, lines: bool) -> Bar {
        Bar { tty: std::io::stderr().is_terminal(), lines, indent, drawn: None, last: None }
    }

    pub fn update(&mut self, p: &Progress) {
        if self.tty {
            if self.drawn.is_some_and(|t| t.elapsed() < Duration::from_millis(100)) {
                return;
            }
            self.drawn = Some(Instant::now());
            let line = match p.total.filter(|t| *t > 0) {
                Some(t) => {
                    let frac = (p.done as f64 / t as f64).min(1.0);
                    let filled = (frac * 30.0) as usize;
                    format!(
                        "{} {:<20.20} [{}{}] {:5.1}% {} MiB",
                        p.phase,
                        p.item,
                        "#".repeat(filled),
                        " ".repeat(30 - filled),
                        frac * 100.0,
                        p.done >> 20
                    )
                }
                None => format!("{} {} {} MiB", p.phase, p.item, p.done >> 20),
            };
            eprint!("\r{}{line}\x1b[K", self.indent);
        } else if self.lines && self.last.as_ref().is_none_or(|(phase, item)| *phase != p.phase || *item != p.item) {
            println!("{}{} {}", self.indent, p.phase, p.item);
            self.last = Some((p.phase, p.item.clone()));
        }
    }

    pub fn done(&self) {
        if self.tty {
            eprint!("\r\x1b[K");
        }
    }
}
