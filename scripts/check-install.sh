#!/usr/bin/env bash
# Checks the install step itself (scripts/install-deps.sh), not only what runs after it.
#
#   scripts/check-install.sh [demo|test]               # after install-deps: every wanted package
#                                                      # installed, and the tools the tests run answer
#   scripts/check-install.sh --from-image [demo|test]  # first put the machine's packages back in the
#                                                      # image's state, then run install-deps, then check
#   scripts/check-install.sh --reset                   # only put the packages back in the image's state
#
# The image state (../shared/ENVIRONMENT.md): qemu-utils 10 from bookworm-backports, whose source
# the image does not configure, and none of the test packages. --from-image reproduces it with a
# temporary sources file for bookworm-backports (same mirror and component as debian.sources),
# installs qemu-utils from there, removes qemu-system-x86 and the test packages install-deps adds
# (it leaves other packages alone), removes the sources file and updates. It changes the
# machine's packages: run it on a test machine or where that is fine (as root or with sudo).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
from_image=""
reset_only=""
case "${1:-}" in
  --from-image) from_image=1; shift ;;
  --reset) from_image=1; reset_only=1; shift ;;
esac
profile="${1:-test}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
apt() { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get "$@"; }
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || true; }

if [ -n "$from_image" ]; then
  src=/etc/apt/sources.list.d/debian.sources
  mirror=$(awk '/^URIs:/ { print $2; exit }' "$src")
  component=$(awk '/^Components:/ { print $2; exit }' "$src")
  [ -n "$mirror" ] && [ -n "$component" ] || { echo "cannot read mirror/component from $src" >&2; exit 1; }
  tmp=/etc/apt/sources.list.d/kvmhost-check-backports.sources
  cleanup() { $SUDO rm -f "$tmp"; }
  trap cleanup EXIT
  printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: %s\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$mirror" "$component" | $SUDO tee "$tmp" >/dev/null
  echo "check-install: reproducing the image state (backports qemu-utils, no test packages)"
  apt -q update >/dev/null
  # The test packages install-deps adds, except those the image has (pkg-config, iproute2,
  # openssl: removing openssl would take ca-certificates with it). Removing qemu-system-x86
  # first lets the backports qemu-utils in (it replaces the 7.2 family).
  mapfile -t added < <("$here/install-deps.sh" list test | grep -vx -e pkg-config -e qemu-utils -e iproute2 -e openssl)
  remove=()
  for p in "${added[@]}" qemu-system-common qemu-system-data; do installed "$p" && remove+=("$p"); done
  ((${#remove[@]} == 0)) || apt -q remove -y "${remove[@]}" >/dev/null
  apt -q install -y --no-install-recommends -t bookworm-backports qemu-utils >/dev/null
  cleanup
  apt -q update >/dev/null
  echo "check-install: image state: qemu-utils $(version qemu-utils); qemu-system-x86: $(version qemu-system-x86)"
  case "$(version qemu-utils)" in *bpo12*) ;; *) echo "check-install: failed to reproduce the image state" >&2; exit 1 ;; esac
  [ -z "$reset_only" ] || exit 0
  start=$(date +%s)
  "$here/install-deps.sh" "$profile"
  echo "check-install: install-deps $profile took $(( $(date +%s) - start )) s from the image state"
fi

fail=0
while read -r p; do
  if installed "$p"; then
    echo "ok   $p $(version "$p")"
  else
    echo "FAIL $p is not installed"; fail=1
  fi
done < <("$here/install-deps.sh" list "$profile")
# The tools the demo and the tests call, each asked for its version.
tools=("pkg-config --modversion libvirt")
[ "$profile" = test ] && tools+=("xmllint --version" "virsh --version" "libvirtd --version"
  "qemu-system-x86_64 --version" "qemu-img --version" "ovs-vsctl --version" "ovsdb-server --version"
  "ethtool --version" "ping -V" "minisign -v")
for t in "${tools[@]}"; do
  # The whole output first, then its first line: `| head -n 1` would close the pipe early and a
  # tool still writing (xmllint prints ~30 lines) dies of SIGPIPE, failing under pipefail.
  if out=$($t 2>&1) && out=${out%%$'\n'*} && [ -n "$out" ]; then
    echo "ok   $t: $out"
  else
    echo "FAIL $t: ${out:-no output}"; fail=1
  fi
done
if [ "$profile" = test ]; then
  # qemu-img must belong to the same QEMU as qemu-system-x86 (the 7.2 family of Debian 12).
  if [ "$(version qemu-utils)" != "$(version qemu-system-x86)" ]; then
    echo "FAIL qemu-utils $(version qemu-utils) differs from qemu-system-x86 $(version qemu-system-x86)"; fail=1
  fi
fi
((fail == 0)) && echo "check-install: $profile dependencies complete" || { echo "check-install: incomplete" >&2; exit 1; }
