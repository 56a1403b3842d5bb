//! Diff of a desired [`OvsConfig`] against a [`Snapshot`]: an ordered, printable [`Plan`], and
//! the OVSDB operations of each step.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::model::{DatapathType, FailMode, FakeBridge, OvsConfig, OvsPort, PortKind};
use super::state::Snapshot;
use crate::ovsdb::{Atom, Condition, Mutation, Mutator, Operation, Row, Uuid, Value};
use crate::Error;

/// One change, in the order it is applied.
///
/// ```
/// use kvmhost_net::ovs::{FakeBridge, Step};
/// let s = Step::AddFakeBridge { parent: "br0".into(), fake: FakeBridge::new("cloudbr0", 200) };
/// assert_eq!(s.to_string(), "add fake bridge cloudbr0 on br0, VLAN 200 (ovs-vsctl add-br cloudbr0 br0 200)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Step {
    /// Remove a port (or fake bridge) from its bridge; OVSDB then drops its rows.
    RemovePort {
        /// Its bridge.
        bridge: String,
        /// Its name.
        name: String,
        /// Its `Port` row.
        uuid: Uuid,
    },
    /// Remove a bridge with its ports.
    RemoveBridge {
        /// Its name.
        name: String,
        /// Its `Bridge` row.
        uuid: Uuid,
    },
    /// Create a bridge with its local internal port.
    AddBridge {
        /// Name.
        name: String,
        /// Datapath.
        datapath_type: DatapathType,
        /// Fail mode.
        fail_mode: Option<FailMode>,
        /// STP.
        stp: bool,
    },
    /// Change a bridge's datapath, fail mode or STP.
    SetBridge {
        /// Name.
        name: String,
        /// Datapath.
        datapath_type: DatapathType,
        /// Fail mode.
        fail_mode: Option<FailMode>,
        /// STP.
        stp: bool,
    },
    /// Add a port with its interface.
    AddPort {
        /// The bridge.
        bridge: String,
        /// The port.
        port: OvsPort,
    },
    /// Change a port's VLAN settings (`tag`, `trunks`, `vlan_mode`).
    SetPort {
        /// The bridge.
        bridge: String,
        /// The port as it should be.
        port: OvsPort,
    },
    /// Add a fake bridge.
    AddFakeBridge {
        /// Parent bridge.
        parent: String,
        /// The fake bridge.
        fake: FakeBridge,
    },
    /// Change a fake bridge's VLAN.
    SetFakeBridge {
        /// Parent bridge.
        parent: String,
        /// The fake bridge as it should be.
        fake: FakeBridge,
    },
}

fn vsctl_port_options(port: &OvsPort) -> String {
    let mut s = String::new();
    if let Some(t) = port.tag {
        s += &format!(" tag={t}");
    }
    if !port.trunks.is_empty() {
        s += &format!(" trunks={}", port.trunks.iter().map(u16::to_string).collect::<Vec<_>>().join(","));
    }
    if let Some(m) = port.vlan_mode {
        s += &format!(" vlan_mode={}", m.as_str());
    }
    s
}

impl Step {
    /// What the step does, in words (`add fake bridge cloudbr0 on br0, VLAN 200`).
    ///
    /// ```
    /// use kvmhost_net::ovs::{FakeBridge, Step};
    /// let s = Step::AddFakeBridge { parent: "br0".into(), fake: FakeBridge::new("cloudbr0", 200) };
    /// assert_eq!(s.summary(), "add fake bridge cloudbr0 on br0, VLAN 200");
    /// ```
    pub fn summary(&self) -> String {
        match self {
            Step::RemovePort { bridge, name, .. } => format!("remove port {name} from {bridge}"),
            Step::RemoveBridge { name, .. } => format!("remove bridge {name}"),
            Step::AddBridge { name, .. } => format!("add bridge {name}"),
            Step::SetBridge { name, .. } => format!("set bridge {name}"),
            Step::AddPort { bridge, port } => format!("add port {} to {bridge}", port.name),
            Step::SetPort { port, .. } => format!("set port {}", port.name),
            Step::AddFakeBridge { parent, fake } => {
                format!("add fake bridge {} on {parent}, VLAN {}", fake.name, fake.vlan)
            }
            Step::SetFakeBridge { parent, fake } => {
                format!("set fake bridge {} on {parent} to VLAN {}", fake.name, fake.vlan)
            }
        }
    }

