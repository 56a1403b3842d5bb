//! Archipel's notes: libvirt on every host, QEMU >= 0.12 built with SPICE, SPICE consoles
//! listening on every address, a raised `max_clients`, a fully qualified name for the agent's JID.

use super::{cloudstack, daemon, install};
use crate::preflight::{Check, Fact, HostFacts, Severity, Verdict, Version};

/// `libvirt-installed`: libvirt runs on every Archipel host.
pub fn libvirt_installed() -> Check {
    Check::new("libvirt-installed", "libvirt installed", Severity::Required, |f: &HostFacts| match &f.libvirt {
        Fact::Known(Some(p)) => Verdict::Pass(format!("libvirt {} ({})", p.version, p.source)),
        Fact::Known(None) => Verdict::problem(
            "libvirt is not installed: archipel-agent manages the host through it",
            install(f, "libvirt-daemon-system", "libvirt", ("libvirtd", "libvirtd")),
        ),
        Fact::Unknown(e) => Verdict::Unknown(format!("libvirt unknown: {e}")),
    })
}

/// `qemu-spice`: QEMU >= 0.12 with SPICE.
pub fn qemu_spice() -> Check {
    Check::new("qemu-spice", "QEMU >= 0.12 with SPICE", Severity::Required, |f: &HostFacts| {
        let spice_pkg = ("qemu-system-modules-spice", "qemu-kvm-ui-spice");
        let qemu = match &f.qemu {
            Fact::Known(Some(p)) => p,
            Fact::Known(None) => {
                return Verdict::problem(
                    "QEMU is not installed",
                    install(
                        f,
                        &format!("qemu-system-x86 {}", spice_pkg.0),
                        &format!("qemu-kvm {}", spice_pkg.1),
                        ("libvirtd", "libvirtd"),
                    ),
                )
            }
            Fact::Unknown(e) => return Verdict::Unknown(format!("QEMU unknown: {e}")),
        };
        if qemu.version < Version::new(&[0, 12]) {
            return Verdict::problem(format!("QEMU {} is older than 0.12", qemu.version), "upgrade QEMU");
        }
        match &f.qemu_spice {
            Fact::Known(true) => Verdict::Pass(format!("QEMU {} with SPICE ({})", qemu.version, qemu.source)),
            Fact::Known(false) => Verdict::problem(
                format!(
                    "QEMU {} is built with modules and its SPICE module (ui-spice-core) is not installed",
                    qemu.version
                ),
                install(f, spice_pkg.0, spice_pkg.1, ("libvirtd", "libvirtd")),
            ),
            Fact::Unknown(e) => Verdict::Unknown(format!("QEMU {}: SPICE support unknown: {e}", qemu.version)),
        }
    })
}

/// Archipel's checks (the `libvirt` profile's come first in [`Profile::archipel`](crate::preflight::Profile::archipel)).
pub fn checks() -> Vec<Check> {
    vec![
        libvirt_installed(),
        qemu_spice(),
        daemon::spice_listen(),
        daemon::max_clients(),
        cloudstack::fqdn().with_severity(Severity::Recommended),
    ]
}
