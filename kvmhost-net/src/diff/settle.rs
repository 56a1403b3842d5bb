//! The partial-state rule against what is there: addresses and routes of families a link does
//! not own stay, or move along with the addresses the link hands over.

use super::{replaces, route_matches, Desired};
use crate::addr::IpCidr;
use crate::plan::RouteSpec;
use crate::state::{NetState, RouteState};

impl Desired {
    /// The partial-state rule, against what is there. An address or route of a family a link
    /// does not own stays where it is, unless the link hands its addresses over (it becomes a
    /// port of a bridge the model configures, or an address it holds is declared on another
    /// link): then it moves along to that link, when that link does not own the family itself.
    ///
    /// Borrowed when nothing moves (a no-op re-apply, most plans): the desired links are only
    /// copied when an address or route is added to one of them.
    pub(super) fn settle(&self, current: &NetState) -> std::borrow::Cow<'_, Desired> {
        /// One addition to the desired state, applied in order once all are known.
        enum Add<'s> {
            Address(usize, IpCidr),
            Route(usize, RouteSpec, &'s RouteState),
        }
        let mut adds: Vec<Add<'_>> = Vec::new();
        let elsewhere = |name: &str, a: &IpCidr| {
            self.links.iter().find(|d| d.name != name && d.addresses.as_ref().is_some_and(|s| s.contains(a)))
        };
        for (i, d) in self.links.iter().enumerate() {
            let Some(l) = current.link(&d.name) else { continue };
            let target = d
                .takeover
                .as_deref()
                .filter(|t| self.links.iter().any(|x| x.name == *t))
                .or_else(|| l.addresses.iter().find_map(|a| elsewhere(&d.name, a)).map(|t| t.name.as_str()))
                .and_then(|t| self.links.iter().position(|x| x.name == t));
            if let Some(want) = &d.addresses {
                for a in l.addresses.iter().filter(|a| !d.owns_addresses.contains(&a.family())) {
                    if want.contains(a) || elsewhere(&d.name, a).is_some() {
                        continue;
                    }
                    match target {
                        Some(t) if self.links[t].owns_addresses.contains(&a.family()) => {}
                        Some(t) => adds.push(Add::Address(t, *a)),
                        None => adds.push(Add::Address(i, *a)),
                    }
                }
            }
            if let Some(want) = &d.routes {
                let unowned = |r: &&RouteState| !r.is_kernel() && !d.owns_routes.contains(&r.destination.family());
                for r in current.routes_on(&d.name).filter(unowned) {
                    if want.iter().any(|w| route_matches(w, r)) {
                        continue;
                    }
                    let t = match target {
                        Some(t) if self.links[t].owns_routes.contains(&r.destination.family()) => continue,
                        Some(t) => t,
                        None => i,
                    };
                    let spec = RouteSpec {
                        destination: r.destination,
                        gateway: r.gateway,
                        device: self.links[t].name.clone(),
                        metric: Some(r.metric),
                        protocol: Some(r.protocol),
                    };
                    adds.push(Add::Route(t, spec, r));
                }
            }
        }
        if adds.is_empty() {
            return std::borrow::Cow::Borrowed(self);
        }
        let mut out = self.clone();
        for add in adds {
            match add {
                Add::Address(t, a) => {
                    if let Some(s) = &mut out.links[t].addresses {
                        s.insert(a);
                    }
                }
                Add::Route(t, spec, r) => {
                    if let Some(rs) = &mut out.links[t].routes {
                        if !rs.iter().any(|w| replaces(w, r)) {
                            rs.push(spec);
                        }
                    }
                }
            }
        }
        std::borrow::Cow::Owned(out)
    }
}
