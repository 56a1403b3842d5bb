//! Shared set-up of the CPU engine tests.

use std::path::PathBuf;

use kvmhost_core::cpu::CpuMap;

/// libvirt's test corpus and its CPU map, or `None` after printing why the test skips.
pub fn corpus_and_map() -> Option<(PathBuf, CpuMap)> {
    let Some(corpus) = kvmhost_testdata::libvirt_corpus() else {
        println!("SKIP: libvirt test corpus not found");
        return None;
    };
    let map = CpuMap::load(corpus.join("cpu_map")).expect("libvirt's cpu_map loads");
    Some((corpus, map))
}
