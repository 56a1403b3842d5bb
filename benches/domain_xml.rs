//! Domain XML throughput over libvirt's whole domain corpus (issue 2).
//!
//! Three measurements over the same pre-loaded documents (`libvirt-9.0.0/domain/**/*.xml`),
//! each reported by criterion as documents per second (`Throughput::Elements`):
//!
//! * `kvmhost_parse_write`: `Domain::parse` then `to_xml` of every document;
//! * `kvmhost_parse`: `Domain::parse` only;
//! * `quick_xml_raw_scan`: every quick-xml event read and dropped (the floor any
//!   quick-xml-based parser pays).
//!
//! The corpus is found like the tests find it (`KVMHOST_TESTDATA`, default
//! `../shared/testdata`); without it the bench prints why and measures nothing.
//! `scripts/bench.sh` runs this together with the virtinst comparison and prints the ratios.
//!
//! Run: `cargo bench --bench domain_xml`.
//!
//! `cargo bench --bench domain_xml -- --paired` instead times parse + write and the raw scan
//! alternately, 400 rounds (the order swapped every round; in each, every timed whole-corpus
//! pass follows an untimed one of the same function, so both are timed with their own data in
//! the caches), and prints the median of the per-round ratios with its quartiles: on a shared
//! machine, where criterion's one-function-after-the-other runs see different loads, this
//! paired ratio is the steady figure.
//!
//! `cargo bench --bench domain_xml -- --phases` times the three phases of parse + write
//! separately, document by document (`Domain::parse`, `to_xml`, dropping the domain; each
//! figure includes one clock read per document), 400 whole-corpus passes, and prints the
//! median pass of each: where a difference between two builds lies. With `--kept` as well, each
//! pass parses every document first and keeps them, then writes them all, then drops them all
//! (a program holding many domains), each of the three timed as a whole.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput};
use kvmhost_core::domain::Domain;
use quick_xml::events::Event;
use quick_xml::Reader;

/// All corpus documents, or why there are none.
fn load_corpus() -> Result<Vec<String>, String> {
    let corpus = kvmhost_testdata::libvirt_corpus().ok_or_else(|| {
        format!(
            "libvirt corpus not found (set {} to the directory holding libvirt-9.0.0/)",
            kvmhost_testdata::TESTDATA_ENV
        )
    })?;
    let dir = corpus.join("domain");
    let files = kvmhost_testdata::xml_files(&dir);
    if files.is_empty() {
        return Err(format!("no *.xml files under {}", dir.display()));
    }
    files.iter().map(|p| std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))).collect()
}

fn raw_scan(doc: &str) -> usize {
    let mut reader = Reader::from_str(doc);
    reader.config_mut().trim_text(false);
    let mut events = 0usize;
    loop {
        match reader.read_event() {
            Ok(Event::Eof) => break,
            Ok(e) => {
                black_box(&e);
                events += 1;
            }
            Err(e) => panic!("quick-xml failed on a corpus document: {e}"),
        }
    }
    events
}

fn bench_domain_xml(c: &mut Criterion) {
    let docs = match load_corpus() {
        Ok(d) => d,
        Err(why) => {
            eprintln!("domain_xml bench skipped: {why}");
            return;
        }
    };
    // Documents the model rejects would make the two kvmhost measurements time error paths;
    // report them and measure all three functions on the documents that parse.
    let (docs, rejected): (Vec<String>, Vec<String>) = docs.into_iter().partition(|d| Domain::parse(d).is_ok());
    let bytes: usize = docs.iter().map(String::len).sum();
    eprintln!(
        "domain_xml: {} documents ({bytes} bytes) measured; {} rejected by Domain::parse and excluded",
        docs.len(),
        rejected.len()
    );
    if docs.is_empty() {
        return;
    }

    let mut group = c.benchmark_group("domain_xml");
    group.throughput(Throughput::Elements(docs.len() as u64));
    // Flat sampling: every sample runs the same number of whole-corpus passes, so 20 samples
    // fit the 5 s budget even though one pass takes tens of milliseconds.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(2));
    group.measurement_time(Duration::from_secs(5));

    group.bench_function("kvmhost_parse_write", |b| {
        b.iter(|| {
            let mut out = 0usize;
            for d in &docs {
                out += parse_write(black_box(d));
            }
            out
        })
    });
    group.bench_function("kvmhost_parse", |b| {
        b.iter(|| {
            for d in &docs {
                black_box(Domain::parse(black_box(d)).expect("parse"));
            }
        })
    });
    group.bench_function("quick_xml_raw_scan", |b| {
        b.iter(|| {
            let mut events = 0usize;
            for d in &docs {
                events += raw_scan(black_box(d));
            }
            events
        })
    });
    group.finish();
}

/// One whole-corpus pass of `f`, timed.
fn timed_pass(docs: &[String], f: impl Fn(&str) -> usize) -> (std::time::Duration, usize) {
    let t = std::time::Instant::now();
    let mut out = 0usize;
    for d in docs {
        out += f(black_box(d));
    }
    (t.elapsed(), black_box(out))
}

