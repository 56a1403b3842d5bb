//! The netlink edge, in one folder: reads a namespace's state and executes plan steps.
//!
//! - `socket`: the one blocking route-netlink socket and its receive loop (errnos as
//!   [`nix::errno::Errno`], the kernel's extended-ack text kept);
//! - [`message`]: each step's request, built with `netlink-packet-route`'s types, without I/O;
//! - `dump`: the hand-written dump parser (links, addresses, routes), which only reads.
//!
//! A [`NetlinkKernel`] owns one socket, opened on a thread that has entered the target
//! namespace (see [`Netns`]); it stays bound to that namespace while the kernel object is used
//! from any thread afterwards. Each step is sent and its acknowledgement awaited before the
//! next one (a plan is a sequence: each step may depend on the one before). Its methods block
//! for the few microseconds a netlink exchange takes.

mod dump;
pub mod message;
mod socket;

use std::collections::BTreeMap;

use nix::errno::Errno;

use self::dump::Dumper;
use self::socket::{NetlinkRefusal, RouteSocket};
use crate::addr::IpCidr;
use crate::netns::Netns;
use crate::plan::Step;
use crate::state::{LinkKind, NetState, RouteState};
use crate::{Error, Kernel};

/// A route-netlink connection into one network namespace.
///
/// ```no_run
/// use kvmhost_net::{Kernel, Netns, NetlinkKernel};
/// let mut k = NetlinkKernel::open(&Netns::named("blue")).unwrap();
/// let state = k.read_state().unwrap();
/// println!("{}", state.to_yaml());
/// ```
pub struct NetlinkKernel {
    sock: RouteSocket,
    netns: Netns,
    index: BTreeMap<String, u32>,
    writes: u64,
}

impl std::fmt::Debug for NetlinkKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetlinkKernel").field("netns", &self.netns).field("writes", &self.writes).finish()
    }
}

fn refused(context: String, r: NetlinkRefusal) -> Error {
    Error::Kernel { context, errno: r.errno as i32, message: r.to_string() }
}

impl NetlinkKernel {
    /// Open a route-netlink socket inside `netns`.
    ///
    /// ```no_run
    /// let k = kvmhost_net::NetlinkKernel::open(&kvmhost_net::Netns::Current).unwrap();
    /// ```
    pub fn open(netns: &Netns) -> Result<Self, Error> {
        let sock = netns.run(RouteSocket::open)?.map_err(|source| Error::Netns { netns: netns.to_string(), source })?;
        Ok(Self { sock, netns: netns.clone(), index: BTreeMap::new(), writes: 0 })
    }

    /// The namespace this connection works in.
    ///
    /// ```no_run
    /// let k = kvmhost_net::NetlinkKernel::open(&kvmhost_net::Netns::Current).unwrap();
    /// println!("{}", k.netns());
    /// ```
    pub fn netns(&self) -> &Netns {
        &self.netns
    }

    fn lookup(&mut self, name: &str) -> Result<u32, Error> {
        if let Some(i) = self.index.get(name) {
            return Ok(*i);
        }
        match Dumper::new(&mut self.sock).link_index(name) {
            Ok(Some(i)) => {
                self.index.insert(name.to_string(), i);
                Ok(i)
            }
            Ok(None) => Err(Error::MissingDevice { name: name.into(), field: String::new() }),
            Err(r) => Err(refused(format!("looking up {name}"), r)),
        }
    }
}

