#!/usr/bin/env bash
# Cargo features, as `cargo hack --each-feature` would check them (run by scripts/test.sh):
# each crate builds with no default features and with each feature alone, and the facade with only
# `core` pulls in no libvirt, tokio or rtnetlink.
set -euo pipefail
cd "$(dirname "$0")/.."
check() { echo "cargo check $*"; cargo check --quiet "$@"; }

# The pure part alone: no libvirt (virt), no tokio, no rtnetlink among the normal dependencies.
tree=$(cargo tree -p kvmhost --no-default-features --features core -e normal --prefix none)
for heavy in virt tokio rtnetlink; do
  if grep -q "^$heavy v" <<<"$tree"; then
    echo "FEATURES: kvmhost --features core depends on $heavy:" >&2
    cargo tree -p kvmhost --no-default-features --features core -e normal -i "$heavy" >&2
    exit 1
  fi
done
echo "kvmhost --no-default-features --features core: $(wc -l <<<"$tree") crates, none of virt, tokio, rtnetlink"

# kvmhost-net's pure part (model, validation, plan, renderers, CloudStack layouts) alone.
tree=$(cargo tree -p kvmhost-net --no-default-features -e normal --prefix none)
for heavy in tokio rtnetlink nix; do
  if grep -q "^$heavy v" <<<"$tree"; then
    echo "FEATURES: kvmhost-net --no-default-features depends on $heavy:" >&2
    cargo tree -p kvmhost-net --no-default-features -e normal -i "$heavy" >&2
    exit 1
  fi
done
echo "kvmhost-net --no-default-features: $(wc -l <<<"$tree") crates, none of tokio, rtnetlink, nix"

check -p kvmhost --no-default-features
for f in core net libvirt templates https; do check -p kvmhost --no-default-features --features "$f"; done
check -p kvmhost-templates --no-default-features
for f in http https libvirt; do check -p kvmhost-templates --no-default-features --features "$f"; done
check -p kvmhost-core
check -p kvmhost-net
check -p kvmhost-net --no-default-features
for f in netlink ovsdb; do check -p kvmhost-net --no-default-features --features "$f"; done
check -p kvmhost-libvirt
echo "features: every crate builds with each feature alone"
