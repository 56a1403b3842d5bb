#!/usr/bin/env bash
# A private ejabberd node (the XMPP server Archipel deployments used) on loopback for the
# xmpp_agent tests.
#
#   scripts/services/ejabberd.sh packages   # Debian packages it needs
#   scripts/services/ejabberd.sh start      # starts the node, prints `export VAR=value` lines
#   scripts/services/ejabberd.sh stop       # stops it (ejabberdctl stop, then by PID; safe to repeat)
#
# A two-node cluster on this machine: start node A, then node B with its own
# KVMHOST_EJABBERD_{DIR,PORT,NODE}, KVMHOST_EJABBERD_JOIN=<A's node name> and the same
# KVMHOST_EJABBERD_COOKIE as A (both nodes then serve the same users, rosters and pubsub).
#
# Never the stock configuration (it listens on every interface): everything lives under
# $KVMHOST_EJABBERD_DIR (default /tmp/kvmhost-ejabberd), owned by the `ejabberd` user: its own
# ejabberd.yml (host `localhost`, one client listener on 127.0.0.1:$KVMHOST_EJABBERD_PORT,
# default 15223, no TLS, in-band registration without throttling, pubsub on pubsub.localhost
# where local users may create nodes), its own ejabberdctl.cfg (pid file, config path, Erlang
# distribution on 127.0.0.1 only), logs, spool and the Erlang port mapper (epmd) it starts,
# which `stop` ends by PID too.
set -euo pipefail

DIR=${KVMHOST_EJABBERD_DIR:-/tmp/kvmhost-ejabberd}
PORT=${KVMHOST_EJABBERD_PORT:-15223}
NODE=${KVMHOST_EJABBERD_NODE:-kvmhostej@localhost}
# A second node joins the cluster of this one (same Erlang cookie on both):
JOIN=${KVMHOST_EJABBERD_JOIN:-}
COOKIE=${KVMHOST_EJABBERD_COOKIE:-}

ctl() {
  # The soft limit on open files under runuser is 1024, about 1,000 client sessions: raise it
  # to the hard limit (the scale bench runs 1,000 VM entities, each a session).
  runuser -u ejabberd -- sh -c 'ulimit -n "$(ulimit -Hn)"; exec "$@"' sh \
    env ERL_EPMD_ADDRESS=127.0.0.1 HOME="$DIR" ejabberdctl --config-dir "$DIR" \
    --config "$DIR/ejabberd.yml" --ctl-config "$DIR/ejabberdctl.cfg" --logs "$DIR/logs" \
    --spool "$DIR/spool" --node "$NODE" "$@"
}

# shellcheck source=lib/stop.bash
. "$(dirname "${BASH_SOURCE[0]}")/lib/stop.bash"

case "${1:-}" in
  packages)
    echo "ejabberd" ;;
  start)
    command -v ejabberdctl >/dev/null || { echo "ejabberd.sh: ejabberd is not installed" >&2; exit 1; }
    "$0" stop >/dev/null 2>&1 || true
    rm -rf "$DIR"
    mkdir -p "$DIR/logs" "$DIR/spool"
    cat >"$DIR/ejabberd.yml" <<CONF
# Written by scripts/services/ejabberd.sh: loopback only, private spool.
hosts: ["localhost"]
loglevel: info
certfiles: []
listen:
  - port: $PORT
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls_required: false
    max_stanza_size: 1048576
auth_method: internal
auth_password_format: scram
registration_timeout: infinity
acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
  c2s:
    allow: all
  register:
    allow: all
  pubsub_createnode:
    allow: local
shaper_rules:
  c2s_shaper: none
modules:
  mod_roster: {}
  mod_disco: {}
  mod_ping: {}
  mod_register:
    ip_access: all
    access: register
  mod_vcard: {}
  mod_pubsub:
    host: "pubsub.localhost"
    access_createnode: pubsub_createnode
    plugins: ["flat"]
