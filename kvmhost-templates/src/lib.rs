//! kvmhost-templates
