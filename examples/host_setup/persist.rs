//! `--persist FORMAT`: the layout also written as the distribution's persistent network
//! configuration (kvmhost-net's `render`: systemd-networkd files, Debian's
//! `/etc/network/interfaces` or RHEL's ifcfg files) under the root directory, so that it
//! survives a reboot as the guide's hand edits do. The files are written after the layout is
//! applied, with backups and the run's record like every other file (an existing
//! `/etc/network/interfaces` is replaced as a whole; its backup keeps the old one).

use std::path::Path;

use kvmhost::core::config::{read_text, FileEdit};
use kvmhost::net::render::{render, Format};
use kvmhost::net::HostNetwork;

/// The persistence formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Persist {
    /// systemd-networkd (`/etc/systemd/network/*.netdev`, `*.network`).
    Networkd,
    /// Debian ifupdown (`/etc/network/interfaces`).
    Interfaces,
    /// RHEL network-scripts (`/etc/sysconfig/network-scripts/ifcfg-*`).
    Ifcfg,
}

/// The edits writing `net` in `format` under `root` (files already holding it left out).
pub fn plan(root: &Path, net: &HostNetwork, format: Persist) -> Result<Vec<FileEdit>, String> {
    let format = match format {
        Persist::Networkd => Format::Networkd,
        Persist::Interfaces => Format::Interfaces,
        Persist::Ifcfg => Format::Ifcfg,
    };
    let mut edits = Vec::new();
    for f in render(net, format) {
        let path = root.join(f.path.trim_start_matches('/'));
        let before = read_text(&path).map_err(|e| format!("{}: {e}", f.path))?;
        let edit = FileEdit::text(&path, &f.path, before, f.contents);
        if !edit.is_noop() {
            edits.push(edit);
        }
    }
    Ok(edits)
}
