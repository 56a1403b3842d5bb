//! Reading Open vSwitch's configuration from OVSDB: the raw rows ([`Snapshot`], what rollback
//! restores) and the model view of them ([`OvsConfig`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::model::{DatapathType, FailMode, FakeBridge, OvsBridge, OvsConfig, OvsPort, PortKind, VlanMode};
#[cfg(feature = "ovsdb")]
use super::DB;
#[cfg(feature = "ovsdb")]
use crate::ovsdb::Client;
use crate::ovsdb::{Atom, Operation, Row, Uuid, Value};
use crate::Error;

/// Columns of `Bridge` that a snapshot captures and a rollback restores.
pub const BRIDGE_COLUMNS: &[&str] =
    &["name", "ports", "datapath_type", "fail_mode", "stp_enable", "protocols", "other_config", "external_ids"];
/// Columns of `Port` that a snapshot captures and a rollback restores.
pub const PORT_COLUMNS: &[&str] =
    &["name", "interfaces", "tag", "trunks", "vlan_mode", "fake_bridge", "other_config", "external_ids"];
/// Columns of `Interface` that a snapshot captures and a rollback restores.
pub const INTERFACE_COLUMNS: &[&str] = &["name", "type", "options", "mtu_request", "other_config", "external_ids"];

/// The configuration rows of the `Open_vSwitch` database that this module manages: the root
/// row's `bridges` and every `Bridge`, `Port` and `Interface` row (configuration columns only,
/// not the status columns ovs-vswitchd writes), by UUID, values in canonical form.
///
/// ```no_run
/// # fn demo(c: &mut kvmhost_net::ovsdb::Client) -> Result<(), kvmhost_net::Error> {
/// use kvmhost_net::ovs::Snapshot;
/// let before = Snapshot::capture(c)?;
/// println!("{} ports", before.ports.len());
/// assert_eq!(Snapshot::capture(c)?, before);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// UUID of the `Open_vSwitch` root row.
    pub root: Uuid,
    /// `Open_vSwitch.bridges`, sorted.
    pub root_bridges: Vec<Uuid>,
    /// `Bridge` rows.
    pub bridges: BTreeMap<Uuid, Row>,
    /// `Port` rows.
    pub ports: BTreeMap<Uuid, Row>,
    /// `Interface` rows.
    pub interfaces: BTreeMap<Uuid, Row>,
}

#[cfg_attr(not(feature = "ovsdb"), allow(dead_code))]
fn with_uuid(cols: &[&str]) -> Vec<String> {
    std::iter::once("_uuid").chain(cols.iter().copied()).map(str::to_string).collect()
}

#[cfg_attr(not(feature = "ovsdb"), allow(dead_code))]
fn select(table: &str, cols: &[&str]) -> Operation {
    Operation::Select { table: table.into(), conditions: vec![], columns: Some(with_uuid(cols)) }
}

#[cfg_attr(not(feature = "ovsdb"), allow(dead_code))]
fn keyed(rows: &[Row]) -> Result<BTreeMap<Uuid, Row>, Error> {
    let mut out = BTreeMap::new();
    for row in rows {
        let mut row: Row = row.iter().map(|(k, v)| (k.clone(), v.normalized())).collect();
        let uuid = match row.remove("_uuid") {
            Some(Value::Atom(Atom::Uuid(u))) => u,
            other => return Err(Error::OvsState(format!("row without _uuid: {other:?}"))),
        };
        out.insert(uuid, row);
    }
    Ok(out)
}

/// The UUIDs of a reference column.
pub(crate) fn refs(row: &Row, column: &str) -> Vec<Uuid> {
    row.get(column)
        .map(|v| v.atoms().into_iter().filter_map(|a| if let Atom::Uuid(u) = a { Some(u) } else { None }).collect())
        .unwrap_or_default()
}

fn int(row: &Row, column: &str) -> Option<i64> {
    row.get(column)?.atoms().into_iter().find_map(|a| if let Atom::Integer(i) = a { Some(i) } else { None })
}

fn string(row: &Row, column: &str) -> Option<String> {
    row.get(column)?.atoms().into_iter().find_map(|a| if let Atom::String(s) = a { Some(s) } else { None })
}

fn name(row: &Row) -> String {
    string(row, "name").unwrap_or_default()
}

