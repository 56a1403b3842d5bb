//! kvmhost-libvirt
