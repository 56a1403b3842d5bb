#!/usr/bin/env bash
# Two libvirt hosts on one machine, for the live-migration tests (see scripts/services/README.md).
#
#   libvirt-hosts.sh packages   # Debian packages it needs
#   libvirt-hosts.sh start      # prints export KVMHOST_MIGRATION_{SRC_URI,DST_URI,SRC_ADDR,DST_ADDR}=...
#   libvirt-hosts.sh stop       # kills both daemons (and their guests) by PID, removes the namespaces
#
# Each host is a libvirtd + virtlogd in its own network namespace (kvmhost-mig-src,
# kvmhost-mig-dst) joined by a veth pair (10.99.0.1/24 <-> 10.99.0.2/24; these addresses exist
# only inside the two namespaces). Each sees private copies of the libvirt directories
# (/tmp/kvmhost-mig-ROLE/{etc,run,lib,log,cache}) bind-mounted over the system paths in the
# private mount namespace `ip netns exec` creates, has its own host_uuid, and listens on TCP
# (no auth, reachable only inside the namespaces) so peer-to-peer migration can reach the other
# daemon. QEMU's migration ports come from 49152-49216. Clients in the root namespace use the
# unix sockets: qemu+unix:///system?socket=/tmp/kvmhost-mig-ROLE/run/libvirt-sock.
set -eEuo pipefail

PREFIX="${KVMHOST_MIGRATION_PREFIX:-kvmhost-mig}"  # namespaces and /tmp dirs; override to run instances side by side
ROLES=(src dst)
declare -A ADDR=([src]=10.99.0.1 [dst]=10.99.0.2)

base() { echo "/tmp/$PREFIX-$1"; }
ns() { echo "$PREFIX-$1"; }
log() { echo "libvirt-hosts: $*" >&2; }

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
pid_of() { [ -s "$1" ] && echo "$(cat "$1")" || true; }

# Sends SIGTERM to the given PIDs, waits up to 10 s for all of them, then SIGKILLs the rest.
kill_pids() {
  local pid left
  for pid in "$@"; do alive "$pid" && kill "$pid" 2>/dev/null || true; done
  for _ in $(seq 100); do
    left=""
    for pid in "$@"; do alive "$pid" && left=1; done
    [ -z "$left" ] && return 0
    sleep 0.1
  done
  for pid in "$@"; do alive "$pid" && kill -9 "$pid" 2>/dev/null || true; done
}