fn parse_state(
    links: &[Vec<u8>],
    bridge_ports: &[Vec<u8>],
    addrs: &[(u32, IpCidr)],
    routes: &[dump::RawRoute],
) -> NetState {
    let parsed: Vec<_> = links.iter().filter_map(|p| dump::parse_link(p)).collect();
    let name_of: BTreeMap<u32, String> = parsed.iter().map(|(l, _, _, _)| (l.index, l.name.clone())).collect();
    let mut state = NetState::default();
    for (mut l, controller, link, _) in parsed {
        l.controller = controller.and_then(|c| name_of.get(&c).cloned());
        let lower = link.and_then(|i| name_of.get(&i).cloned());
        match &mut l.kind {
            LinkKind::Veth { peer } => *peer = lower,
            LinkKind::Vlan { parent, .. } => *parent = lower,
            _ => {}
        }
        state.links.insert(l.name.clone(), l);
    }
    for p in bridge_ports {
        let Some((port, _, _, vlans)) = dump::parse_link(p) else { continue };
        if let Some(l) = name_of.get(&port.index).and_then(|n| state.links.get_mut(n)) {
            l.vlans = vlans;
        }
    }
    for (index, cidr) in addrs {
        if cidr.is_link_local() {
            continue;
        }
        if let Some(l) = name_of.get(index).and_then(|n| state.links.get_mut(n)) {
            l.addresses.push(*cidr);
        }
    }
    for l in state.links.values_mut() {
        l.addresses.sort();
    }
    for r in routes {
        if r.destination.is_link_local() {
            continue;
        }
        let Some(device) = name_of.get(&r.oif).cloned() else { continue };
        state.routes.push(RouteState {
            destination: r.destination,
            gateway: r.gateway,
            device,
            metric: r.metric,
            protocol: r.protocol,
            scope: r.scope,
        });
    }
    state.routes.sort();
    state
}

impl Kernel for NetlinkKernel {
    fn read_state(&mut self) -> Result<NetState, Error> {
        let read_err = |source: std::io::Error| Error::Kernel {
            context: "reading the links".into(),
            errno: source.raw_os_error().unwrap_or(0),
            message: source.to_string(),
        };
        let mut dumper = Dumper::new(&mut self.sock);
        let links = dumper.links(0, dump::FILTER_SKIP_STATS).map_err(read_err)?;
        let ports = dumper.links(dump::AF_BRIDGE, dump::FILTER_BRVLAN | dump::FILTER_SKIP_STATS).unwrap_or_default();
        let addrs = dumper.addresses().map_err(read_err)?;
        let routes = dumper.routes().map_err(read_err)?;
        let state = parse_state(&links, &ports, &addrs, &routes);
        self.index = state.links.values().map(|l| (l.name.clone(), l.index)).collect();
        Ok(state)
    }

    fn execute(&mut self, step: &Step) -> Result<(), Error> {
        if let Step::CreateTap { name } = step {
            self.writes += 1;
            let name = name.clone();
            return self.netns.run(move || crate::tap::create_persistent_tap(&name))?;
        }
        // Resolve every name the step needs first (reads), then send the one write.
        let mut names: Vec<String> = Vec::new();
        collect_names(step, &mut names);
        let mut resolved = BTreeMap::new();
        for n in names {
            let i = self.lookup(&n)?;
            resolved.insert(n, i);
        }
        let req = message::build(step, &|n| {
            resolved.get(n).copied().ok_or_else(|| Error::MissingDevice { name: n.into(), field: String::new() })
        })?
        .ok_or_else(|| Error::Kernel {
            context: step.to_string(),
            errno: 0,
            message: "not a netlink step".into(),
        })?;
        self.writes += 1;
        let mut bytes = message::to_bytes(&req);
        let result = self.sock.request(&mut bytes);
        if let Step::DeleteLink { name } = step {
            self.index.remove(name);
        }
        if let Step::CreateVeth { peer, .. } = step {
            self.index.remove(peer);
        }
        result.map_err(|r| {
            let module = match step {
                Step::CreateBond { .. } | Step::SetBond { .. } => Some(("bond", "bonding")),
                Step::CreateVlan { .. } => Some(("vlan", "8021q")),
                _ => None,
            };
            match module {
                Some((kind, module)) if UNSUPPORTED.contains(&r.errno) => Error::Unsupported {
                    context: step.to_string(),
                    kind: kind.into(),
                    module: module.into(),
                    errno: r.errno as i32,
                    message: r.to_string(),
                },
                _ => refused(step.to_string(), r),
            }
        })
    }

    fn writes(&self) -> u64 {
        self.writes
    }
}

/// Link names a step refers to, besides the links it creates.
fn collect_names(step: &Step, out: &mut Vec<String>) {
    match step {
        Step::CreateBridge { .. } | Step::CreateTap { .. } | Step::CreateBond { .. } | Step::Ovs { .. } => {}
        Step::CreateVeth { controller, .. } => out.extend(controller.clone()),
        Step::CreateVlan { parent, controller, .. } => {
            out.push(parent.clone());
            out.extend(controller.clone());
        }
        Step::SetController { name, controller } => {
            out.push(name.clone());
            out.extend(controller.clone());
        }
        other => out.push(other.device().to_string()),
    }
}

