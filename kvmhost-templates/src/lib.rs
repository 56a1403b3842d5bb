//! # kvmhost-templates
//!
//! Archipel-style VMCasts: pack VM appliances, publish and read feeds, download, verify and
//! instantiate templates.
//!
//! Status: the crate is reserved in the workspace; nothing is exported yet.
