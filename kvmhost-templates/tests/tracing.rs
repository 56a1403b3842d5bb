//! The crate reports packing and unpacking through `tracing` (it never installs a subscriber):
//! an application's subscriber sees the spans and events, refusals included.

mod common;

use common::*;
use kvmhost_core::domain::Domain;
use kvmhost_templates::archive::{self, PackRequest, ReadOptions};
use kvmhost_testdata::capture::Captured;

#[test]
fn pack_and_unpack_are_traced() {
    let captured = Captured::default();
    let sink = captured.clone();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("kvmhost_templates=debug"))
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .init();

    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("vda.img");
    sparse_image(&img, 4 << 20, &[(0, &data(10_000, 7))]);
    let d = Domain::parse(&archipel_domain(&[img.to_str().unwrap()])).unwrap();
    let pkg = t.path().join("web.vmcast");
    archive::pack(&PackRequest::new(&d, vec![img]), &pkg, &mut |_| {}).unwrap();
    archive::unpack(&pkg, &t.path().join("out"), &ReadOptions::default(), &mut |_| {}).unwrap();
    let not_a_package = t.path().join("junk.vmcast");
    std::fs::write(&not_a_package, b"junk").unwrap();
    assert!(archive::unpack(&not_a_package, &t.path().join("out2"), &ReadOptions::default(), &mut |_| {}).is_err());

    let log = captured.text();
    let line = |what: &str| log.lines().find(|l| l.contains(what)).unwrap_or_else(|| panic!("no {what:?} in:\n{log}"));
    assert!(line("package written").contains("vmcast_pack"), "{log}");
    assert!(line("package unpacked").contains("vmcast_unpack"), "{log}");
    // A refusal the caller gets as an error is a debug event, not a warning printed twice.
    assert!(line("package refused").contains("DEBUG"), "{log}");
}
