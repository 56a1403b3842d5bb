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
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing: ${missing[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "cargo not found: install Rust (https://rustup.rs)" >&2; exit 1; }
