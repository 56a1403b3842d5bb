//! [`DomainBuilder`]: new domains with the defaults a modern KVM guest wants, as virt-install
//! picks them: q35, virtio disk and NIC, qemu-xhci USB, PCIe root ports, virtio RNG and
//! balloon, serial console, guest agent channel, VNC or SPICE on a chosen listen address.

use serde::{Deserialize, Serialize};

use super::codec::{insert_child, set_child_text, XmlPart};
use super::{
    Cpu, Disk, Domain, DomainDef, DomainType, Interface, LifecycleAction, Memory, Vcpu, DEVICE_ORDER, DOMAIN_ORDER,
};
use crate::domain::error::DomainError;
use crate::xml::{check_xml_chars, Document, Element};

/// The remote display a new domain gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Display {
    /// VNC listening on the address (libvirt picks the port).
    Vnc {
        /// Listen address (`127.0.0.1` by default, as libvirt's qemu.conf `vnc_listen`).
        listen: String,
    },
    /// SPICE listening on the address (libvirt picks the port).
    Spice {
        /// Listen address (`127.0.0.1` by default, as qemu.conf `spice_listen`).
        listen: String,
    },
    /// No graphics, no video (serial console only).
    Headless,
}

/// Builds a new [`Domain`].
///
/// ```
/// use kvmhost_core::domain::{DomainBuilder, Display};
/// let d = DomainBuilder::new("web1")
///     .memory_mib(2048)
///     .vcpus(2)
///     .disk_file("/var/lib/libvirt/images/web1.qcow2")
///     .bridge("cloudbr0")
///     .display(Display::Spice { listen: "0.0.0.0".into() })
///     .build()
///     .unwrap();
/// let xml = d.to_xml().unwrap();
/// assert!(xml.contains("<source bridge=\"cloudbr0\"/>"));
/// assert!(xml.contains("machine=\"q35\""));
/// assert!(DomainBuilder::new("").build().is_err());
/// ```
#[derive(Debug, Clone)]
pub struct DomainBuilder {
    name: String,
    domain_type: DomainType,
    uuid: Option<String>,
    title: Option<String>,
    description: Option<String>,
    memory: Memory,
    current_memory: Option<Memory>,
    vcpus: u32,
    arch: String,
    machine: String,
    firmware_efi: bool,
    kernel: Option<(String, Option<String>, Option<String>)>,
    cpu: Option<Element>,
    disks: Vec<Element>,
    interfaces: Vec<Interface>,
    extra_devices: Vec<Element>,
    display: Display,
    root_ports: u32,
    guest_agent: bool,
    default_nic: bool,
    metadata: Vec<Element>,
}

fn el(name: &str, attrs: &[(&str, &str)]) -> Element {
    let mut e = Element::new(name);
    for (k, v) in attrs {
        e.set_attr(k, *v);
    }
    e
}

fn with_children(mut parent: Element, children: Vec<Element>) -> Element {
    for c in children {
        parent.push_element(c);
    }
    parent
}

impl DomainBuilder {
    /// A KVM guest named `name` with 1 GiB, 1 vCPU, q35, a virtio NIC on network `default`,
    /// VNC on 127.0.0.1 and no disks yet.
    pub fn new(name: impl Into<String>) -> DomainBuilder {
        DomainBuilder {
            name: name.into(),
            domain_type: DomainType::Kvm,
            uuid: None,
            title: None,
            description: None,
            memory: Memory::mib(1024),
            current_memory: None,
            vcpus: 1,
            arch: "x86_64".into(),
            machine: "q35".into(),
            firmware_efi: false,
            kernel: None,
            cpu: None,
            disks: Vec::new(),
            interfaces: Vec::new(),
            extra_devices: Vec::new(),
            display: Display::Vnc { listen: "127.0.0.1".into() },
            root_ports: 4,
            guest_agent: true,
            default_nic: true,
            metadata: Vec::new(),
        }
    }

    /// `type='kvm'` (default) or another driver, e.g. `DomainType::Qemu` for TCG.
    pub fn domain_type(mut self, t: DomainType) -> Self {
        self.domain_type = t;
        self
    }

    /// A fixed UUID (else libvirt generates one).
    pub fn uuid(mut self, uuid: impl Into<String>) -> Self {
        self.uuid = Some(uuid.into());
        self
    }

