//! [`host_model_cpu`]: the one reader of the host-model CPU in domain capabilities.

use crate::capabilities::error::CapabilitiesError;
use crate::domain::{Cpu, CpuMode, ElementPath, XmlPart};
use crate::xml::Element;

/// The host-model CPU of a `<domainCapabilities>` element (`virsh domcapabilities`:
/// `/domainCapabilities/cpu/mode[@name='host-model']`): the CPU libvirt expands a `host-model`
/// guest CPU to, as the domain model's [`Cpu`] with `mode='host-model'`, its model (with
/// `fallback`), vendor and features with their policies as libvirt lists them.
///
/// `None` when the document offers no host-model CPU, or marks it `supported='no'`. The one
/// reader behind [`DomainCapabilities::parse`](super::DomainCapabilities::parse),
/// [`CpuDef::from_domain_capabilities`](crate::cpu::CpuDef::from_domain_capabilities) and
/// kvmhost-libvirt's migration CPU check.
///
/// ```
/// use kvmhost_core::capabilities::host_model_cpu;
/// use kvmhost_core::domain::{CpuMode, FeaturePolicy};
/// use kvmhost_core::xml::Document;
/// let doc = Document::parse("<domainCapabilities><cpu><mode name='host-model' supported='yes'>\
///     <model fallback='forbid'>EPYC-Rome</model><vendor>AMD</vendor>\
///     <feature policy='require' name='x2apic'/><feature policy='disable' name='xsaves'/>\
///     </mode></cpu></domainCapabilities>").unwrap();
/// let cpu = host_model_cpu(&doc.root).unwrap().unwrap();
/// assert_eq!(cpu.mode, Some(CpuMode::HostModel));
/// assert_eq!(cpu.model_name(), Some("EPYC-Rome"));
/// assert_eq!(cpu.vendor.as_deref(), Some("AMD"));
/// assert_eq!(cpu.features.len(), 2);
/// assert_eq!(cpu.features[1].policy, Some(FeaturePolicy::Disable));
///
/// let none = Document::parse("<domainCapabilities><cpu>\
///     <mode name='host-model' supported='no'/></cpu></domainCapabilities>").unwrap();
/// assert_eq!(host_model_cpu(&none.root).unwrap(), None);
/// ```
pub fn host_model_cpu(domain_capabilities: &Element) -> Result<Option<Cpu>, CapabilitiesError> {
    let mode = domain_capabilities
        .child("cpu")
        .and_then(|c| c.children_named("mode").find(|m| m.attr("name") == Some("host-model")));
    let Some(mode) = mode.filter(|m| m.attr("supported") != Some("no")) else {
        return Ok(None);
    };
    // The mode element has the content of a <cpu>; decode it as one.
    let mut el = Element::new("cpu");
    el.children = mode.children.clone();
    let root = ElementPath::root("domainCapabilities");
    let cpu_path = root.child("cpu");
    let path = cpu_path.child("mode[@name='host-model']");
    let mut cpu = Cpu::decode(&el, &path).map_err(|source| CapabilitiesError::HostModelCpu {
        path: "/domainCapabilities/cpu/mode[@name='host-model']".into(),
        source,
    })?;
    cpu.mode = Some(CpuMode::HostModel);
    Ok(Some(cpu))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::FeaturePolicy;
    use crate::xml::Document;

    fn read(xml: &str) -> Result<Option<Cpu>, CapabilitiesError> {
        host_model_cpu(&Document::parse(xml).unwrap().root)
    }

    #[test]
    fn absent_or_unsupported_is_none() {
        assert_eq!(read("<domainCapabilities/>").unwrap(), None);
        assert_eq!(read("<domainCapabilities><cpu/></domainCapabilities>").unwrap(), None);
        assert_eq!(
            read("<domainCapabilities><cpu><mode name='host-passthrough' supported='yes'/></cpu></domainCapabilities>")
                .unwrap(),
            None
        );
        assert_eq!(
            read("<domainCapabilities><cpu><mode name='host-model' supported='no'/></cpu></domainCapabilities>")
                .unwrap(),
            None
        );
    }

    #[test]
    fn supported_without_attribute_is_read() {
        let cpu = read(
            "<domainCapabilities><cpu><mode name='host-model'><model>Haswell</model></mode></cpu></domainCapabilities>",
        )
        .unwrap()
        .unwrap();
        assert_eq!(cpu.model_name(), Some("Haswell"));
    }

    #[test]
    fn features_keep_their_policies_in_order() {
        let cpu = read(
            "<domainCapabilities><cpu><mode name='host-model' supported='yes'><model fallback='forbid'>Skylake-Client</model>\
             <feature policy='require' name='ss'/><feature policy='disable' name='hle'/>\
             <feature policy='require' name='md-clear'/></mode></cpu></domainCapabilities>",
        )
        .unwrap()
        .unwrap();
        let f: Vec<_> = cpu.features.iter().map(|f| (f.name.as_str(), f.policy.clone())).collect();
        assert_eq!(
            f,
            [
                ("ss", Some(FeaturePolicy::Require)),
                ("hle", Some(FeaturePolicy::Disable)),
                ("md-clear", Some(FeaturePolicy::Require))
            ]
        );
    }

    #[test]
    fn hostile_values_are_errors_not_panics() {
        // An unknown policy is kept (lossless), a value that does not fit its type is an error
        // naming where it is.
        let cpu = read(
            "<domainCapabilities><cpu><mode name='host-model'><model>X</model>\
             <feature policy='sometimes' name='x'/></mode></cpu></domainCapabilities>",
        )
        .unwrap()
        .unwrap();
        assert_eq!(cpu.features[0].policy, Some(FeaturePolicy::Other("sometimes".into())));
        let e = read(
            "<domainCapabilities><cpu><mode name='host-model'><model>X</model>\
             <topology sockets='-1'/></mode></cpu></domainCapabilities>",
        )
        .unwrap_err();
        assert!(matches!(e, CapabilitiesError::HostModelCpu { .. }), "{e:?}");
        assert!(e.to_string().contains("/domainCapabilities/cpu/mode[@name='host-model']/topology/@sockets"), "{e}");
    }

    #[test]
    fn every_reader_sees_the_same_cpu() {
        let xml = "<domainCapabilities><cpu><mode name='host-model' supported='yes'>\
                   <model fallback='forbid'>EPYC-Milan</model><vendor>AMD</vendor>\
                   <feature policy='require' name='x2apic'/><feature policy='disable' name='avx2'/>\
                   </mode></cpu></domainCapabilities>";
        let direct = read(xml).unwrap().unwrap();
        let caps = crate::capabilities::DomainCapabilities::parse(xml).unwrap().cpu.host_model.unwrap();
        let def = crate::cpu::CpuDef::from_domain_capabilities(xml).unwrap();
        assert_eq!(caps, direct);
        assert_eq!(def.cpu.model, direct.model);
        assert_eq!(def.cpu.vendor, direct.vendor);
        assert_eq!(def.cpu.features, direct.features);
    }
}
