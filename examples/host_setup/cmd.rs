//! Running iproute2 and firewall tools inside the target network namespace.
//!
//! A namespace given by name is `/run/netns/NAME` (made by `ip netns add NAME`); commands run
//! there through `nsenter --net=PATH` (util-linux), so `iptables` and `ip` see only that
//! namespace. Without `--netns` they run in the caller's namespace.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where commands and the network engine work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The caller's namespace.
    Current,
    /// A namespace file (`/run/netns/NAME`, `/proc/PID/ns/net`).
    Netns(PathBuf),
}

impl Target {
    /// `NAME` (under /run/netns) or a path; `None` is the caller's namespace.
    pub fn from_arg(arg: Option<&str>) -> Target {
        match arg {
            None => Target::Current,
            Some(p) if p.contains('/') => Target::Netns(PathBuf::from(p)),
            Some(n) => Target::Netns(Path::new("/run/netns").join(n)),
        }
    }

    /// The namespace for kvmhost-net's engine.
    pub fn netns(&self) -> kvmhost::net::Netns {
        match self {
            Target::Current => kvmhost::net::Netns::Current,
            Target::Netns(p) => kvmhost::net::Netns::Path(p.clone()),
        }
    }

    /// The namespace file, when there is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Target::Current => None,
            Target::Netns(p) => Some(p),
        }
    }

    /// `program args…` inside the namespace.
    pub fn command(&self, program: &str, args: &[&str]) -> Command {
        match self {
            Target::Current => {
                let mut c = Command::new(program);
                c.args(args);
                c
            }
            Target::Netns(p) => {
                let mut c = Command::new("nsenter");
                c.arg(format!("--net={}", p.display())).arg("--").arg(program).args(args);
                c
            }
        }
    }

    /// Runs `program args…` inside the namespace; its stdout, or an error with its stderr.
    pub fn run(&self, program: &str, args: &[&str]) -> Result<String, String> {
        let shown = format!("{program} {}", args.join(" "));
        tracing::debug!(command = %shown, netns = ?self.path(), "running");
        let out = self.command(program, args).output().map_err(|e| format!("{shown}: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!("{shown}: {} ({})", String::from_utf8_lossy(&out.stderr).trim(), out.status))
        }
    }

    /// Whether `program args…` succeeds (a probe such as `iptables -C`).
    pub fn succeeds(&self, program: &str, args: &[&str]) -> bool {
        self.command(program, args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

/// Whether `program` is on the PATH (or an executable path).
pub fn have(program: &str) -> bool {
    if program.contains('/') {
        return Path::new(program).is_file();
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path).any(|d| d.join(program).is_file())
}
