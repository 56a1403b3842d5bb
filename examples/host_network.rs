//! Declarative host networking from the command line.
//!
//! ```text
//! cargo run --example host_network -- [--netns NAME|PATH] [--ovsdb unix:PATH] COMMAND
//!   show                                   current state as YAML
//!   plan FILE                              the steps (nothing applied)
//!   apply FILE                             apply, verify, roll back on failure
//!   render --format networkd|interfaces|ifcfg FILE
//!   cloudstack --uplink IF --backend linux|ovs --mgmt-vlan N --public-vlan N --private-vlan N
//!              --address CIDR --gateway IP [--naming cloudbr|pif-vlan] [--vlans-as-veths]
//!              [--datapath system|netdev] [--plan|--apply]
//! ```
//! FILE is YAML, JSON (`.json`) or TOML (`.toml`). Exit status: 0 done, 1 failed, 2 usage.
//!
//! With `--ovsdb unix:PATH` the Open vSwitch part (the `ovs` section, `--backend ovs`) goes
//! through that ovsdb-server: `show` adds the OVS configuration, `plan` lists the OVS steps first,
//! `apply` applies both with one verification and one rollback. The netlink part works in
//! `--netns`, which must be the namespace ovs-vswitchd runs in when the model puts addresses on
//! OVS interfaces.

use std::error::Error as _;
use std::path::PathBuf;
use std::process::ExitCode;

use kvmhost_net::cloudstack::{BridgeNaming, CloudStackLinux};
use kvmhost_net::ovs::DatapathType;
use kvmhost_net::render::{render, to_text, Format};
use kvmhost_net::{Engine, Error, HostNetwork, Netns};

const USAGE: &str = "usage: host_network [--netns NAME|PATH] [--ovsdb unix:PATH] \
show | plan FILE | apply FILE | render --format networkd|interfaces|ifcfg FILE | \
cloudstack --uplink IF --backend linux|ovs --mgmt-vlan N --public-vlan N --private-vlan N \
--address CIDR --gateway IP [--naming cloudbr|pif-vlan] [--vlans-as-veths] [--datapath system|netdev] \
[--plan|--apply]";

fn usage(msg: &str) -> ExitCode {
    eprintln!("error: {msg}\n{USAGE}");
    ExitCode::from(2)
}

fn report(e: &Error) -> ExitCode {
    eprintln!("error: {e}");
    let mut src = e.source();
    while let Some(s) = src {
        eprintln!("  caused by: {s}");
        src = s.source();
    }
    if let Error::Apply { rollback: Some(rb), .. } = e {
        eprintln!("rollback plan:\n{}", rb.plan);
        if let Some(n) = rb.ovs_operations {
            eprintln!("OVSDB: {n} operations restored the rows captured before");
        }
    }
    ExitCode::from(1)
}

struct Args {
    rest: Vec<String>,
}

impl Args {
    /// Remove `--flag VALUE` and return VALUE.
    fn take(&mut self, flag: &str) -> Result<Option<String>, String> {
        match self.rest.iter().position(|a| a == flag) {
            None => Ok(None),
            Some(i) if i + 1 < self.rest.len() => {
                let v = self.rest.remove(i + 1);
                self.rest.remove(i);
                Ok(Some(v))
            }
            Some(_) => Err(format!("{flag} needs a value")),
        }
    }
    fn switch(&mut self, flag: &str) -> bool {
        let found = self.rest.iter().position(|a| a == flag);
        if let Some(i) = found {
            self.rest.remove(i);
        }
        found.is_some()
    }
    fn need<T: std::str::FromStr>(&mut self, flag: &str) -> Result<T, String>
    where
        T::Err: std::fmt::Display,
    {
        let v = self.take(flag)?.ok_or_else(|| format!("{flag} is required"))?;
        v.parse().map_err(|e| format!("{flag} {v}: {e}"))
    }
}

fn load(path: Option<&String>) -> Result<HostNetwork, ExitCode> {
    let Some(p) = path else { return Err(usage("a FILE is required")) };
    HostNetwork::load(&PathBuf::from(p)).map_err(|e| report(&e))
}

