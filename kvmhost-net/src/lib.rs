//! # kvmhost-net
//!
//! Host networking for KVM hosts: Linux bridges, VLANs and Open vSwitch bridges with VLAN
//! "fake bridges", as a declarative plan → diff → apply → verify → roll back engine over
//! netlink (`rtnetlink`) and OVSDB (RFC 7047).
//!
//! Status: the crate is reserved in the workspace with its dependencies pinned (`rtnetlink`
//! 0.23, which shares a lockfile with `virt` 0.5); the engine itself is not written yet and
//! nothing here is exported.

pub mod ovs;
pub mod ovsdb;
