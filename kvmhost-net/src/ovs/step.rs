//! One Open vSwitch change ([`OvsStep`]): its words, its `ovs-vsctl` equivalent and its OVSDB
//! operations.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::model::{DatapathType, FailMode, FakeBridge, OvsPort, PortKind};
use crate::ovsdb::{Atom, Condition, Mutation, Mutator, Operation, Row, Uuid, Value};

/// One change, in the order it is applied.
///
/// ```
/// use kvmhost_net::ovs::{FakeBridge, OvsStep};
/// let s = OvsStep::AddFakeBridge { parent: "br0".into(), fake: FakeBridge::new("cloudbr0", 200) };
/// assert_eq!(s.to_string(), "add fake bridge cloudbr0 on br0, VLAN 200 (ovs-vsctl add-br cloudbr0 br0 200)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum OvsStep {
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

impl OvsStep {
    /// The bridge, port or fake bridge the step is about.
    ///
    /// ```
    /// use kvmhost_net::ovs::{FakeBridge, OvsStep};
    /// let s = OvsStep::AddFakeBridge { parent: "br0".into(), fake: FakeBridge::new("cloudbr0", 200) };
    /// assert_eq!(s.name(), "cloudbr0");
    /// ```
    pub fn name(&self) -> &str {
        match self {
            OvsStep::RemovePort { name, .. }
            | OvsStep::RemoveBridge { name, .. }
            | OvsStep::AddBridge { name, .. }
            | OvsStep::SetBridge { name, .. } => name,
            OvsStep::AddPort { port, .. } | OvsStep::SetPort { port, .. } => &port.name,
            OvsStep::AddFakeBridge { fake, .. } | OvsStep::SetFakeBridge { fake, .. } => &fake.name,
        }
    }

    /// What the step does, in words (`add fake bridge cloudbr0 on br0, VLAN 200`).
    ///
    /// ```
    /// use kvmhost_net::ovs::{FakeBridge, OvsStep};
    /// let s = OvsStep::AddFakeBridge { parent: "br0".into(), fake: FakeBridge::new("cloudbr0", 200) };
    /// assert_eq!(s.summary(), "add fake bridge cloudbr0 on br0, VLAN 200");
    /// ```
    pub fn summary(&self) -> String {
        match self {
            OvsStep::RemovePort { bridge, name, .. } => format!("remove port {name} from {bridge}"),
            OvsStep::RemoveBridge { name, .. } => format!("remove bridge {name}"),
            OvsStep::AddBridge { name, .. } => format!("add bridge {name}"),
            OvsStep::SetBridge { name, .. } => format!("set bridge {name}"),
            OvsStep::AddPort { bridge, port } => format!("add port {} to {bridge}", port.name),
            OvsStep::SetPort { port, .. } => format!("set port {}", port.name),
            OvsStep::AddFakeBridge { parent, fake } => {
                format!("add fake bridge {} on {parent}, VLAN {}", fake.name, fake.vlan)
            }
            OvsStep::SetFakeBridge { parent, fake } => {
                format!("set fake bridge {} on {parent} to VLAN {}", fake.name, fake.vlan)
            }
        }
    }

    /// The `ovs-vsctl` command that does the same.
    ///
    /// ```
    /// use kvmhost_net::ovs::{FakeBridge, OvsStep};
    /// let s = OvsStep::AddFakeBridge { parent: "br0".into(), fake: FakeBridge::new("cloudbr0", 200) };
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
            OvsStep::RemovePort { bridge, name, .. } => format!("ovs-vsctl del-port {bridge} {name}"),
            OvsStep::RemoveBridge { name, .. } => format!("ovs-vsctl del-br {name}"),
            OvsStep::AddBridge { name, datapath_type, fail_mode, stp } => {
                format!("ovs-vsctl add-br {name} -- set bridge {name} {}", bridge_opts(datapath_type, fail_mode, stp))
            }
            OvsStep::SetBridge { name, datapath_type, fail_mode, stp } => {
                format!("ovs-vsctl set bridge {name} {}", bridge_opts(datapath_type, fail_mode, stp))
            }
            OvsStep::AddPort { bridge, port } => {
                let kind = match &port.kind {
                    PortKind::System => String::new(),
                    PortKind::Patch { peer } => {
                        format!(" -- set interface {} type=patch options:peer={peer}", port.name)
                    }
                    k => format!(" -- set interface {} type={}", port.name, k.ovs_type()),
                };
                format!("ovs-vsctl add-port {bridge} {}{}{kind}", port.name, vsctl_port_options(port))
            }
            OvsStep::SetPort { port, .. } => {
                let opts = vsctl_port_options(port);
                if opts.is_empty() {
                    format!("ovs-vsctl clear port {} tag trunks vlan_mode", port.name)
                } else {
                    format!("ovs-vsctl set port {}{opts}", port.name)
                }
            }
            OvsStep::AddFakeBridge { parent, fake } => {
                format!("ovs-vsctl add-br {} {parent} {}", fake.name, fake.vlan)
            }
            OvsStep::SetFakeBridge { fake, .. } => format!("ovs-vsctl set port {} tag={}", fake.name, fake.vlan),
        }
    }
}

