#!/usr/bin/env bash
# Open vSwitch for the tests and benches: its own ovsdb-server + ovs-vswitchd (userspace datapath).
#
#   scripts/services/ovs.sh packages   # Debian packages it needs
#   scripts/services/ovs.sh start      # starts both daemons, prints `export VAR=value` lines
#   scripts/services/ovs.sh stop       # stops them by PID, removes the namespace
#
# Everything lives under $KVMHOST_OVS_DIR (default /tmp/kvmhost-ovs): database, sockets, pidfiles,
# logs (OVS_RUNDIR/OVS_DBDIR/OVS_LOGDIR point there, so nothing touches /var/run/openvswitch).
# ovs-vswitchd runs inside its own network namespace (kvmhost-ovs-svc): the tap devices of OVS
# internal ports appear there, never in the root namespace. The database socket is a filesystem
# socket, reachable from any namespace.
set -euo pipefail

DIR=${KVMHOST_OVS_DIR:-/tmp/kvmhost-ovs}
NS=${KVMHOST_OVS_NETNS:-kvmhost-ovs-svc}
SCHEMA=/usr/share/openvswitch/vswitch.ovsschema
export OVS_RUNDIR=$DIR OVS_DBDIR=$DIR OVS_LOGDIR=$DIR OVS_SYSCONFDIR=$DIR

# shellcheck source=lib/stop.bash
. "$(dirname "${BASH_SOURCE[0]}")/lib/stop.bash"

case "${1:-}" in
  packages)
    echo "openvswitch-switch ethtool iputils-ping" ;;
  start)
    command -v ovsdb-server >/dev/null || { echo "ovs.sh: openvswitch-switch is not installed" >&2; exit 1; }
    "$0" stop >/dev/null 2>&1 || true
    rm -rf "$DIR"
    mkdir -p "$DIR"
    ip netns add "$NS"
    ip -n "$NS" link set lo up
    ovsdb-tool create "$DIR/conf.db" "$SCHEMA" >/dev/null
    ovsdb-server "$DIR/conf.db" --remote="punix:$DIR/db.sock" \
      --remote=db:Open_vSwitch,Open_vSwitch,manager_options \
      --pidfile="$DIR/ovsdb-server.pid" --unixctl="$DIR/ovsdb-server.ctl" \
      --detach --log-file="$DIR/ovsdb-server.log" >/dev/null 2>&1 \
      || { echo "ovs.sh: ovsdb-server did not start (see $DIR/ovsdb-server.log)" >&2; exit 1; }
    ovs-vsctl --db="unix:$DIR/db.sock" --no-wait init
    ip netns exec "$NS" ovs-vswitchd "unix:$DIR/db.sock" --pidfile="$DIR/ovs-vswitchd.pid" \
      --unixctl="$DIR/ovs-vswitchd.ctl" --detach --log-file="$DIR/ovs-vswitchd.log" >/dev/null 2>&1 \
      || { echo "ovs.sh: ovs-vswitchd did not start (see $DIR/ovs-vswitchd.log)" >&2; exit 1; }
    # ovs-vswitchd is up once it has applied the configuration (cur_cfg catches up with next_cfg).
    ovs-vsctl --db="unix:$DIR/db.sock" --timeout=20 set Open_vSwitch . external_ids:kvmhost=test >/dev/null \
      || { echo "ovs.sh: ovs-vswitchd does not answer (see $DIR/ovs-vswitchd.log)" >&2; exit 1; }
    echo "export KVMHOST_OVSDB_SOCK=$DIR/db.sock"
    echo "export KVMHOST_OVS_NETNS=$NS"
    echo "export OVS_RUNDIR=$DIR" ;;
  stop)
    stop_pidfile "$DIR/ovs-vswitchd.pid"
    stop_pidfile "$DIR/ovsdb-server.pid"
    if ip netns list | grep -qx "$NS\( (id: [0-9]*)\)\?"; then ip netns del "$NS"; fi ;;
  *)
    echo "usage: $0 packages|start|stop" >&2; exit 2 ;;
esac