fn parse_write(d: &str) -> usize {
    let dom = Domain::parse(d).expect("parse");
    dom.to_xml().expect("write").len()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Parse + write and the raw scan timed alternately, round by round (the order swapped every
/// round), so that the shared machine's load changes hit both sides alike; the ratio of each
/// round's pair is the paired figure, reported as the median over all rounds with its spread.
fn paired_ratio(docs: &[String], rounds: usize) {
    for _ in 0..3 {
        timed_pass(docs, parse_write);
        timed_pass(docs, raw_scan);
    }
    // Each timed pass follows an untimed pass of the same function, so that both sides are
    // timed with their own working set in the caches (as criterion's repeated iterations
    // are), not with what the other side left there.
    let warm = |f: fn(&str) -> usize| {
        timed_pass(docs, f);
        timed_pass(docs, f).0
    };
    let (mut ours, mut floor, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let (a, b) = if round % 2 == 0 {
            let a = warm(parse_write);
            (a, warm(raw_scan))
        } else {
            let b = warm(raw_scan);
            (warm(parse_write), b)
        };
        ours.push(a.as_secs_f64() * 1e3);
        floor.push(b.as_secs_f64() * 1e3);
        ratios.push(a.as_secs_f64() / b.as_secs_f64());
    }
    let (o, f) = (median(&mut ours), median(&mut floor));
    let r = median(&mut ratios);
    let (q1, q3) = (ratios[rounds / 4], ratios[rounds * 3 / 4]);
    println!(
        "domain_xml paired ({rounds} alternating rounds of whole-corpus passes, medians): \
         parse+write {o:.3} ms ({:.0} docs/s), raw scan {f:.3} ms ({:.0} docs/s), \
         ratio of pairs {r:.2}x (quartiles {q1:.2}x-{q3:.2}x)",
        docs.len() as f64 / o * 1e3,
        docs.len() as f64 / f * 1e3,
    );
    // The same figures for scripts (scripts/bench.sh reads this line).
    println!(
        "{{\"rounds\":{rounds},\"documents\":{},\"parse_write_ms\":{o:.4},\"raw_scan_ms\":{f:.4},\
         \"ratio_median\":{r:.4},\"ratio_q1\":{q1:.4},\"ratio_q3\":{q3:.4}}}",
        docs.len()
    );
}

type Duration3 = (std::time::Duration, std::time::Duration, std::time::Duration);

/// One pass, document by document: each parsed, written and dropped before the next.
fn pass_each(docs: &[String]) -> Duration3 {
    let mut t = Duration3::default();
    for doc in docs {
        let t0 = std::time::Instant::now();
        let dom = Domain::parse(black_box(doc)).expect("parse");
        let t1 = std::time::Instant::now();
        black_box(dom.to_xml().expect("write").len());
        let t2 = std::time::Instant::now();
        std::mem::drop(black_box(dom));
        let t3 = std::time::Instant::now();
        t = (t.0 + (t1 - t0), t.1 + (t2 - t1), t.2 + (t3 - t2));
    }
    t
}

/// One pass with every document kept: all parsed, then all written, then all dropped (as a
/// program holding many domains does).
fn pass_kept(docs: &[String]) -> Duration3 {
    let t0 = std::time::Instant::now();
    let doms: Vec<Domain> = docs.iter().map(|d| Domain::parse(black_box(d)).expect("parse")).collect();
    let t1 = std::time::Instant::now();
    black_box(doms.iter().map(|d| d.to_xml().expect("write").len()).sum::<usize>());
    let t2 = std::time::Instant::now();
    std::mem::drop(black_box(doms));
    (t1 - t0, t2 - t1, t2.elapsed())
}

/// Parse, write and drop timed separately (`pass_each`, or `pass_kept` with `--kept`); the
/// medians over `passes` whole-corpus passes (after 20 untimed ones).
fn phases(docs: &[String], passes: usize, kept: bool) {
    let (mut parse, mut write, mut drops) = (Vec::new(), Vec::new(), Vec::new());
    for pass in 0..passes + 20 {
        let (p, w, d) = if kept { pass_kept(docs) } else { pass_each(docs) };
        if pass >= 20 {
            parse.push(p.as_secs_f64() * 1e3);
            write.push(w.as_secs_f64() * 1e3);
            drops.push(d.as_secs_f64() * 1e3);
        }
    }
    let (p, w, d) = (median(&mut parse), median(&mut write), median(&mut drops));
    let how = if kept { "documents kept" } else { "document by document" };
    println!(
        "domain_xml phases ({passes} whole-corpus passes, {how}, medians, ms per pass): parse {p:.4}, write {w:.4}, drop {d:.4}"
    );
    println!(
        "{{\"passes\":{passes},\"kept\":{kept},\"documents\":{},\"parse_ms\":{p:.4},\"write_ms\":{w:.4},\"drop_ms\":{d:.4}}}",
        docs.len()
    );
}

fn main() {
    if std::env::args().any(|a| a == "--phases") {
        match load_corpus() {
            Ok(docs) => phases(&docs, 400, std::env::args().any(|a| a == "--kept")),
            Err(why) => eprintln!("domain_xml phases measurement skipped: {why}"),
        }
        return;
    }
    if std::env::args().any(|a| a == "--paired") {
        match load_corpus() {
            Ok(docs) => paired_ratio(&docs, 400),
            Err(why) => eprintln!("domain_xml paired measurement skipped: {why}"),
        }
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    bench_domain_xml(&mut c);
    c.final_summary();
}