impl Snapshot {
    /// Reads the rows in one `transact` of four `select`s.
    ///
    /// ```no_run
    /// # fn demo(c: &mut kvmhost_net::ovsdb::Client) -> Result<(), kvmhost_net::Error> {
    /// let s = kvmhost_net::ovs::Snapshot::capture(c)?;
    /// println!("{:?}", s.bridge_names());
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "ovsdb")]
    pub fn capture(client: &mut Client) -> Result<Self, Error> {
        Ok(Snapshot::capture_after(client, Vec::new())?.0)
    }

    /// Runs `leading` operations, then captures, in one transaction; returns the snapshot and
    /// the results of `leading`.
    #[cfg(feature = "ovsdb")]
    pub(crate) fn capture_after(
        client: &mut Client,
        mut ops: Vec<Operation>,
    ) -> Result<(Self, Vec<crate::ovsdb::OpResult>), Error> {
        let lead = ops.len();
        ops.extend([
            select("Open_vSwitch", &["bridges"]),
            select("Bridge", BRIDGE_COLUMNS),
            select("Port", PORT_COLUMNS),
            select("Interface", INTERFACE_COLUMNS),
        ]);
        let mut r = client.transact(DB, &ops)?;
        let rest = r.split_off(lead);
        let roots = keyed(rest[0].rows())?;
        let (root, root_row) = roots.into_iter().next().ok_or(Error::NoRootRow)?;
        let mut root_bridges = refs(&root_row, "bridges");
        root_bridges.sort();
        let snapshot = Snapshot {
            root,
            root_bridges,
            bridges: keyed(rest[1].rows())?,
            ports: keyed(rest[2].rows())?,
            interfaces: keyed(rest[3].rows())?,
        };
        Ok((snapshot, r))
    }

    /// Names of the bridges attached to the root row, sorted.
    ///
    /// ```no_run
    /// # fn demo(s: &kvmhost_net::ovs::Snapshot) { assert!(s.bridge_names().is_sorted()); }
    /// ```
    pub fn bridge_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.root_bridges.iter().filter_map(|u| self.bridges.get(u)).map(name).collect();
        v.sort();
        v
    }

    /// Where a port or bridge name is: `(bridge name, port UUID)` of the port with this name.
    pub(crate) fn port_location(&self) -> BTreeMap<String, (String, Uuid)> {
        let mut out = BTreeMap::new();
        for bu in &self.root_bridges {
            let Some(b) = self.bridges.get(bu) else { continue };
            for pu in refs(b, "ports") {
                if let Some(p) = self.ports.get(&pu) {
                    out.insert(name(p), (name(b), pu));
                }
            }
        }
        out
    }

    /// The UUID of the attached bridge with this name.
    pub(crate) fn bridge_uuid(&self, bridge: &str) -> Option<Uuid> {
        self.root_bridges.iter().find(|u| self.bridges.get(*u).is_some_and(|b| name(b) == bridge)).cloned()
    }

    /// The model view: bridges sorted by name, each with its ports (the bridge's own local port
    /// left out) and fake bridges sorted by name.
    ///
    /// ```no_run
    /// # fn demo(s: &kvmhost_net::ovs::Snapshot) {
    /// for b in s.config().bridges { println!("{} {:?}", b.name, b.datapath_type); }
    /// # }
    /// ```
    pub fn config(&self) -> OvsConfig {
        let mut bridges = Vec::new();
        for bu in &self.root_bridges {
            let Some(b) = self.bridges.get(bu) else { continue };
            let bname = name(b);
            let mut bridge = OvsBridge::new(&bname);
            bridge.datapath_type = match string(b, "datapath_type").as_deref() {
                Some("netdev") => DatapathType::Netdev,
                _ => DatapathType::System,
            };
            bridge.fail_mode = match string(b, "fail_mode").as_deref() {
                Some("secure") => Some(FailMode::Secure),
                Some("standalone") => Some(FailMode::Standalone),
                _ => None,
            };
            bridge.stp = b.get("stp_enable") == Some(&Value::from(true));
            for pu in refs(b, "ports") {
                let Some(p) = self.ports.get(&pu) else { continue };
                let pname = name(p);
                if pname == bname {
                    continue;
                }
                let tag = int(p, "tag").and_then(|t| u16::try_from(t).ok());
                if p.get("fake_bridge") == Some(&Value::from(true)) {
                    bridge.fake_bridges.push(FakeBridge::new(&pname, tag.unwrap_or(0)));
                    continue;
                }
                let iface =
                    refs(p, "interfaces").first().and_then(|iu| self.interfaces.get(iu)).cloned().unwrap_or_default();
                let kind = match string(&iface, "type").unwrap_or_default().as_str() {
                    "" | "system" => PortKind::System,
                    "internal" => PortKind::Internal,
                    "tap" => PortKind::Tap,
                    "patch" => PortKind::Patch {
                        peer: iface
                            .get("options")
                            .map(|o| o.to_string_map())
                            .unwrap_or_default()
                            .remove("peer")
                            .unwrap_or_default(),
                    },
                    other => PortKind::Other(other.to_string()),
                };
                let mut trunks: Vec<u16> = p
                    .get("trunks")
                    .map(|v| {
                        v.atoms()
                            .into_iter()
                            .filter_map(|a| if let Atom::Integer(i) = a { u16::try_from(i).ok() } else { None })
                            .collect()
                    })
                    .unwrap_or_default();
                trunks.sort_unstable();
                let mut port = OvsPort::new(&pname).kind(kind);
                port.tag = tag;
                port.trunks = trunks;
                port.vlan_mode = string(p, "vlan_mode").as_deref().and_then(VlanMode::parse);
                bridge.ports.push(port);
            }
            bridge.ports.sort_by(|a, b| a.name.cmp(&b.name));
            bridge.fake_bridges.sort_by(|a, b| a.name.cmp(&b.name));
            bridges.push(bridge);
        }
        bridges.sort_by(|a, b| a.name.cmp(&b.name));
        OvsConfig { bridges, prune: false }
    }
}

