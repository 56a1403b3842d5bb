#!/usr/bin/env bash
# A private libvirtd + virtlogd (QEMU driver) for the kvmhost-libvirt tests.
#
#   libvirtd.sh packages   # Debian packages it needs
#   libvirtd.sh start      # start, print `export VAR=value` lines
#   libvirtd.sh stop       # stop by PID (safe to repeat)
#   libvirtd.sh relaunch   # start libvirtd again after it died (fault tests), same namespace
#
# The daemons run in their own mount namespace (unshare -m) where copies of /etc/libvirt and
# private run/lib/log/cache directories under $KVMHOST_LIBVIRTD_BASE are bind-mounted over the
# system paths, so this instance never touches (or collides with) any other libvirtd on the
# machine. It stays in the root network namespace; the only host network object it creates is
# a bridge without addresses ($BRIDGE) that test guests' NICs attach to.
# The daemon allows at most 20 clients (max_clients = 20, the limit the seeds hit).
set -euo pipefail
B="${KVMHOST_LIBVIRTD_BASE:-${KVMHOST_LIBVIRTD_DIR:-/tmp/kvmhost-libvirtd}}"  # DIR: what `start` exported (relaunch)
BRIDGE="${KVMHOST_LIBVIRTD_BRIDGE:-kvmhost-br0}"

in_ns() { # run a command inside the daemons' mount namespace (held by virtlogd)
  nsenter -m -t "$(cat "$B/virtlogd.pid")" -- "$@"
}

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

launch_libvirtd() {
  rm -f "$B/run/libvirt-sock" "$B/run/libvirt-sock-ro" "$B/run/libvirt-admin-sock"
  in_ns libvirtd -d -p "$B/libvirtd.pid" >/dev/null 2>&1
  for _ in $(seq 1 100); do
    [ -S "$B/run/libvirt-sock" ] && alive "$B/libvirtd.pid" && return 0
    sleep 0.1
  done
  echo "libvirtd did not come up (log: $B/log/libvirtd.log)" >&2
  return 1
}

case "${1:-}" in
  packages)
    echo "libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils"
    ;;
  start)
    if alive "$B/libvirtd.pid"; then
      echo "libvirtd already running (pid $(cat "$B/libvirtd.pid"))" >&2
    else
      "$0" stop >/dev/null 2>&1 || true
      mkdir -p "$B"/{run,log/qemu,cache,lib/qemu,images}
      rm -rf "$B/etc"
      cp -a /etc/libvirt "$B/etc"
      rm -f "$B"/etc/qemu/*.xml "$B"/etc/qemu/networks/*.xml "$B"/etc/qemu/networks/autostart/*.xml
      cat >>"$B/etc/libvirtd.conf" <<EOF
max_clients = 20
log_outputs = "3:file:$B/log/libvirtd.log"
EOF
      printf 'log_outputs = "3:file:%s/log/virtlogd.log"\n' "$B" >>"$B/etc/virtlogd.conf"
      # Guests run as root without a security driver: their disks live in private directories.
      printf 'user = "root"\ngroup = "root"\nsecurity_driver = "none"\n' >>"$B/etc/qemu.conf"
      if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
        ip link add "$BRIDGE" type bridge
      fi
      ip link set "$BRIDGE" up
      # The mount namespace lives as long as virtlogd; libvirtd is started into it with nsenter.
      unshare -m --propagation private bash -c "
        mount --bind '$B/etc' /etc/libvirt
        mkdir -p /run/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt
        mount --bind '$B/run' /run/libvirt
        mount --bind '$B/lib' /var/lib/libvirt
        mount --bind '$B/log' /var/log/libvirt
        mount --bind '$B/cache' /var/cache/libvirt
        virtlogd -d -p '$B/virtlogd.pid' >/dev/null 2>&1"
      for _ in $(seq 1 50); do alive "$B/virtlogd.pid" && break; sleep 0.1; done
      alive "$B/virtlogd.pid" || { echo "virtlogd did not start" >&2; exit 1; }
      launch_libvirtd
      # The first call probes QEMU's capabilities (several seconds); do it now, not in a test.
      virsh -c "qemu+unix:///system?socket=$B/run/libvirt-sock" capabilities >/dev/null
    fi
    echo "export KVMHOST_QEMU_URI='qemu+unix:///system?socket=$B/run/libvirt-sock'"
    echo "export KVMHOST_LIBVIRTD_PIDFILE='$B/libvirtd.pid'"
    echo "export KVMHOST_LIBVIRTD_DIR='$B'"
    echo "export KVMHOST_LIBVIRTD_BRIDGE='$BRIDGE'"
    echo "export KVMHOST_LIBVIRTD_RELAUNCH='$(realpath "$0") relaunch'"
    ;;
  relaunch)
    alive "$B/virtlogd.pid" || { echo "not started" >&2; exit 1; }
    alive "$B/libvirtd.pid" || launch_libvirtd
    ;;
  stop)
    if [ -S "$B/run/libvirt-sock" ] && alive "$B/libvirtd.pid"; then
      # Guests of this instance only: destroy them so no QEMU outlives the daemon.
      uri="qemu+unix:///system?socket=$B/run/libvirt-sock"
      for d in $(virsh -c "$uri" list --name 2>/dev/null); do virsh -c "$uri" destroy "$d" >/dev/null 2>&1 || true; done
    fi
    for p in libvirtd virtlogd; do
      if alive "$B/$p.pid"; then
        pid=$(cat "$B/$p.pid")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
      fi
      rm -f "$B/$p.pid"
    done
    if ip link show "$BRIDGE" >/dev/null 2>&1; then ip link del "$BRIDGE" || true; fi
    ;;
  *)
    echo "usage: $0 packages|start|stop|relaunch" >&2
    exit 2
    ;;
esac