    /// A one-line title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// A free-form description.
    pub fn description(mut self, d: impl Into<String>) -> Self {
        self.description = Some(d.into());
        self
    }

    /// Memory in MiB.
    pub fn memory_mib(self, mib: u64) -> Self {
        self.memory(Memory::mib(mib))
    }

    /// Memory in any unit.
    pub fn memory(mut self, m: Memory) -> Self {
        self.memory = m;
        self
    }

    /// Memory at boot, if less than the maximum (ballooned).
    pub fn current_memory(mut self, m: Memory) -> Self {
        self.current_memory = Some(m);
        self
    }

    /// Number of vCPUs.
    pub fn vcpus(mut self, n: u32) -> Self {
        self.vcpus = n;
        self
    }

    /// Guest architecture (default `x86_64`).
    pub fn arch(mut self, arch: impl Into<String>) -> Self {
        self.arch = arch.into();
        self
    }

    /// Machine type (default `q35`).
    pub fn machine(mut self, machine: impl Into<String>) -> Self {
        self.machine = machine.into();
        self
    }

    /// UEFI firmware, auto-selected by libvirt (`<os firmware='efi'>`).
    pub fn uefi(mut self) -> Self {
        self.firmware_efi = true;
        self
    }

    /// Direct kernel boot.
    pub fn kernel(mut self, kernel: impl Into<String>, initrd: Option<String>, cmdline: Option<String>) -> Self {
        self.kernel = Some((kernel.into(), initrd, cmdline));
        self
    }

    /// The guest CPU (e.g. `Cpu::host_model()` or one rendered by a CPU policy).
    pub fn cpu(mut self, cpu: &Cpu) -> Self {
        self.cpu = Some(cpu.to_element());
        self
    }

    /// A qcow2 disk image on virtio, named `vda`, `vdb`, … in order.
    pub fn disk_file(mut self, path: impl Into<String>) -> Self {
        let dev = format!("vd{}", (b'a' + self.disks.len() as u8 % 26) as char);
        let disk = with_children(
            el("disk", &[("type", "file"), ("device", "disk")]),
            vec![
                el("driver", &[("name", "qemu"), ("type", "qcow2"), ("discard", "unmap")]),
                el("source", &[("file", &path.into())]),
                el("target", &[("dev", &dev), ("bus", "virtio")]),
            ],
        );
        self.disks.push(disk);
        self
    }

    /// A read-only CD-ROM on SATA.
    pub fn cdrom(mut self, path: impl Into<String>) -> Self {
        let n = self.disks.iter().filter(|d| d.attr("device") == Some("cdrom")).count();
        let dev = format!("sd{}", (b'a' + n as u8 % 26) as char);
        let disk = with_children(
            el("disk", &[("type", "file"), ("device", "cdrom")]),
            vec![
                el("driver", &[("name", "qemu"), ("type", "raw")]),
                el("source", &[("file", &path.into())]),
                el("target", &[("dev", &dev), ("bus", "sata")]),
                el("readonly", &[]),
            ],
        );
        self.disks.push(disk);
        self
    }

    /// Any typed disk (`Disk::network(…)`, `Disk::block(…)`, …).
    pub fn disk(mut self, disk: &Disk) -> Self {
        self.disks.push(disk.to_element());
        self
    }

    /// A virtio NIC on a host bridge (`cloudbr0`).
    pub fn bridge(self, bridge: &str) -> Self {
        self.interface(&Interface::bridge(bridge))
    }

    /// A virtio NIC on a libvirt network.
    pub fn network(self, network: &str) -> Self {
        self.interface(&Interface::network(network))
    }

    /// Any typed NIC (`Interface::ovs_bridge(…)`, `Interface::direct(…)`, …). [`build`](Self::build)
    /// checks it with [`Interface::validate`].
    ///
    /// ```
    /// use kvmhost_core::domain::{DomainBuilder, DomainError, Interface, VlanId};
    /// let vlan = VlanId::new(300).unwrap();
    /// let err = DomainBuilder::new("vm").interface(&Interface::bridge("cloudbr1").with_vlan(vlan)).build().unwrap_err();
    /// assert!(matches!(err, DomainError::Interface(_)));
    /// assert!(err.to_string().starts_with("interface /domain/devices/interface[1] (type='bridge' source='cloudbr1'): vlan:"));
    /// assert!(DomainBuilder::new("vm").interface(&Interface::ovs_bridge("cloudbr1", None).with_vlan(vlan)).build().is_ok());
    /// ```
    pub fn interface(mut self, nic: &Interface) -> Self {
        self.interfaces.push(nic.clone());
        self
    }

