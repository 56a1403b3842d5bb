//! kvmhost-net
