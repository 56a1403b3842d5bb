//! Firewall rules opening the CloudStack KVM guide's ports (kvmhost-core's
//! `config::firewall::kvm_host_ports`: 22, 1798, 16509, 16514, 5900-6100, 49152-49216 TCP).
//!
//! Debian 12 ships iptables with the nf_tables backend (`iptables-nft`); the rules go into a
//! chain of their own, `KVMHOST-CLOUDSTACK`, jumped to from the top of `INPUT`, so that undoing
//! them touches nothing else: the jump is deleted and the chain flushed and removed (or, when
//! the chain existed before the run, given back its former rules). `iptables -S` before the run
//! is recorded and compared after a rollback.
//!
//! An accept in iptables' filter table does not override a drop in another nftables base chain:
//! a host whose own `/etc/nftables.conf` drops by default needs the rule in that chain too
//! (kvmhost-core's `firewall::render(FirewallKind::Nftables, …)` prints it); this program does not
//! edit native nftables rulesets.

use kvmhost::core::config::firewall::{kvm_host_ports, Port};
use serde::{Deserialize, Serialize};

use crate::cmd::{have, Target};

/// The chain holding the rules.
pub const CHAIN: &str = "KVMHOST-CLOUDSTACK";

/// Which tool writes the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FirewallChoice {
    /// iptables when installed, else none (with the commands printed).
    Auto,
    /// iptables (nf_tables or legacy backend).
    Iptables,
    /// Leave the firewall alone.
    None,
}

/// The step's plan.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FirewallPlan {
    /// `iptables`, or `none`.
    pub backend: String,
    /// The commands, in order (empty: nothing to do).
    pub commands: Vec<Vec<String>>,
    /// Why nothing is planned, when so.
    pub note: Option<String>,
}

impl FirewallPlan {
    /// The commands as shell lines.
    pub fn lines(&self) -> Vec<String> {
        self.commands.iter().map(|c| c.join(" ")).collect()
    }
}

fn rule(p: &Port) -> Vec<String> {
    let ports = if p.range.first == p.range.last {
        p.range.first.to_string()
    } else {
        format!("{}:{}", p.range.first, p.range.last)
    };
    ["-p", "tcp", "-m", "tcp", "--dport", &ports, "-j", "ACCEPT"].iter().map(|s| s.to_string()).collect()
}

/// The rules of `CHAIN` now (`iptables -S CHAIN` lines `-A …`), `None` when it does not exist.
fn chain_rules(target: &Target) -> Option<Vec<String>> {
    let out = target.run("iptables", &["-w", "-S", CHAIN]).ok()?;
    Some(out.lines().filter(|l| l.starts_with("-A ")).map(str::to_string).collect())
}

fn jump_present(target: &Target) -> bool {
    target.succeeds("iptables", &["-w", "-C", "INPUT", "-j", CHAIN])
}

/// Plans the rules in the target namespace.
pub fn plan(target: &Target, choice: FirewallChoice) -> FirewallPlan {
    let available = have("iptables");
    match choice {
        FirewallChoice::None => {
            return FirewallPlan { backend: "none".into(), commands: vec![], note: Some("--firewall none".into()) }
        }
        FirewallChoice::Auto if !available => {
            return FirewallPlan {
                backend: "none".into(),
                commands: vec![],
                note: Some(
                    "iptables is not installed (apt-get install iptables); rules to add by hand:\n".to_string()
                        + &kvmhost::core::config::firewall::render(
                            kvmhost::core::config::firewall::FirewallKind::Iptables,
                            &kvm_host_ports(),
                        ),
                ),
            }
        }
        _ => {}
    }
    let ipt = |args: Vec<String>| [vec!["iptables".to_string(), "-w".to_string()], args].concat();
    let mut commands = Vec::new();
    let existing = chain_rules(target);
    if existing.is_none() {
        commands.push(ipt(vec!["-N".into(), CHAIN.into()]));
    }
    for p in kvm_host_ports() {
        let r = rule(&p);
        let line = format!("-A {CHAIN} {}", r.join(" "));
        if !existing.as_ref().is_some_and(|e| e.contains(&line)) {
            commands.push(ipt([vec!["-A".to_string(), CHAIN.to_string()], r].concat()));
        }
    }
    if !jump_present(target) {
        commands.push(ipt(vec!["-I".into(), "INPUT".into(), "1".into(), "-j".into(), CHAIN.into()]));
    }
    FirewallPlan { backend: "iptables".into(), commands, note: None }
}

/// What the firewall step changed, to undo it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FirewallRecord {
    /// `iptables -S` before the run.
    pub before: String,
    /// The chain's rules before the run (`None`: it did not exist).
    pub chain_before: Option<Vec<String>>,
    /// Whether `INPUT` jumped to the chain before the run.
    pub jump_before: bool,
}

/// Records the current rules (before [`run`]).
pub fn record(target: &Target) -> Result<FirewallRecord, String> {
    let rec = FirewallRecord {
        before: target.run("iptables", &["-w", "-S"])?,
        chain_before: chain_rules(target),
        jump_before: jump_present(target),
    };
    Ok(rec)
}

/// Runs the plan's commands (after the record is saved).
pub fn run(target: &Target, plan: &FirewallPlan) -> Result<(), String> {
    for c in &plan.commands {
        let args: Vec<&str> = c[1..].iter().map(String::as_str).collect();
        target.run(&c[0], &args)?;
        tracing::info!(command = %c.join(" "), "firewall rule");
    }
    Ok(())
}

/// How the firewall came back.
#[derive(Debug, Clone, Serialize)]
pub struct FirewallRollback {
    /// Commands run.
    pub commands: Vec<String>,
    /// Whether `iptables -S` equals the recorded one.
    pub restored: bool,
}

/// Undoes the firewall step.
pub fn rollback(target: &Target, rec: &FirewallRecord) -> Result<FirewallRollback, String> {
    let mut commands = Vec::new();
    let mut ipt = |args: &[&str]| -> Result<(), String> {
        commands.push(format!("iptables {}", args.join(" ")));
        target.run("iptables", args).map(|_| ())
    };
    if !rec.jump_before {
        while jump_present(target) {
            ipt(&["-w", "-D", "INPUT", "-j", CHAIN])?;
        }
    }
    if chain_rules(target).is_some() {
        ipt(&["-w", "-F", CHAIN])?;
        match &rec.chain_before {
            None => ipt(&["-w", "-X", CHAIN])?,
            Some(rules) => {
                for r in rules {
                    let words: Vec<&str> = r.split_whitespace().collect();
                    ipt(&[&["-w"], &words[..]].concat())?;
                }
            }
        }
    }
    let now = target.run("iptables", &["-w", "-S"])?;
    Ok(FirewallRollback { commands, restored: now == rec.before })
}
