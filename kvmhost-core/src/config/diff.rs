//! Unified diffs (`diff -u`) of two texts, for previewing edits.

/// Lines of context around each change.
const CONTEXT: usize = 3;

/// Largest middle section (after trimming the common start and end) compared line by line;
/// beyond it the whole middle is shown as replaced (still a correct diff).
const MAX_CELLS: usize = 4_000_000;

/// The unified diff turning `old` into `new`, labelled `a/LABEL` and `b/LABEL` (`/dev/null`
/// when a side is `None`); empty when the texts are equal.
///
/// ```
/// let d = kvmhost_core::config::unified_diff("/etc/x", Some("a\nb\nc\n"), "a\nB\nc\n");
/// assert_eq!(d, "--- a/etc/x\n+++ b/etc/x\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n");
/// let new = kvmhost_core::config::unified_diff("/f", None, "x\n");
/// assert_eq!(new, "--- /dev/null\n+++ b/f\n@@ -0,0 +1 @@\n+x\n");
/// ```
pub fn unified_diff(label: &str, old: Option<&str>, new: &str) -> String {
    let old_text = old.unwrap_or("");
    if old.is_some() && old_text == new {
        return String::new();
    }
    let a: Vec<&str> = old_text.split_inclusive('\n').collect();
    let b: Vec<&str> = new.split_inclusive('\n').collect();
    let ops = diff_lines(&a, &b);
    let label = label.trim_start_matches('/');
    let mut out = match old {
        Some(_) => format!("--- a/{label}\n+++ b/{label}\n"),
        None => format!("--- /dev/null\n+++ b/{label}\n"),
    };
    // Group the operations into hunks with CONTEXT lines around each change.
    let changed: Vec<usize> =
        ops.iter().enumerate().filter(|(_, o)| !matches!(o, Op::Same(..))).map(|(i, _)| i).collect();
    let mut k = 0;
    while k < changed.len() {
        let start = changed[k].saturating_sub(CONTEXT);
        let mut end = changed[k];
        while k < changed.len() && changed[k] <= end + 2 * CONTEXT {
            end = changed[k];
            k += 1;
        }
        let end = (end + CONTEXT + 1).min(ops.len());
        let (mut a0, mut b0) = (0, 0);
        for op in &ops[..start] {
            let (da, db) = op.advance();
            a0 += da;
            b0 += db;
        }
        let (mut na, mut nb) = (0, 0);
        let mut body = String::new();
        for op in &ops[start..end] {
            let (prefix, line) = match op {
                Op::Same(i) => (' ', a[*i]),
                Op::Del(i) => ('-', a[*i]),
                Op::Add(j) => ('+', b[*j]),
            };
            let (da, db) = op.advance();
            na += da;
            nb += db;
            body.push(prefix);
            body.push_str(line);
            if !line.ends_with('\n') {
                body.push_str("\n\\ No newline at end of file\n");
            }
        }
        out.push_str(&format!("@@ -{} +{} @@\n", range(a0, na), range(b0, nb)));
        out.push_str(&body);
    }
    out
}

fn range(start: usize, len: usize) -> String {
    match len {
        0 => format!("{start},0"),
        1 => format!("{}", start + 1),
        n => format!("{},{n}", start + 1),
    }
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Same(usize),
    Del(usize),
    Add(usize),
}

impl Op {
    fn advance(self) -> (usize, usize) {
        match self {
            Op::Same(..) => (1, 1),
            Op::Del(_) => (1, 0),
            Op::Add(_) => (0, 1),
        }
    }
}

fn diff_lines(a: &[&str], b: &[&str]) -> Vec<Op> {
    let pre = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suf = a[pre..].iter().rev().zip(b[pre..].iter().rev()).take_while(|(x, y)| x == y).count();
    let (am, bm) = (&a[pre..a.len() - suf], &b[pre..b.len() - suf]);
    let mut ops: Vec<Op> = (0..pre).map(Op::Same).collect();
    if am.len().saturating_mul(bm.len()) <= MAX_CELLS {
        // Longest common subsequence, table of suffix lengths.
        let w = bm.len() + 1;
        let mut t = vec![0u32; (am.len() + 1) * w];
        for i in (0..am.len()).rev() {
            for j in (0..bm.len()).rev() {
                t[i * w + j] =
                    if am[i] == bm[j] { t[(i + 1) * w + j + 1] + 1 } else { t[(i + 1) * w + j].max(t[i * w + j + 1]) };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < am.len() || j < bm.len() {
            if i < am.len() && j < bm.len() && am[i] == bm[j] {
                ops.push(Op::Same(pre + i));
                i += 1;
                j += 1;
            } else if i < am.len() && (j == bm.len() || t[(i + 1) * w + j] >= t[i * w + j + 1]) {
                ops.push(Op::Del(pre + i));
                i += 1;
            } else {
                ops.push(Op::Add(pre + j));
                j += 1;
            }
        }
    } else {
        ops.extend((0..am.len()).map(|i| Op::Del(pre + i)));
        ops.extend((0..bm.len()).map(|j| Op::Add(pre + j)));
    }
    let ea = a.len() - suf;
    ops.extend((0..suf).map(|k| Op::Same(ea + k)));
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Applies a unified diff produced here to `old` (enough of `patch` to check round trips).
    fn apply(old: &str, diff: &str) -> String {
        let a: Vec<&str> = old.split_inclusive('\n').collect();
        let mut out = String::new();
        let mut next = 0;
        let mut lines = diff.lines().skip(2).peekable();
        while let Some(h) = lines.next() {
            let start: usize = h[4..].split([',', ' ']).next().unwrap().parse().unwrap();
            let start = if h[4..].split(' ').next().unwrap().ends_with(",0") { start } else { start - 1 };
            out.extend(a[next..start].iter().copied());
            next = start;
            while let Some(l) = lines.peek().filter(|l| !l.starts_with("@@")) {
                match l.as_bytes()[0] {
                    b' ' => {
                        out.push_str(a[next]);
                        next += 1;
                    }
                    b'-' => next += 1,
                    b'+' => {
                        out.push_str(&l[1..]);
                        out.push('\n');
                    }
                    _ => {
                        out.pop();
                    }
                }
                lines.next();
            }
        }
        out.extend(a[next..].iter().copied());
        out
    }

    #[test]
    fn round_trips() {
        let old: String = (0..40).map(|i| format!("line {i}\n")).collect();
        let mut new = old.replace("line 3\n", "three\n").replace("line 30\n", "");
        new.push_str("tail\n");
        let d = unified_diff("f", Some(&old), &new);
        assert_eq!(d.matches("@@ ").count(), 3, "{d}");
        assert_eq!(apply(&old, &d), new);
        assert_eq!(unified_diff("f", Some(&old), &old), "");
        let d = unified_diff("f", Some("a\nb"), "a\nc");
        assert!(d.contains("-b\n\\ No newline at end of file\n+c\n\\ No newline"), "{d}");
    }
}