    /// No NIC unless one is added (by default a domain without NICs gets a virtio NIC on the
    /// libvirt network `default`, as virt-install does).
    pub fn without_default_nic(mut self) -> Self {
        self.default_nic = false;
        self
    }

    /// Any other typed device (written in libvirt's device order).
    pub fn device<T: XmlPart>(mut self, device: &T) -> Self {
        self.extra_devices.push(device.to_element());
        self
    }

    /// The remote display (VNC on 127.0.0.1 by default).
    pub fn display(mut self, display: Display) -> Self {
        self.display = display;
        self
    }

    /// How many empty PCIe root ports to provide for hotplug (default 4).
    pub fn pcie_root_ports(mut self, n: u32) -> Self {
        self.root_ports = n;
        self
    }

    /// Whether to add the QEMU guest agent channel (default yes).
    pub fn guest_agent(mut self, yes: bool) -> Self {
        self.guest_agent = yes;
        self
    }

    /// An application metadata element; it must declare its namespace (`xmlns:app='…'`).
    pub fn metadata(mut self, element: Element) -> Self {
        self.metadata.push(element);
        self
    }

    fn validate(&self) -> Result<(), DomainError> {
        let invalid = |path: &str, reason: &str| DomainError::Invalid { path: path.into(), reason: reason.into() };
        if self.name.trim().is_empty() {
            return Err(invalid("/domain/name", "a domain needs a non-empty name"));
        }
        if self.name.contains(['\n', '/']) {
            return Err(invalid("/domain/name", "a name may not contain a newline or '/'"));
        }
        for (path, text) in [
            ("/domain/name", Some(&self.name)),
            ("/domain/title", self.title.as_ref()),
            ("/domain/description", self.description.as_ref()),
        ] {
            if let Some(t) = text {
                check_xml_chars(t)
                    .map_err(|c| invalid(path, &format!("character U+{:04X} cannot be carried by XML", c as u32)))?;
            }
        }
        if self.title.as_deref().is_some_and(|t| t.contains('\n')) {
            return Err(invalid("/domain/title", "a title is a single line"));
        }
        if self.memory.kib().unwrap_or(0) == 0 {
            return Err(invalid("/domain/memory", "memory must be at least 1 KiB"));
        }
        if let Some(cur) = &self.current_memory {
            if cur.bytes() > self.memory.bytes() {
                return Err(invalid("/domain/currentMemory", "current memory exceeds memory"));
            }
        }
        if self.vcpus == 0 {
            return Err(invalid("/domain/vcpu", "at least one vCPU is needed"));
        }
        for (i, nic) in self.interfaces.iter().enumerate() {
            nic.validate_named(Some(&format!("/domain/devices/interface[{}]", i + 1)))?;
        }
        for m in &self.metadata {
            if !m.attributes.iter().any(|a| a.name.starts_with("xmlns")) {
                return Err(invalid("/domain/metadata", "metadata elements must declare an XML namespace"));
            }
        }
        Ok(())
    }

