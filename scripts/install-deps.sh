#!/usr/bin/env bash
# Installs the Debian 12 packages kvmhost needs, only those missing.
#   scripts/install-deps.sh demo   # build deps: libvirt headers (the demo uses test:///default, no daemon)
#   scripts/install-deps.sh test   # + xmllint (RelaxNG validation against libvirt's schemas), minisign
#                                  #   (signatures checked both ways against the real tool), iptables
#                                  #   (host_setup's firewall step) and the packages of the real
#                                  #   daemons the tests start
#   scripts/install-deps.sh list demo|test   # print the wanted packages, one per line, and exit
#
# Only missing packages are named to apt. Naming an installed package pins it: the machine image
# ships qemu-utils 10 from bookworm-backports (a source it does not configure), and
# `apt-get install qemu-system-x86 qemu-utils` must then keep qemu-utils 10 while qemu-system-x86
# 7.2 needs the 7.2 family: "held broken packages". Installing qemu-system-x86 alone replaces the
# backports qemu-utils, and the next round brings qemu-utils 7.2 back (see ../shared/ENVIRONMENT.md).
# apt's own messages reach the terminal; on failure each package is retried alone so that apt
# names the one it cannot install.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

wanted() {
  local -a want=(libvirt-dev pkg-config)
  case "$1" in
    demo) ;;
    test)
      want+=(libxml2-utils minisign)
      # iptables (nf_tables backend on Debian 12): the host_setup example's firewall rules,
      # written inside the network namespace of tests/host_setup.rs.
      want+=(iptables)
      # Packages of the real daemons the tests start (scripts/services/*.sh packages).
      local svc extra
      for svc in "$here"/services/*.sh; do
        [ -e "$svc" ] || continue
        read -r -a extra <<<"$("$svc" packages)"
        want+=("${extra[@]}")
      done ;;
    *) echo "usage: $0 [list] demo|test" >&2; exit 2 ;;
  esac
  printf '%s\n' "${want[@]}" | awk '!seen[$0]++'
}

if [ "${1:-}" = list ]; then
  wanted "${2:-demo}"
  exit 0
fi
mapfile -t want < <(wanted "${1:-demo}")

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
apt() { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get "$@"; }
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing_now() {
  missing=()
  local p
  for p in "${want[@]}"; do installed "$p" || missing+=("$p"); done
}

apt_updated=""
update_once() {
  [ -n "$apt_updated" ] && return 0
  apt -q update >/dev/null || apt update
  apt_updated=1
}
install_all() {
  apt install -y -q --no-install-recommends "$@"
}

# Rounds: installing one package can remove another one we want (qemu-system-x86 from Debian 12
# removes the backports qemu-utils); the next round installs it again at the version that fits.
for round in 1 2 3; do
  missing_now
  ((${#missing[@]})) || break
  echo "install-deps (round $round): ${missing[*]}"
  update_once
  if install_all "${missing[@]}"; then
    continue
  fi
  echo "install-deps: apt could not install them together; trying one at a time" >&2
  for p in "${missing[@]}"; do
    installed "$p" || install_all "$p" || { echo "install-deps: cannot install $p (apt's message above)" >&2; exit 1; }
  done
done
missing_now
if ((${#missing[@]})); then
  echo "install-deps: still missing after three rounds: ${missing[*]}" >&2
  exit 1
fi
command -v cargo >/dev/null || { echo "cargo not found: install Rust (https://rustup.rs)" >&2; exit 1; }
