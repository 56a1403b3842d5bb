//! Host preflight (`kvmhost_core::preflight`): is this machine ready to be a KVM host?
//!
//! ```sh
//! cargo run --release --example preflight -- [--root DIR] [--profile libvirt|cloudstack|archipel] \
//!     [--json] [--fix [--dry-run]]
//! ```
//!
//! - `--root DIR`: inspect the system under DIR (a fixture, a mounted image) instead of `/`;
//!   syscall-only facts then come from `DIR/kvmhost-facts/live.conf` or are unknown.
//! - `--profile`: `libvirt` (default: `virt-host-validate qemu`'s checks), `cloudstack` (the
//!   CloudStack KVM host guide), `archipel` (Archipel's notes).
//! - `--json`: `{"checks":[{"id","status","message","remedy"}…]}` on stdout (with `--fix`, also
//!   `"fixes":{"dry_run","edits":[{"file","diff","changed","backup"}],"refused":[…]}`).
//! - `--fix`: make the configuration edits that fix failed checks (atomically, each old file
//!   kept as `NAME.kvmhost-bak`), then check again and report that; `--dry-run` prints the
//!   edits as a unified diff and changes nothing. A second `--fix` changes nothing.
//!
//! Exit status: 0 unless a check fails (1), or the fixes could not be written (1); 2 for bad
//! arguments. Human output is an aligned table, coloured on a terminal.

use clap::Parser;
use kvmhost::core::config::{Applied, WriteOptions};
use kvmhost::core::preflight::{plan_fixes, FixPlan, Gatherer, ProfileName, Report, Status};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Is this machine ready to be a KVM host? Host preflight checks, explained, with fixes.
#[derive(Parser)]
#[command(name = "preflight", version)]
struct Args {
    /// Inspect the system under DIR (a fixture, a mounted image) instead of `/`.
    #[arg(long, value_name = "DIR", default_value = "/")]
    root: PathBuf,
    /// The checks to run: libvirt (virt-host-validate's), cloudstack, archipel.
    #[arg(long, value_name = "NAME", default_value = "libvirt")]
    profile: ProfileName,
    /// Print JSON on stdout instead of a table.
    #[arg(long)]
    json: bool,
    /// Make the configuration edits that fix failed checks (atomic, with backups), then check again.
    #[arg(long)]
    fix: bool,
    /// With --fix: print the edits as a unified diff and change nothing.
    #[arg(long, requires = "fix")]
    dry_run: bool,
}

/// Logs to stderr when `RUST_LOG` asks for it (`RUST_LOG=debug` shows each step); errors are
/// printed by the program itself.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off"));
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt().with_env_filter(filter).with_ansi(colour).with_writer(std::io::stderr).init();
}

fn paint(on: bool, status: Status) -> (&'static str, &'static str) {
    if !on {
        return ("", "");
    }
    let c = match status {
        Status::Pass => "\x1b[32m",
        Status::Warn => "\x1b[33m",
        Status::Fail => "\x1b[31m",
        Status::Unknown => "\x1b[35m",
    };
    (c, "\x1b[0m")
}

fn table(out: &mut impl Write, report: &Report, colour: bool) -> std::io::Result<()> {
    let w = report.checks.iter().map(|c| c.id.len()).max().unwrap_or(2);
    writeln!(out, "{:<7}  {:<w$}  MESSAGE", "STATUS", "CHECK")?;
    for c in &report.checks {
        let (on, off) = paint(colour, c.status);
        let status = c.status.to_string().to_uppercase();
        writeln!(out, "{on}{status:<7}{off}  {:<w$}  {}", c.id, c.message)?;
        if let Some(r) = &c.remedy {
            for (i, line) in r.lines().enumerate() {
                let lead = if i == 0 { "remedy:" } else { "" };
                writeln!(out, "{:<7}  {:<w$}  {lead:<8}{line}", "", "")?;
            }
        }
    }
    let n = |s| report.count(s);
    writeln!(
        out,
        "\n{} checks: {} pass, {} warn, {} fail, {} unknown",
        report.checks.len(),
        n(Status::Pass),
        n(Status::Warn),
        n(Status::Fail),
        n(Status::Unknown)
    )
}

fn fixes_json(plan: &FixPlan, dry_run: bool, applied: &[Applied]) -> serde_json::Value {
    let edits: Vec<_> = plan
        .edits
        .iter()
        .map(|e| {
            let a = applied.iter().find(|a| a.path == e.path);
            serde_json::json!({
                "file": e.display,
                "diff": e.diff(),
                "changed": a.is_some_and(|a| a.changed),
                "backup": a.and_then(|a| a.backup.as_ref()).map(|b| b.display().to_string()),
            })
        })
        .collect();
    let refused: Vec<_> = plan
        .refused
        .iter()
        .map(|r| serde_json::json!({"file": r.file, "checks": r.checks, "reason": r.reason}))
        .collect();
    serde_json::json!({"dry_run": dry_run, "edits": edits, "refused": refused})
}

fn main() -> ExitCode {
    let a = Args::parse();
    init_logging();
    let gatherer = Gatherer::new(&a.root);
    let profile = a.profile.profile();
    let mut report = profile.run(&gatherer.gather());
    let mut plan = None;
    let mut applied = Vec::new();
    let mut write_error = None;
    if a.fix {
        let p = plan_fixes(&a.root, &report);
        if !a.dry_run {
            match p.apply(&WriteOptions::default()) {
                Ok(done) => applied = done,
                Err(e) => {
                    let mut msg = e.to_string();
                    let mut src = std::error::Error::source(&e);
                    while let Some(c) = src {
                        msg = format!("{msg}: {c}");
                        src = c.source();
                    }
                    write_error = Some(msg);
                }
            }
            report = profile.run(&gatherer.gather());
        }
        plan = Some(p);
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let colour = !a.json && stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let written = if a.json {
        let mut v = serde_json::to_value(report.contract()).unwrap_or_default();
        if let (Some(p), Some(obj)) = (&plan, v.as_object_mut()) {
            obj.insert("fixes".into(), fixes_json(p, a.dry_run, &applied));
        }
        writeln!(out, "{v}")
    } else {
        let mut r = table(&mut out, &report, colour);
        if let (Some(p), Ok(())) = (&plan, &r) {
            r = (|| {
                let diff = p.diff();
                if a.dry_run {
                    writeln!(
                        out,
                        "\n--fix --dry-run: {} file(s) would change{}",
                        p.edits.len(),
                        if diff.is_empty() { "" } else { ":" }
                    )?;
                    out.write_all(diff.as_bytes())?;
                } else {
                    let changed: Vec<_> = applied.iter().filter(|x| x.changed).collect();
                    writeln!(out, "\n--fix: {} file(s) changed", changed.len())?;
                    for x in changed {
                        let backup =
                            x.backup.as_ref().map(|b| format!(" (backup {})", b.display())).unwrap_or_default();
                        writeln!(out, "  {}{backup}", x.path.display())?;
                    }
                }
                for f in &p.refused {
                    writeln!(out, "not edited: {} ({}): {}", f.file, f.checks.join(", "), f.reason)?;
                }
                Ok(())
            })();
        }
        r
    };
    if written.is_err() {
        return ExitCode::from(1);
    }
    if let Some(e) = write_error {
        eprintln!("preflight: --fix failed: {e}");
        return ExitCode::from(1);
    }
    if report.failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