/// Whether a kernel error says the feature is missing: [`Error::Unsupported`] (a link kind
/// whose module the kernel lacks: bonds, 802.1Q), or a refusal with `EOPNOTSUPP`,
/// `EPROTONOSUPPORT` or `ENODEV`.
///
/// ```
/// use nix::errno::Errno;
/// let e = kvmhost_net::Error::Kernel { context: "x".into(), errno: Errno::EOPNOTSUPP as i32, message: String::new() };
/// assert!(kvmhost_net::netlink::is_unsupported(&e));
/// ```
pub fn is_unsupported(e: &Error) -> bool {
    match e {
        Error::Unsupported { .. } => true,
        Error::Kernel { errno, .. } => UNSUPPORTED.contains(&Errno::from_raw(*errno)),
        _ => false,
    }
}

/// The errnos of a missing kernel feature.
const UNSUPPORTED: [Errno; 3] = [Errno::EOPNOTSUPP, Errno::EPROTONOSUPPORT, Errno::ENODEV];

#[cfg(test)]
mod tests {
    use crate::plan::Step;
    use crate::state::LinkKind;

    fn parse(step: &Step) -> crate::state::LinkState {
        let req = super::message::build(step, &|_| Ok(2)).unwrap().unwrap();
        let bytes = super::message::to_bytes(&req);
        super::dump::parse_link(&bytes[16..]).unwrap().0
    }

    #[test]
    fn raw_parser_reads_what_the_builder_writes() {
        let vlan = Step::CreateVlan {
            name: "eth0.200".into(),
            parent: "eth0".into(),
            id: 200,
            mtu: Some(1400),
            controller: None,
        };
        let l = parse(&vlan);
        assert_eq!((l.name.as_str(), l.mtu, l.up), ("eth0.200", 1400, true));
        assert_eq!(l.kind, LinkKind::Vlan { parent: None, id: 200 });
        let br = Step::CreateBridge {
            name: "br0".into(),
            stp: true,
            forward_delay_cs: Some(400),
            vlan_filtering: Some(true),
            mtu: None,
            mac: Some("02:00:00:00:00:01".parse().unwrap()),
        };
        let l = parse(&br);
        assert_eq!(l.kind, LinkKind::Bridge { stp: true, forward_delay_cs: 400, vlan_filtering: true });
        assert_eq!(l.mac.unwrap().to_string(), "02:00:00:00:00:01");
        let bond = Step::CreateBond {
            name: "bond0".into(),
            mode: crate::BondMode::Ieee8023ad,
            miimon: Some(100),
            lacp_rate: Some(crate::LacpRate::Fast),
            mtu: Some(9000),
        };
        let l = parse(&bond);
        assert_eq!((l.name.as_str(), l.mtu, l.up), ("bond0", 9000, true));
        assert_eq!(l.kind.name(), "bond");
        assert_eq!(
            l.kind,
            LinkKind::Bond {
                mode: Some(crate::BondMode::Ieee8023ad),
                miimon: Some(100),
                lacp_rate: Some(crate::LacpRate::Fast)
            }
        );
        let xor = Step::CreateBond {
            name: "bond1".into(),
            mode: crate::BondMode::BalanceXor,
            miimon: None,
            lacp_rate: Some(crate::LacpRate::Slow),
            mtu: None,
        };
        assert_eq!(
            parse(&xor).kind,
            LinkKind::Bond {
                mode: Some(crate::BondMode::BalanceXor),
                miimon: None,
                lacp_rate: Some(crate::LacpRate::Slow)
            }
        );
        let add = Step::AddBridgeVlan { port: "eth0".into(), vid: 7, pvid: true, untagged: false, bridge_self: false };
        let req = super::message::build(&add, &|_| Ok(2)).unwrap().unwrap();
        let (p, _, _, vlans) = super::dump::parse_link(&super::message::to_bytes(&req)[16..]).unwrap();
        assert_eq!(p.index, 2);
        assert_eq!(vlans, vec![crate::state::VlanEntry { vid: 7, pvid: true, untagged: false }]);
    }
}
