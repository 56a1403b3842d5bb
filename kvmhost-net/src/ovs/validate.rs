//! Checks of an [`OvsConfig`] before anything touches OVSDB.

use std::collections::BTreeMap;

use super::model::{OvsConfig, OvsPort, PortKind, VlanMode};
use crate::validate::{name_error, ValidationError};

fn check_vlan(field: String, vlan: u16, errs: &mut Vec<ValidationError>) {
    if !(1..=4094).contains(&vlan) {
        errs.push(ValidationError::VlanId { field, id: vlan });
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
            if let Some(e) = name_error(&field, name) {
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

    /// Validates: `Err(Error::Invalid(errors))` naming every offending field.
    ///
    /// ```
    /// use kvmhost_net::{ovs::{OvsBridge, OvsConfig}, Error};
    /// let cfg = OvsConfig::new().bridge(OvsBridge::new("br0")).bridge(OvsBridge::new("br0"));
    /// let Err(Error::Invalid(errs)) = cfg.validate() else { panic!() };
    /// assert_eq!(errs[0].to_string(), "bridges[1].name: \"br0\" is already declared at bridges[0].name");
    /// ```
    pub fn validate(&self) -> Result<(), crate::Error> {
        let errs = self.validation_errors();
        if errs.is_empty() {
            Ok(())
        } else {
            Err(crate::Error::Invalid(errs))
        }
    }
}