impl Snapshot {
    /// The rows OVSDB would hold for `cfg` (as `ovs-vsctl` would create them), with made-up
    /// UUIDs: for planning without a database and for tests.
    ///
    /// ```
    /// use kvmhost_net::ovs::{plan, CloudStackOvs, OvsConfig, Snapshot};
    /// let cfg = OvsConfig::cloudstack(&CloudStackOvs::new("eth0"));
    /// let s = Snapshot::synthetic(&cfg);
    /// assert_eq!(s.config().bridges[0].fake_bridges.len(), 3); // read back sorted by name
    /// assert!(plan(&cfg, &s).unwrap().is_empty());
    /// ```
    pub fn synthetic(cfg: &OvsConfig) -> Snapshot {
        let mut n = 0u64;
        let mut next = || {
            n += 1;
            Uuid::parse(&format!("00000000-0000-4000-8000-{n:012x}")).expect("well-formed")
        };
        let root = next();
        let mut s = Snapshot {
            root,
            root_bridges: Vec::new(),
            bridges: BTreeMap::new(),
            ports: BTreeMap::new(),
            interfaces: BTreeMap::new(),
        };
        let set = |atoms: Vec<Atom>| Value::set(atoms).normalized();
        let ints = |v: &[u16]| set(v.iter().map(|t| Atom::Integer((*t).into())).collect());
        let strs = |v: Option<&str>| set(v.map(|x| Atom::String(x.into())).into_iter().collect());
        let empty_map = Value::Map(Vec::new());
        for b in &cfg.bridges {
            let mut port_refs = Vec::new();
            let mut add = |s: &mut Snapshot,
                           name: &str,
                           ty: &str,
                           opts: Value,
                           tag: Option<u16>,
                           trunks: &[u16],
                           mode: Option<&str>,
                           fake: bool| {
                let (iu, pu) = (next(), next());
                let iface: Row = [
                    ("name", Value::from(name)),
                    ("type", Value::from(ty)),
                    ("options", opts),
                    ("mtu_request", set(vec![])),
                    ("other_config", empty_map.clone()),
                    ("external_ids", empty_map.clone()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
                let port: Row = [
                    ("name", Value::from(name)),
                    ("interfaces", set(vec![Atom::Uuid(iu.clone())])),
                    ("tag", ints(tag.as_slice())),
                    ("trunks", ints(trunks)),
                    ("vlan_mode", strs(mode)),
                    ("fake_bridge", Value::from(fake)),
                    ("other_config", empty_map.clone()),
                    ("external_ids", empty_map.clone()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
                s.interfaces.insert(iu, iface);
                s.ports.insert(pu.clone(), port);
                pu
            };
            port_refs.push(add(&mut s, &b.name, "internal", empty_map.clone(), None, &[], None, false));
            for p in &b.ports {
                let opts = match &p.kind {
                    PortKind::Patch { peer } => Value::string_map([("peer", peer.as_str())]),
                    _ => empty_map.clone(),
                };
                let mode = p.vlan_mode.map(VlanMode::as_str);
                let mut trunks = p.trunks.clone();
                trunks.sort_unstable();
                port_refs.push(add(&mut s, &p.name, p.kind.ovs_type(), opts, p.tag, &trunks, mode, false));
            }
            for f in &b.fake_bridges {
                port_refs.push(add(&mut s, &f.name, "internal", empty_map.clone(), Some(f.vlan), &[], None, true));
            }
            let bu = next();
            let row: Row = [
                ("name", Value::from(b.name.as_str())),
                ("ports", set(port_refs.into_iter().map(Atom::Uuid).collect())),
                ("datapath_type", Value::from(b.datapath_type.as_str())),
                ("fail_mode", strs(b.fail_mode.map(FailMode::as_str))),
                ("stp_enable", Value::from(b.stp)),
                ("protocols", set(vec![])),
                ("other_config", empty_map.clone()),
                ("external_ids", empty_map.clone()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
            s.bridges.insert(bu.clone(), row);
            s.root_bridges.push(bu);
        }
        s.root_bridges.sort();
        s
    }
}

/// Reads the current Open vSwitch configuration (one `transact` of `select`s).
///
/// ```no_run
/// # fn demo() -> Result<(), kvmhost_net::Error> {
/// let mut c = kvmhost_net::ovsdb::Client::connect("/tmp/kvmhost-ovs/db.sock")?;
/// let current = kvmhost_net::ovs::read(&mut c)?;
/// println!("{}", serde_json::to_string_pretty(&current).unwrap());
/// # Ok(()) }
/// ```
#[cfg(feature = "ovsdb")]
pub fn read(client: &mut Client) -> Result<OvsConfig, Error> {
    Ok(Snapshot::capture(client)?.config())
}