fn plan_or_apply(engine: &Engine, net: &HostNetwork, apply: bool) -> ExitCode {
    if !apply {
        return match engine.plan(net) {
            Ok(p) => {
                print!("{p}");
                ExitCode::SUCCESS
            }
            Err(e) => report(&e),
        };
    }
    match engine.apply(net) {
        Ok(r) => {
            print!("{}", r.plan);
            println!("applied and verified: {} writes ({} OVSDB transactions)", r.writes, r.ovs_writes);
            ExitCode::SUCCESS
        }
        Err(e) => report(&e),
    }
}

fn run(mut args: Args) -> Result<ExitCode, String> {
    let netns = match args.take("--netns")? {
        None => Netns::Current,
        Some(p) if p.contains('/') => Netns::Path(PathBuf::from(p)),
        Some(n) => Netns::named(&n),
    };
    let mut engine = Engine::new(netns);
    if let Some(db) = args.take("--ovsdb")? {
        if !db.starts_with("unix:") && !db.starts_with('/') {
            return Err(format!("--ovsdb {db}: unix:PATH"));
        }
        engine = engine.with_ovsdb(db);
    }
    let Some(cmd) = args.rest.first().cloned() else { return Err("a COMMAND is required".into()) };
    args.rest.remove(0);
    Ok(match cmd.as_str() {
        "show" => match engine.read_state().and_then(|s| Ok((s, engine.read_ovs()?))) {
            Ok((s, ovs)) => {
                print!("{}", s.to_yaml());
                if let Some(cfg) = ovs {
                    let yaml = cfg.to_yaml();
                    print!("ovs:\n{}", yaml.lines().map(|l| format!("  {l}\n")).collect::<String>());
                }
                ExitCode::SUCCESS
            }
            Err(e) => report(&e),
        },
        "plan" | "apply" => match load(args.rest.first()) {
            Ok(net) => plan_or_apply(&engine, &net, cmd == "apply"),
            Err(code) => code,
        },
        "render" => {
            let format: Format = args.need("--format")?;
            match load(args.rest.first()) {
                Ok(net) => match net.validate() {
                    Ok(()) => {
                        print!("{}", to_text(&render(&net, format)));
                        ExitCode::SUCCESS
                    }
                    Err(errs) => report(&errs.into()),
                },
                Err(code) => code,
            }
        }
        "cloudstack" => {
            let backend = args.take("--backend")?.unwrap_or_else(|| "linux".into());
            let mut layout = CloudStackLinux::new(
                &args.need::<String>("--uplink")?,
                args.need("--mgmt-vlan")?,
                args.need("--public-vlan")?,
                args.need("--private-vlan")?,
                args.need("--address")?,
                args.need("--gateway")?,
            );
            match args.take("--naming")?.as_deref() {
                None | Some("cloudbr") => {}
                Some("pif-vlan") => layout = layout.naming(BridgeNaming::PifVlan),
                Some(other) => return Err(format!("--naming {other}: cloudbr or pif-vlan")),
            }
            let (plan, apply) = (args.switch("--plan"), args.switch("--apply"));
            let as_veths = args.switch("--vlans-as-veths");
            let datapath = match args.take("--datapath")?.as_deref() {
                None | Some("system") => DatapathType::System,
                Some("netdev") => DatapathType::Netdev,
                Some(other) => return Err(format!("--datapath {other}: system or netdev")),
            };
            let mut net = match backend.as_str() {
                "linux" => layout.build(),
                "ovs" if as_veths => return Err("--vlans-as-veths is for --backend linux".into()),
                "ovs" => layout.build_ovs(datapath),
                other => return Err(format!("--backend {other}: linux or ovs")),
            };
            if as_veths {
                // For kernels without 802.1Q (tests, demos): veths stand in for the VLAN devices.
                net = kvmhost_net::cloudstack::vlans_as_veths(&net);
            }
            if plan || apply {
                plan_or_apply(&engine, &net, apply)
            } else {
                match net.validate() {
                    Ok(()) => {
                        print!("{}", net.to_yaml());
                        ExitCode::SUCCESS
                    }
                    Err(errs) => report(&errs.into()),
                }
            }
        }
        other => return Err(format!("unknown command {other:?}")),
    })
}

fn main() -> ExitCode {
    let args = Args { rest: std::env::args().skip(1).collect() };
    run(args).unwrap_or_else(|msg| usage(&msg))
}