# The PIDs of one host's guests (QEMU writes them under run/qemu; driver.pid is the daemon's
# own lock file) and, with "daemons", of its libvirtd and virtlogd.
pids_of() {
  local b pidfile
  b=$(base "$1")
  [ -d "$b" ] || return 0
  if [ "$2" = guests ]; then
    for pidfile in "$b"/run/qemu/*.pid; do
      [ -e "$pidfile" ] && [ "$(basename "$pidfile")" != driver.pid ] && pid_of "$pidfile"
    done
  else
    pid_of "$b/libvirtd.pid"
    pid_of "$b/virtlogd.pid"
  fi
  return 0
}

remove_host() {
  local role=$1 b
  b=$(base "$role")
  if [ -d "$b" ]; then
    # The bind mounts live in the daemons' private mount namespace and vanish with them; if one
    # ever leaked into this namespace, take it down before deleting the directory.
    awk -v b="$b" 'index($2, b) == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r m; do
      umount -l "$m" || true
    done
    rm -rf "$b"
  fi
  if ip netns list | awk '{print $1}' | grep -qx "$(ns "$role")"; then
    ip netns del "$(ns "$role")"
  fi
}

start_host() {
  local role=$1 b n uuid
  b=$(base "$role")
  n=$(ns "$role")
  mkdir -p "$b/run" "$b/log/qemu" "$b/cache" "$b/lib/qemu"
  cp -a /etc/libvirt "$b/etc"
  # No domains, and no networks that would start on their own, from the system's configuration.
  rm -f "$b"/etc/qemu/*.xml
  rm -f "$b"/etc/qemu/networks/autostart/*.xml
  uuid=$(cat /proc/sys/kernel/random/uuid)
  printf 'host_uuid = "%s"\nlisten_tls = 0\nlisten_tcp = 1\nauth_tcp = "none"\n' "$uuid" >>"$b/etc/libvirtd.conf"
  # QEMU runs as root in these private daemons: /dev/kvm may be root-only where no udev runs.
  printf 'migration_port_min = 49152\nmigration_port_max = 49216\nuser = "root"\ngroup = "root"\n' >>"$b/etc/qemu.conf"
  chown libvirt-qemu:libvirt-qemu "$b/lib/qemu"
  chmod 750 "$b/lib/qemu"
  ip netns exec "$n" bash -c "
    set -e
    mkdir -p /etc/libvirt /run/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt
    mount --bind $b/etc /etc/libvirt
    mount --bind $b/run /run/libvirt
    mount --bind $b/lib /var/lib/libvirt
    mount --bind $b/log /var/log/libvirt
    mount --bind $b/cache /var/cache/libvirt
    virtlogd -d -p $b/virtlogd.pid
    libvirtd -d --listen -p $b/libvirtd.pid
  " >"$b/daemons.log" 2>&1 || { log "$role: $(cat "$b/daemons.log")"; return 1; }
}

start() {
  command -v libvirtd >/dev/null || { log "libvirtd is not installed (run scripts/install-deps.sh test)"; exit 1; }
  stop >/dev/null 2>&1 || true
  trap 'log "start failed (line \$LINENO)"; stop >/dev/null 2>&1' ERR
  for role in "${ROLES[@]}"; do ip netns add "$(ns "$role")"; done
  # The veth pair is created directly inside the namespaces: nothing appears in the root one.
  ip -n "$(ns src)" link add veth0 type veth peer name veth0 netns "$(ns dst)"
  for role in "${ROLES[@]}"; do
    ip -n "$(ns "$role")" link set lo up
    ip -n "$(ns "$role")" addr add "${ADDR[$role]}/24" dev veth0
    ip -n "$(ns "$role")" link set veth0 up
  done
  for role in "${ROLES[@]}"; do start_host "$role"; done
  for role in "${ROLES[@]}"; do
    local uri="qemu+unix:///system?socket=$(base "$role")/run/libvirt-sock" ok=""
    # The first call probes QEMU's capabilities (several seconds); wait until the daemon answers.
    for _ in $(seq 120); do
      if virsh -q -c "$uri" capabilities >/dev/null 2>&1; then ok=1; break; fi
      sleep 0.5
    done
    [ -n "$ok" ] || { log "libvirtd ($role) did not come up; see $(base "$role")/daemons.log"; exit 1; }
  done
  ip netns exec "$(ns src)" ping -c1 -W2 "${ADDR[dst]}" >/dev/null || { log "no link between the namespaces"; exit 1; }
  trap - ERR
  echo "export KVMHOST_MIGRATION_SRC_URI='qemu+unix:///system?socket=$(base src)/run/libvirt-sock'"
  echo "export KVMHOST_MIGRATION_DST_URI='qemu+unix:///system?socket=$(base dst)/run/libvirt-sock'"
  echo "export KVMHOST_MIGRATION_SRC_ADDR='${ADDR[src]}'"
  echo "export KVMHOST_MIGRATION_DST_ADDR='${ADDR[dst]}'"
}

stop() {
  # Guests first, then the daemons (both hosts at once), by PID; then mounts, dirs, namespaces.
  local guests daemons
  guests=$(for role in "${ROLES[@]}"; do pids_of "$role" guests; done)
  daemons=$(for role in "${ROLES[@]}"; do pids_of "$role" daemons; done)
  # shellcheck disable=SC2086 # one PID per word
  kill_pids $guests
  # shellcheck disable=SC2086
  kill_pids $daemons
  for role in "${ROLES[@]}"; do remove_host "$role"; done
}

case "${1:-}" in
  packages) echo "libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils iproute2 iputils-ping" ;;
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 packages|start|stop" >&2; exit 2 ;;
esac
