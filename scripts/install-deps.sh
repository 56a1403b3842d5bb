#!/usr/bin/env bash
# Installs the Debian 12 packages kvmhost needs, only those missing.
#   scripts/install-deps.sh demo   # build deps: libvirt headers (the demo uses test:///default, no daemon)
#   scripts/install-deps.sh test   # + xmllint (RelaxNG validation against libvirt's schemas)
set -euo pipefail
want=(libvirt-dev pkg-config)
case "${1:-demo}" in
  demo) ;;
  test)
    want+=(libxml2-utils)
    # Packages of the real daemons the tests start (scripts/services/*.sh packages).
    for svc in "$(dirname "$0")"/services/*.sh; do
      [ -e "$svc" ] || continue
      read -r -a extra <<<"$("$svc" packages)"
      want+=("${extra[@]}")
    done ;;
  *) echo "usage: $0 demo|test" >&2; exit 2 ;;
esac
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
apt_updated=""
# Two rounds: installing one package can remove another one we want (qemu-system-x86 from
# Debian 12 removes a newer qemu-utils from backports, taking qemu-img with it); the second
# round puts it back at the version that fits.
for round in 1 2; do
  missing=()
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]})) || break
  echo "installing: ${missing[*]}"
  if [ -z "$apt_updated" ]; then
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  # All wanted packages in one command (those present are no-ops): apt then resolves them together,
  # as ../shared/ENVIRONMENT.md's "qemu-system-x86 qemu-utils" in one command does.
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
done
command -v cargo >/dev/null || { echo "cargo not found: install Rust (https://rustup.rs)" >&2; exit 1; }