    /// The `ovs-vsctl` command that does the same.
    ///
    /// ```
    /// use kvmhost_net::ovs::{FakeBridge, Step};
    /// let s = Step::AddFakeBridge { parent: "br0".into(), fake: FakeBridge::new("cloudbr0", 200) };
    /// assert_eq!(s.vsctl(), "ovs-vsctl add-br cloudbr0 br0 200");
    /// ```
    pub fn vsctl(&self) -> String {
        let bridge_opts = |d: &DatapathType, m: &Option<FailMode>, stp: &bool| {
            format!(
                "datapath_type={}{} stp_enable={stp}",
                d.as_str(),
                m.map(|m| format!(" fail_mode={}", m.as_str())).unwrap_or_default()
            )
        };
        match self {
            Step::RemovePort { bridge, name, .. } => format!("ovs-vsctl del-port {bridge} {name}"),
            Step::RemoveBridge { name, .. } => format!("ovs-vsctl del-br {name}"),
            Step::AddBridge { name, datapath_type, fail_mode, stp } => {
                format!("ovs-vsctl add-br {name} -- set bridge {name} {}", bridge_opts(datapath_type, fail_mode, stp))
            }
            Step::SetBridge { name, datapath_type, fail_mode, stp } => {
                format!("ovs-vsctl set bridge {name} {}", bridge_opts(datapath_type, fail_mode, stp))
            }
            Step::AddPort { bridge, port } => {
                let kind = match &port.kind {
                    PortKind::System => String::new(),
                    PortKind::Patch { peer } => {
                        format!(" -- set interface {} type=patch options:peer={peer}", port.name)
                    }
                    k => format!(" -- set interface {} type={}", port.name, k.ovs_type()),
                };
                format!("ovs-vsctl add-port {bridge} {}{}{kind}", port.name, vsctl_port_options(port))
            }
            Step::SetPort { port, .. } => {
                let opts = vsctl_port_options(port);
                if opts.is_empty() {
                    format!("ovs-vsctl clear port {} tag trunks vlan_mode", port.name)
                } else {
                    format!("ovs-vsctl set port {}{opts}", port.name)
                }
            }
            Step::AddFakeBridge { parent, fake } => {
                format!("ovs-vsctl add-br {} {parent} {}", fake.name, fake.vlan)
            }
            Step::SetFakeBridge { fake, .. } => format!("ovs-vsctl set port {} tag={}", fake.name, fake.vlan),
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.summary(), self.vsctl())
    }
}

/// An ordered list of steps taking OVSDB from the state it was computed on to `desired`.
///
/// ```
/// use kvmhost_net::ovs::{OvsConfig, Plan};
/// let p = Plan { desired: OvsConfig::new(), steps: vec![] };
/// assert!(p.is_empty());
/// assert_eq!(p.to_string(), "");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The configuration the plan leads to (what verification compares with).
    pub desired: OvsConfig,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

impl Plan {
    /// No steps: applying would change nothing.
    ///
    /// ```
    /// # use kvmhost_net::ovs::{OvsConfig, Plan};
    /// assert!(Plan { desired: OvsConfig::new(), steps: vec![] }.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.steps.iter().enumerate() {
            writeln!(f, "{:>3}. {s}", i + 1)?;
        }
        Ok(())
    }
}

