//! Checks of an [`OvsConfig`] before anything touches OVSDB.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::model::{OvsConfig, OvsPort, PortKind, VlanMode};

/// One problem of a configuration; every variant names the offending field
/// (`bridges[0].ports[1].tag`).
///
/// ```
/// use kvmhost_net::ovs::{OvsConfig, OvsBridge, OvsPort, ValidationError};
/// let errs = OvsConfig::new().bridge(OvsBridge::new("br0").port(OvsPort::access("vnet0", 5000))).validation_errors();
/// assert_eq!(errs, [ValidationError::VlanRange { field: "bridges[0].ports[0].tag".into(), vlan: 5000 }]);
/// assert_eq!(errs[0].field(), "bridges[0].ports[0].tag");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// An empty name.
    #[error("{field}: the name is empty")]
    EmptyName {
        /// The field.
        field: String,
    },
    /// A name longer than the kernel's 15 bytes.
    #[error("{field}: name {name:?} is {len} bytes, more than the 15 an interface name may have")]
    NameTooLong {
        /// The field.
        field: String,
        /// The name.
        name: String,
        /// Its length in bytes.
        len: usize,
    },
    /// A character the kernel refuses in interface names (`/`, `:`, whitespace), or `.`/`..`.
    #[error("{field}: name {name:?} is not a valid interface name ({reason})")]
    BadName {
        /// The field.
        field: String,
        /// The name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A VLAN id outside 1..=4094.
    #[error("{field}: VLAN {vlan} is outside 1..4094")]
    VlanRange {
        /// The field.
        field: String,
        /// The id.
        vlan: u16,
    },
    /// A name used twice (bridges, ports and fake bridges share OVS's interface names).
    #[error("{field}: {name:?} is already used by {first}")]
    Duplicate {
        /// The field of the second use.
        field: String,
        /// The name.
        name: String,
        /// The field of the first use.
        first: String,
    },
    /// A VLAN listed twice in `trunks`, or two fake bridges on one VLAN of a parent.
    #[error("{field}: VLAN {vlan} appears twice")]
    DuplicateVlan {
        /// The field.
        field: String,
        /// The id.
        vlan: u16,
    },
    /// A patch port whose peer is not a patch port of this configuration pointing back.
    #[error("{field}: patch peer {peer:?} is not a patch port of this configuration whose peer is this port")]
    UnknownPeer {
        /// The field.
        field: String,
        /// The peer named.
        peer: String,
    },
    /// A port plugged into a fake bridge its bridge does not have.
    #[error("{field}: {parent:?} is not a fake bridge of this bridge")]
    UnknownParent {
        /// The field.
        field: String,
        /// The fake bridge named.
        parent: String,
    },
    /// `tag`/`trunks` that contradict `vlan_mode`.
    #[error("{field}: {reason}")]
    VlanModeConflict {
        /// The field.
        field: String,
        /// What contradicts.
        reason: String,
    },
}

impl ValidationError {
    /// The field the error is about.
    ///
    /// ```
    /// # use kvmhost_net::ovs::ValidationError;
    /// assert_eq!(ValidationError::EmptyName { field: "bridges[1].name".into() }.field(), "bridges[1].name");
    /// ```
    pub fn field(&self) -> &str {
        match self {
            ValidationError::EmptyName { field }
            | ValidationError::NameTooLong { field, .. }
            | ValidationError::BadName { field, .. }
            | ValidationError::VlanRange { field, .. }
            | ValidationError::Duplicate { field, .. }
            | ValidationError::DuplicateVlan { field, .. }
            | ValidationError::UnknownPeer { field, .. }
            | ValidationError::UnknownParent { field, .. }
            | ValidationError::VlanModeConflict { field, .. } => field,
        }
    }
}

/// Checks an interface name as the kernel does (`dev_valid_name`): 1..=15 bytes, no `/`, `:` or
/// whitespace, not `.` or `..`.
///
/// ```
/// use kvmhost_net::ovs::check_name;
/// assert!(check_name("f", "cloudbr0").is_none());
/// assert!(check_name("f", "a-very-long-bridge-name").is_some());
/// assert!(check_name("f", "br/0").is_some());
/// ```
pub fn check_name(field: &str, name: &str) -> Option<ValidationError> {
    let field = field.to_string();
    if name.is_empty() {
        return Some(ValidationError::EmptyName { field });
    }
    if name.len() > 15 {
        return Some(ValidationError::NameTooLong { field, name: name.into(), len: name.len() });
    }
    let reason = if name == "." || name == ".." {
        Some("reserved".to_string())
    } else {
        name.chars()
            .find(|c| *c == '/' || *c == ':' || c.is_whitespace() || c.is_control())
            .map(|c| format!("contains {c:?}"))
    };
    reason.map(|reason| ValidationError::BadName { field, name: name.into(), reason })
}

fn check_vlan(field: String, vlan: u16, errs: &mut Vec<ValidationError>) {
    if !(1..=4094).contains(&vlan) {
        errs.push(ValidationError::VlanRange { field, vlan });
    }
}