impl fmt::Display for OvsStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.summary(), self.vsctl())
    }
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

impl OvsStep {
    /// The OVSDB operations of this step; `n` makes its `named-uuid`s unique when steps share a
    /// transaction. Every `update`/`mutate` must match exactly one row.
    ///
    /// ```
    /// use kvmhost_net::ovs::{FakeBridge, OvsStep};
    /// let ops = OvsStep::AddFakeBridge { parent: "br0".into(), fake: FakeBridge::new("cloudbr0", 200) }.operations(0);
    /// assert_eq!(ops.iter().map(|o| o.name()).collect::<Vec<_>>(), ["insert", "insert", "mutate"]);
    /// assert_eq!(ops[1].to_json()["row"]["fake_bridge"], true);
    /// ```
    pub fn operations(&self, n: usize) -> Vec<Operation> {
        match self {
            OvsStep::RemovePort { bridge, uuid, .. } => vec![Operation::mutate(
                "Bridge",
                vec![Condition::eq("name", bridge.as_str())],
                vec![Mutation::new("ports", Mutator::Delete, Value::set([Atom::Uuid(uuid.clone())]))],
            )],
            OvsStep::RemoveBridge { uuid, .. } => vec![Operation::mutate(
                "Open_vSwitch",
                vec![],
                vec![Mutation::new("bridges", Mutator::Delete, Value::set([Atom::Uuid(uuid.clone())]))],
            )],
            OvsStep::AddBridge { name, datapath_type, fail_mode, stp } => {
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
            OvsStep::SetBridge { name, datapath_type, fail_mode, stp } => vec![Operation::update(
                "Bridge",
                vec![Condition::eq("name", name.as_str())],
                row([
                    ("datapath_type", Value::from(datapath_type.as_str())),
                    ("fail_mode", opt_str(fail_mode.map(FailMode::as_str))),
                    ("stp_enable", Value::from(*stp)),
                ]),
            )],
            OvsStep::AddPort { bridge, port } => {
                let mut iface =
                    row([("name", Value::from(port.name.as_str())), ("type", Value::from(port.kind.ovs_type()))]);
                if let PortKind::Patch { peer } = &port.kind {
                    iface.insert("options".into(), Value::string_map([("peer", peer.as_str())]));
                }
                let vlan = port_vlan_columns(port.tag, &port.trunks, port.vlan_mode.map(|m| m.as_str()));
                insert_port(n, &port.name, iface, row(vlan), bridge)
            }
            OvsStep::SetPort { port, .. } => vec![Operation::update(
                "Port",
                vec![Condition::eq("name", port.name.as_str())],
                row(port_vlan_columns(port.tag, &port.trunks, port.vlan_mode.map(|m| m.as_str()))),
            )],
            OvsStep::AddFakeBridge { parent, fake } => {
                let iface = row([("name", Value::from(fake.name.as_str())), ("type", Value::from("internal"))]);
                let port = row([("tag", Value::from(i64::from(fake.vlan))), ("fake_bridge", Value::from(true))]);
                insert_port(n, &fake.name, iface, port, parent)
            }
            OvsStep::SetFakeBridge { fake, .. } => vec![Operation::update(
                "Port",
                vec![Condition::eq("name", fake.name.as_str())],
                row([("tag", Value::from(i64::from(fake.vlan)))]),
            )],
        }
    }
}