CONF
    sed -e "s|^EJABBERD_PID_PATH=.*|EJABBERD_PID_PATH=$DIR/ejabberd.pid|" \
        -e "s|^EJABBERD_CONFIG_PATH=.*|EJABBERD_CONFIG_PATH=$DIR/ejabberd.yml|" \
        -e "s|^ERL_OPTIONS=.*|ERL_OPTIONS=\"-env ERL_CRASH_DUMP_BYTES 0 -kernel inet_dist_use_interface {127,0,0,1}\"|" \
        /etc/ejabberd/ejabberdctl.cfg >"$DIR/ejabberdctl.cfg"
    grep -q '^EJABBERD_PID_PATH=' "$DIR/ejabberdctl.cfg" || echo "EJABBERD_PID_PATH=$DIR/ejabberd.pid" >>"$DIR/ejabberdctl.cfg"
    grep -q '^ERL_OPTIONS=' "$DIR/ejabberdctl.cfg" \
      || echo 'ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0 -kernel inet_dist_use_interface {127,0,0,1}"' >>"$DIR/ejabberdctl.cfg"
    [ -n "$COOKIE" ] || COOKIE=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    printf '%s' "$COOKIE" >"$DIR/.erlang.cookie"
    chmod 400 "$DIR/.erlang.cookie"
    cp /etc/ejabberd/inetrc "$DIR/inetrc" 2>/dev/null || true
    chown -R ejabberd "$DIR"
    chmod 750 "$DIR"
    live_epmd() { { ps -o pid=,stat= -C epmd 2>/dev/null || true; } | awk '$2 !~ /Z/ {print $1}' | sort; }
    epmd_before=$(live_epmd)
    ctl start >"$DIR/start.log" 2>&1 || { cat "$DIR/start.log" >&2; exit 1; }
    if ! timeout 60 bash -c "$(declare -f ctl); DIR='$DIR' NODE='$NODE'; ctl started" >>"$DIR/start.log" 2>&1; then
      echo "ejabberd.sh: the node did not start (see $DIR/logs, $DIR/start.log)" >&2
      exit 1
    fi
    if [ -n "$JOIN" ]; then
      ctl join_cluster "$JOIN" >>"$DIR/start.log" 2>&1 \
        || { echo "ejabberd.sh: $NODE could not join $JOIN (see $DIR/start.log)" >&2; cat "$DIR/start.log" >&2; exit 1; }
      timeout 60 bash -c "$(declare -f ctl); DIR='$DIR' NODE='$NODE'; ctl started" >>"$DIR/start.log" 2>&1 \
        || { echo "ejabberd.sh: $NODE did not come back after joining $JOIN" >&2; exit 1; }
    fi
    # The port mapper this start launched (one that already ran is left alone).
    comm -13 <(echo "$epmd_before") <(live_epmd) | head -n1 >"$DIR/epmd.pid"
    for _ in $(seq 100); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
        echo "export KVMHOST_EJABBERD_SERVER=127.0.0.1:$PORT"
        echo "export KVMHOST_EJABBERD_DIR=$DIR"
        exit 0
      fi
      sleep 0.1
    done
    echo "ejabberd.sh: ejabberd does not answer on 127.0.0.1:$PORT (see $DIR/logs)" >&2
    exit 1 ;;
  stop)
    [ -d "$DIR" ] || exit 0
    # Only a running node is asked (ejabberdctl would otherwise start a port mapper itself).
    pid=$(cat "$DIR/ejabberd.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      ctl stop >/dev/null 2>&1 || true
      stop_pid "$pid"
    fi
    [ -s "$DIR/epmd.pid" ] && stop_pid "$(cat "$DIR/epmd.pid")"
    rm -f "$DIR/ejabberd.pid" "$DIR/epmd.pid" ;;
  *)
    echo "usage: $0 packages|start|stop" >&2; exit 2 ;;
esac