/// Computes the plan from `current` to `desired` (validated first).
///
/// Order: ports and fake bridges leaving (removed, moved, or changing kind) first, then bridges
/// removed, bridges added or changed, ports added or changed, fake bridges added or changed.
///
/// ```
/// use kvmhost_net::ovs::{plan, CloudStackOvs, OvsConfig, Snapshot};
/// let empty: Snapshot = serde_json::from_value(serde_json::json!({
///     "root": "6e41a0dc-b7f0-4669-84c3-6aa6deaf3ced", "root_bridges": [], "bridges": {}, "ports": {}, "interfaces": {}
/// })).unwrap();
/// let p = plan(&OvsConfig::cloudstack(&CloudStackOvs::new("eth0")), &empty).unwrap();
/// assert_eq!(p.steps.len(), 5); // br0, eth0, mgmt0, cloudbr0, cloudbr1
/// print!("{p}");
/// ```
pub fn plan(desired: &OvsConfig, current: &Snapshot) -> Result<Plan, Error> {
    desired.validate()?;
    let have = current.config();
    let located = current.port_location();
    let have_bridges: BTreeMap<&str, _> = have.bridges.iter().map(|b| (b.name.as_str(), b)).collect();
    let want_bridges: BTreeSet<&str> = desired.bridges.iter().map(|b| b.name.as_str()).collect();

    // What each desired name should be: (bridge, Some(port) | None for a fake bridge).
    let mut wanted: BTreeMap<&str, (&str, Option<OvsPort>, Option<&FakeBridge>)> = BTreeMap::new();
    for b in &desired.bridges {
        // A bridge's name is its local port's: an existing port of that name must go.
        wanted.insert(&b.name, ("", None, None));
    }
    for b in &desired.bridges {
        for p in &b.ports {
            wanted.insert(&p.name, (&b.name, Some(b.resolved_port(p)), None));
        }
        for fb in &b.fake_bridges {
            wanted.insert(&fb.name, (&b.name, None, Some(fb)));
        }
    }
    // Existing ports (not bridges' local ports) as (bridge, port | fake).
    let mut existing: BTreeMap<String, (String, Option<OvsPort>, Option<FakeBridge>)> = BTreeMap::new();
    for b in &have.bridges {
        for p in &b.ports {
            existing.insert(p.name.clone(), (b.name.clone(), Some(p.clone()), None));
        }
        for fb in &b.fake_bridges {
            existing.insert(fb.name.clone(), (b.name.clone(), None, Some(fb.clone())));
        }
    }

    let mut removals = Vec::new();
    let mut bridge_steps = Vec::new();
    let mut port_steps = Vec::new();
    let mut fake_steps = Vec::new();

    let removed_bridges: BTreeSet<&str> = have
        .bridges
        .iter()
        .map(|b| b.name.as_str())
        .filter(|n| !want_bridges.contains(n) && (desired.prune || wanted.contains_key(n)))
        .collect();

    for (name, (bridge, port, fake)) in &existing {
        let keep = match wanted.get(name.as_str()) {
            Some((wb, wp, wf)) => {
                wb == bridge
                    && match (port, wp, fake, wf) {
                        (Some(p), Some(wp), _, _) => p.kind == wp.kind,
                        (_, _, Some(_), Some(_)) => true,
                        _ => false,
                    }
            }
            // Not wanted: removed if its bridge is managed (and not removed as a whole).
            None => !want_bridges.contains(bridge.as_str()),
        };
        if !keep && !removed_bridges.contains(bridge.as_str()) {
            let uuid = located
                .get(name)
                .map(|(_, u)| u.clone())
                .ok_or_else(|| Error::OvsState(format!("port {name} has no row")))?;
            removals.push(Step::RemovePort { bridge: bridge.clone(), name: name.clone(), uuid });
        }
    }
    for name in &removed_bridges {
        let uuid = current.bridge_uuid(name).ok_or_else(|| Error::OvsState(format!("bridge {name} has no row")))?;
        bridge_steps.push(Step::RemoveBridge { name: name.to_string(), uuid });
    }
    for b in &desired.bridges {
        match have_bridges.get(b.name.as_str()) {
            None => bridge_steps.push(Step::AddBridge {
                name: b.name.clone(),
                datapath_type: b.datapath_type,
                fail_mode: b.fail_mode,
                stp: b.stp,
            }),
            Some(h) if (h.datapath_type, h.fail_mode, h.stp) != (b.datapath_type, b.fail_mode, b.stp) => bridge_steps
                .push(Step::SetBridge {
                    name: b.name.clone(),
                    datapath_type: b.datapath_type,
                    fail_mode: b.fail_mode,
                    stp: b.stp,
                }),
            Some(_) => {}
        }
        let removed: BTreeSet<&str> = removals
            .iter()
            .filter_map(|s| if let Step::RemovePort { name, .. } = s { Some(name.as_str()) } else { None })
            .collect();
        for p in &b.ports {
            let p = b.resolved_port(p);
            match existing.get(&p.name) {
                Some((_, Some(have), _)) if !removed.contains(p.name.as_str()) => {
                    if *have != p {
                        port_steps.push(Step::SetPort { bridge: b.name.clone(), port: p })
                    }
                }
                _ => port_steps.push(Step::AddPort { bridge: b.name.clone(), port: p }),
            }
        }
        for fb in &b.fake_bridges {
            match existing.get(&fb.name) {
                Some((_, _, Some(have))) if !removed.contains(fb.name.as_str()) => {
                    if have.vlan != fb.vlan {
                        fake_steps.push(Step::SetFakeBridge { parent: b.name.clone(), fake: fb.clone() })
                    }
                }
                _ => fake_steps.push(Step::AddFakeBridge { parent: b.name.clone(), fake: fb.clone() }),
            }
        }
    }
    let mut steps = removals;
    steps.extend(bridge_steps);
    steps.extend(port_steps);
    steps.extend(fake_steps);
    Ok(Plan { desired: desired.clone(), steps })
}