fn check_port(field: &str, port: &OvsPort, errs: &mut Vec<ValidationError>) {
    if let Some(tag) = port.tag {
        check_vlan(format!("{field}.tag"), tag, errs);
    }
    let mut seen = BTreeMap::new();
    for (i, vlan) in port.trunks.iter().enumerate() {
        check_vlan(format!("{field}.trunks[{i}]"), *vlan, errs);
        if seen.insert(*vlan, i).is_some() {
            errs.push(ValidationError::DuplicateVlan { field: format!("{field}.trunks[{i}]"), vlan: *vlan });
        }
    }
    let conflict =
        |reason: &str| ValidationError::VlanModeConflict { field: format!("{field}.vlan_mode"), reason: reason.into() };
    match port.vlan_mode {
        Some(VlanMode::Access) if port.tag.is_none() => errs.push(conflict("an access port needs a tag")),
        Some(VlanMode::Access) if !port.trunks.is_empty() => errs.push(conflict("an access port carries no trunks")),
        Some(VlanMode::Trunk) if port.tag.is_some() => {
            errs.push(conflict("a trunk port has no tag (use native-tagged or native-untagged for a native VLAN)"))
        }
        Some(VlanMode::NativeTagged | VlanMode::NativeUntagged) if port.tag.is_none() => {
            errs.push(conflict("a native VLAN mode needs a tag (the native VLAN)"))
        }
        None if port.tag.is_some() && !port.trunks.is_empty() => {
            errs.push(conflict("tag and trunks together need an explicit native-tagged or native-untagged vlan_mode"))
        }
        _ => {}
    }
}

impl OvsConfig {
    /// Every problem of the configuration (empty when it is valid).
    ///
    /// ```
    /// use kvmhost_net::ovs::{OvsConfig, OvsBridge, FakeBridge};
    /// let cfg = OvsConfig::new().bridge(OvsBridge::new("br0").fake_bridge(FakeBridge::new("br0", 10)));
    /// assert_eq!(cfg.validation_errors()[0].field(), "bridges[0].fake_bridges[0].name");
    /// ```
    pub fn validation_errors(&self) -> Vec<ValidationError> {
        let mut errs = Vec::new();
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        let mut claim = |field: String, name: &str, errs: &mut Vec<ValidationError>| {
            if let Some(e) = check_name(&field, name) {
                errs.push(e);
            } else if let Some(first) = names.get(name) {
                errs.push(ValidationError::Duplicate { field, name: name.into(), first: first.clone() });
            } else {
                names.insert(name.to_string(), field);
            }
        };
        let mut patches: BTreeMap<&str, (&str, String)> = BTreeMap::new();
        for (b, bridge) in self.bridges.iter().enumerate() {
            claim(format!("bridges[{b}].name"), &bridge.name, &mut errs);
            for (p, port) in bridge.ports.iter().enumerate() {
                let field = format!("bridges[{b}].ports[{p}]");
                claim(format!("{field}.name"), &port.name, &mut errs);
                check_port(&field, port, &mut errs);
                if let Some(parent) = &port.fake_bridge {
                    match bridge.fake_bridges.iter().find(|f| &f.name == parent) {
                        None => errs.push(ValidationError::UnknownParent {
                            field: format!("{field}.fake_bridge"),
                            parent: parent.clone(),
                        }),
                        Some(f)
                            if port.tag.is_some_and(|t| t != f.vlan)
                                || !port.trunks.is_empty()
                                || port.vlan_mode.is_some_and(|m| m != VlanMode::Access) =>
                        {
                            errs.push(ValidationError::VlanModeConflict {
                                field: format!("{field}.fake_bridge"),
                                reason: format!(
                                    "a port on fake bridge {parent} is an access port on VLAN {}: no other tag, no trunks",
                                    f.vlan
                                ),
                            })
                        }
                        Some(_) => {}
                    }
                }
                if let PortKind::Patch { peer } = &port.kind {
                    patches.insert(&port.name, (peer, format!("{field}.kind.patch.peer")));
                }
            }
            let mut vlans = BTreeMap::new();
            for (f, fake) in bridge.fake_bridges.iter().enumerate() {
                let field = format!("bridges[{b}].fake_bridges[{f}]");
                claim(format!("{field}.name"), &fake.name, &mut errs);
                check_vlan(format!("{field}.vlan"), fake.vlan, &mut errs);
                if vlans.insert(fake.vlan, f).is_some() {
                    errs.push(ValidationError::DuplicateVlan { field: format!("{field}.vlan"), vlan: fake.vlan });
                }
            }
        }
        for (name, (peer, field)) in &patches {
            if patches.get(peer).map(|(back, _)| back) != Some(name) {
                errs.push(ValidationError::UnknownPeer { field: field.clone(), peer: peer.to_string() });
            }
        }
        errs
    }

    /// Validates: `Err(Error::InvalidOvs(errors))` naming every offending field.
    ///
    /// ```
    /// use kvmhost_net::{ovs::{OvsBridge, OvsConfig}, Error};
    /// let cfg = OvsConfig::new().bridge(OvsBridge::new("br0")).bridge(OvsBridge::new("br0"));
    /// let Err(Error::InvalidOvs(errs)) = cfg.validate() else { panic!() };
    /// assert_eq!(errs[0].to_string(), "bridges[1].name: \"br0\" is already used by bridges[0].name");
    /// ```
    pub fn validate(&self) -> Result<(), crate::Error> {
        let errs = self.validation_errors();
        if errs.is_empty() {
            Ok(())
        } else {
            Err(crate::Error::InvalidOvs(errs))
        }
    }
}
