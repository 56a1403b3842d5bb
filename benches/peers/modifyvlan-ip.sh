#!/bin/sh
# The "add" operation of CloudStack's KVM VLAN script (scripts/vm/network/vnet/modifyvlan.sh),
# re-written with `ip` in place of vconfig / brctl / ifconfig: the peer that benches/net.rs
# measures kvmhost-net against. The CloudStack agent runs it once per VLAN:
#   modifyvlan-ip.sh -o add -v VID -p PIF -b BRIDGE
# Like the original, every change is preceded by a check of the current state (so a second run
# changes nothing): the VLAN device PIF.VID is created and set up, the bridge created with
# forward delay 0, the device enslaved, the bridge set up.
# KVMHOST_VLAN_STANDIN=veth creates a veth pair PIF.VID / PIF.VIDp (both up) instead of the
# 802.1Q device, for kernels without 802.1Q such as this project's CI machines.
# Not reproduced: `modprobe 8021q` when `lsmod` does not list it (the module is loaded once on
# a real host; this kernel has none, and running modprobe per call would only slow the peer).
set -u
op='' vid='' pif='' br=''
while getopts 'o:v:p:b:' opt; do
  case $opt in
    o) op=$OPTARG ;;
    v) vid=$OPTARG ;;
    p) pif=$OPTARG ;;
    b) br=$OPTARG ;;
    *) exit 2 ;;
  esac
done
[ "$op" = add ] && [ -n "$vid" ] && [ -n "$pif" ] && [ -n "$br" ] || {
  echo "usage: $0 -o add -v VID -p PIF -b BRIDGE" >&2
  exit 2
}
dev="$pif.$vid"

lsmod 2>/dev/null | grep -q '^8021q' || :

if [ ! -d "/sys/class/net/$dev" ]; then
  if [ "${KVMHOST_VLAN_STANDIN:-}" = veth ]; then
    ip link add "$dev" type veth peer name "${dev}p" && ip link set "${dev}p" up
  else
    ip link add link "$pif" name "$dev" type vlan id "$vid"
  fi
  [ -d "/sys/class/net/$dev" ] || { echo "failed to create VLAN $vid on $pif" >&2; exit 1; }
  ip link set "$dev" up
fi
# Up? (the original greps ifconfig's list of up interfaces)
ip -br link show up | grep -q "^$dev[ @]" || ip link set "$dev" up

if [ ! -d "/sys/class/net/$br" ]; then
  ip link add "$br" type bridge || [ -d "/sys/class/net/$br" ] || { echo "failed to create $br" >&2; exit 2; }
  ip link set "$br" type bridge forward_delay 0
fi

if ! ls "/sys/class/net/$br/brif/" | grep -qw "$dev"; then
  ip link set "$dev" master "$br" || { echo "failed to add $dev to $br" >&2; exit 3; }
fi

ip -br link show up | grep -q "^$br[ @]" || ip link set "$br" up
exit 0