fn row<const N: usize>(pairs: [(&str, Value); N]) -> Row {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn opt_str(v: Option<&str>) -> Value {
    Value::set(v.map(|s| Atom::String(s.into())))
}

fn port_vlan_columns(tag: Option<u16>, trunks: &[u16], mode: Option<&str>) -> [(&'static str, Value); 3] {
    [
        ("tag", Value::set(tag.map(|t| Atom::Integer(t.into())))),
        ("trunks", Value::set(trunks.iter().map(|t| Atom::Integer((*t).into())))),
        ("vlan_mode", opt_str(mode)),
    ]
}

fn add_to_bridge(bridge: &str, port_ref: Atom) -> Operation {
    Operation::mutate(
        "Bridge",
        vec![Condition::eq("name", bridge)],
        vec![Mutation::new("ports", Mutator::Insert, Value::set([port_ref]))],
    )
}

fn insert_port(n: usize, name: &str, iface: Row, mut port: Row, bridge: &str) -> Vec<Operation> {
    let (i, p) = (format!("iface{n}"), format!("port{n}"));
    port.insert("name".into(), Value::from(name));
    port.insert("interfaces".into(), Value::set([Atom::named(&i)]));
    vec![
        Operation::insert("Interface", iface, Some(&i)),
        Operation::insert("Port", port, Some(&p)),
        add_to_bridge(bridge, Atom::named(&p)),
    ]
}

impl Step {
    /// The OVSDB operations of this step; `n` makes its `named-uuid`s unique when steps share a
    /// transaction. Every `update`/`mutate` must match exactly one row.
    ///
    /// ```
    /// use kvmhost_net::ovs::{FakeBridge, Step};
    /// let ops = Step::AddFakeBridge { parent: "br0".into(), fake: FakeBridge::new("cloudbr0", 200) }.operations(0);
    /// assert_eq!(ops.iter().map(|o| o.name()).collect::<Vec<_>>(), ["insert", "insert", "mutate"]);
    /// assert_eq!(ops[1].to_json()["row"]["fake_bridge"], true);
    /// ```
    pub fn operations(&self, n: usize) -> Vec<Operation> {
        match self {
            Step::RemovePort { bridge, uuid, .. } => vec![Operation::mutate(
                "Bridge",
                vec![Condition::eq("name", bridge.as_str())],
                vec![Mutation::new("ports", Mutator::Delete, Value::set([Atom::Uuid(uuid.clone())]))],
            )],
            Step::RemoveBridge { uuid, .. } => vec![Operation::mutate(
                "Open_vSwitch",
                vec![],
                vec![Mutation::new("bridges", Mutator::Delete, Value::set([Atom::Uuid(uuid.clone())]))],
            )],
            Step::AddBridge { name, datapath_type, fail_mode, stp } => {
                let (i, p, b) = (format!("iface{n}"), format!("port{n}"), format!("bridge{n}"));
                vec![
                    Operation::insert(
                        "Interface",
                        row([("name", Value::from(name.as_str())), ("type", Value::from("internal"))]),
                        Some(&i),
                    ),
                    Operation::insert(
                        "Port",
                        row([("name", Value::from(name.as_str())), ("interfaces", Value::set([Atom::named(&i)]))]),
                        Some(&p),
                    ),
                    Operation::insert(
                        "Bridge",
                        row([
                            ("name", Value::from(name.as_str())),
                            ("ports", Value::set([Atom::named(&p)])),
                            ("datapath_type", Value::from(datapath_type.as_str())),
                            ("fail_mode", opt_str(fail_mode.map(FailMode::as_str))),
                            ("stp_enable", Value::from(*stp)),
                        ]),
                        Some(&b),
                    ),
                    Operation::mutate(
                        "Open_vSwitch",
                        vec![],
                        vec![Mutation::new("bridges", Mutator::Insert, Value::set([Atom::named(&b)]))],
                    ),
                ]
            }
            Step::SetBridge { name, datapath_type, fail_mode, stp } => vec![Operation::update(
                "Bridge",
                vec![Condition::eq("name", name.as_str())],
                row([
                    ("datapath_type", Value::from(datapath_type.as_str())),
                    ("fail_mode", opt_str(fail_mode.map(FailMode::as_str))),
                    ("stp_enable", Value::from(*stp)),
                ]),
            )],
            Step::AddPort { bridge, port } => {
                let mut iface =
                    row([("name", Value::from(port.name.as_str())), ("type", Value::from(port.kind.ovs_type()))]);
                if let PortKind::Patch { peer } = &port.kind {
                    iface.insert("options".into(), Value::string_map([("peer", peer.as_str())]));
                }
                let vlan = port_vlan_columns(port.tag, &port.trunks, port.vlan_mode.map(|m| m.as_str()));
                insert_port(n, &port.name, iface, row(vlan), bridge)
            }
            Step::SetPort { port, .. } => vec![Operation::update(
                "Port",
                vec![Condition::eq("name", port.name.as_str())],
                row(port_vlan_columns(port.tag, &port.trunks, port.vlan_mode.map(|m| m.as_str()))),
            )],
            Step::AddFakeBridge { parent, fake } => {
                let iface = row([("name", Value::from(fake.name.as_str())), ("type", Value::from("internal"))]);
                let port = row([("tag", Value::from(i64::from(fake.vlan))), ("fake_bridge", Value::from(true))]);
                insert_port(n, &fake.name, iface, port, parent)
            }
            Step::SetFakeBridge { fake, .. } => vec![Operation::update(
                "Port",
                vec![Condition::eq("name", fake.name.as_str())],
                row([("tag", Value::from(i64::from(fake.vlan)))]),
            )],
        }
    }
}