    fn devices(&self) -> Element {
        let mut devices = Element::new("devices");
        let mut add = |e: Element| insert_child(&mut devices, e, DEVICE_ORDER);
        self.disks.iter().cloned().for_each(&mut add);
        add(el("controller", &[("type", "usb"), ("index", "0"), ("model", "qemu-xhci"), ("ports", "15")]));
        if self.machine.contains("q35") {
            add(el("controller", &[("type", "pci"), ("index", "0"), ("model", "pcie-root")]));
            for i in 1..=self.root_ports {
                add(el("controller", &[("type", "pci"), ("index", &i.to_string()), ("model", "pcie-root-port")]));
            }
        }
        if self.disks.iter().any(|d| d.child("target").and_then(|t| t.attr("bus")) == Some("sata")) {
            add(el("controller", &[("type", "sata"), ("index", "0")]));
        }
        self.interfaces.iter().map(XmlPart::to_element).for_each(&mut add);
        if self.interfaces.is_empty() && self.default_nic {
            add(Interface::network("default").to_element());
        }
        add(with_children(
            el("serial", &[("type", "pty")]),
            vec![with_children(
                el("target", &[("type", "isa-serial"), ("port", "0")]),
                vec![el("model", &[("name", "isa-serial")])],
            )],
        ));
        add(with_children(el("console", &[("type", "pty")]), vec![el("target", &[("type", "serial"), ("port", "0")])]));
        if self.guest_agent {
            add(with_children(
                el("channel", &[("type", "unix")]),
                vec![el("target", &[("type", "virtio"), ("name", "org.qemu.guest_agent.0")])],
            ));
        }
        let listen = match &self.display {
            Display::Vnc { listen } => Some(("vnc", listen)),
            Display::Spice { listen } => Some(("spice", listen)),
            Display::Headless => None,
        };
        if let Some((kind, address)) = listen {
            add(el("input", &[("type", "tablet"), ("bus", "usb")]));
            add(with_children(
                el("graphics", &[("type", kind), ("autoport", "yes"), ("listen", address)]),
                vec![el("listen", &[("type", "address"), ("address", address)])],
            ));
            add(with_children(
                el("video", &[]),
                vec![el("model", &[("type", "virtio"), ("heads", "1"), ("primary", "yes")])],
            ));
        }
        add(el("memballoon", &[("model", "virtio")]));
        let mut rng = el("rng", &[("model", "virtio")]);
        rng.push_element(el("backend", &[("model", "random")])).set_text("/dev/urandom");
        add(rng);
        self.extra_devices.iter().cloned().for_each(&mut add);
        devices
    }

    /// Checks the options and writes the domain.
    pub fn build(self) -> Result<Domain, DomainError> {
        self.validate()?;
        let def = DomainDef {
            domain_type: Some(self.domain_type.clone()),
            name: Some(self.name.clone()),
            uuid: self.uuid.clone(),
            title: self.title.clone(),
            description: self.description.clone(),
            memory: Some(self.memory.clone()),
            current_memory: Some(self.current_memory.clone().unwrap_or_else(|| self.memory.clone())),
            vcpu: Some(Vcpu { placement: Some(super::VcpuPlacement::Static), ..Vcpu::new(self.vcpus) }),
            on_poweroff: Some(LifecycleAction::Destroy),
            on_reboot: Some(LifecycleAction::Restart),
            on_crash: Some(LifecycleAction::Destroy),
            ..DomainDef::default()
        };
        let mut root = def.to_element();
        if !self.metadata.is_empty() {
            insert_child(&mut root, with_children(Element::new("metadata"), self.metadata.clone()), DOMAIN_ORDER);
        }
        let mut os = Element::new("os");
        if self.firmware_efi {
            os.set_attr("firmware", "efi");
        }
        os.push_element(el("type", &[("arch", &self.arch), ("machine", &self.machine)])).set_text("hvm");
        match &self.kernel {
            Some((kernel, initrd, cmdline)) => {
                set_child_text(&mut os, "kernel", Some(kernel), &[]);
                set_child_text(&mut os, "initrd", initrd.as_deref(), &[]);
                set_child_text(&mut os, "cmdline", cmdline.as_deref(), &[]);
            }
            None => {
                os.push_element(el("boot", &[("dev", "hd")]));
            }
        }
        insert_child(&mut root, os, DOMAIN_ORDER);
        insert_child(
            &mut root,
            with_children(Element::new("features"), vec![el("acpi", &[]), el("apic", &[])]),
            DOMAIN_ORDER,
        );
        if let Some(cpu) = &self.cpu {
            insert_child(&mut root, cpu.clone(), DOMAIN_ORDER);
        }
        let clock = with_children(
            el("clock", &[("offset", "utc")]),
            vec![
                el("timer", &[("name", "rtc"), ("tickpolicy", "catchup")]),
                el("timer", &[("name", "pit"), ("tickpolicy", "delay")]),
                el("timer", &[("name", "hpet"), ("present", "no")]),
            ],
        );
        insert_child(&mut root, clock, DOMAIN_ORDER);
        let pm = with_children(
            Element::new("pm"),
            vec![el("suspend-to-mem", &[("enabled", "no")]), el("suspend-to-disk", &[("enabled", "no")])],
        );
        insert_child(&mut root, pm, DOMAIN_ORDER);
        insert_child(&mut root, self.devices(), DOMAIN_ORDER);
        Domain::from_document(Document::new(root))
    }
}
