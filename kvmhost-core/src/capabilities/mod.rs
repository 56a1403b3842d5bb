//! libvirt's host capability documents as typed values, parsed with the same XML layer as the
//! domain model ([`crate::xml`]):
//!
//! - [`Capabilities`] (`virConnectGetCapabilities`): the host CPU as the CPU engine's
//!   [`CpuDef`](crate::cpu::CpuDef), NUMA cells, migration transports, security models, and the
//!   guests (OS type, arch, machines, domain types) the host runs.
//! - [`DomainCapabilities`] (`virConnectGetDomainCapabilities`): CPU modes, custom models,
//!   devices and features one emulator / machine / domain type offers.
//! - [`host_model_cpu`]: the host-model CPU of domain capabilities — the one reader used by
//!   [`DomainCapabilities`], [`CpuDef::from_domain_capabilities`](crate::cpu::CpuDef::from_domain_capabilities)
//!   and kvmhost-libvirt's migration CPU check.
//! - [`CapabilitiesError`]: typed errors naming the element or attribute at fault, or the line
//!   and column when the text is not XML.
//!
//! Both keep the document they were parsed from, like a [`Domain`](crate::domain::Domain):
//! `document()` gives it (everything libvirt wrote, typed here or not) and `to_xml()` writes it
//! back byte for byte; the typed fields are a read-only extract of it.
//!
//! Parsing is pure (strings in, values out); kvmhost-libvirt fetches the documents and
//! re-exports these types.
//!
//! ```
//! use kvmhost_core::capabilities::{Capabilities, DomainCapabilities};
//! let caps = Capabilities::parse("<capabilities><host><cpu><arch>x86_64</arch>\
//!     <model>Haswell</model></cpu></host></capabilities>").unwrap();
//! assert_eq!(caps.host.cpu.unwrap().arch.as_deref(), Some("x86_64"));
//! let dc = DomainCapabilities::parse("<domainCapabilities><cpu><mode name='host-model' supported='yes'>\
//!     <model>Haswell</model></mode></cpu></domainCapabilities>").unwrap();
//! assert_eq!(dc.cpu.host_model.as_ref().unwrap().model_name(), Some("Haswell"));
//! assert!(dc.to_xml().unwrap().starts_with("<domainCapabilities><cpu><mode name='host-model'"));
//! ```

mod domain_caps;
mod error;
mod host;
mod host_model;
mod read;

pub use domain_caps::{CpuModelSupport, CpuModes, DomainCapabilities, SupportedEnums};
pub use error::CapabilitiesError;
pub use host::{Capabilities, GuestCapabilities, HostCapabilities, Machine, NumaCell};
pub use host_model::host_model_cpu;
