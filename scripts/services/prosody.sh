#!/usr/bin/env bash
# A private Prosody (XMPP server) on loopback for the xmpp_agent tests.
#
#   scripts/services/prosody.sh packages   # Debian packages it needs
#   scripts/services/prosody.sh start      # starts Prosody, prints `export VAR=value` lines
#   scripts/services/prosody.sh stop       # stops it by PID (safe to repeat)
#
# Prosody refuses to run as root: it runs as the `prosody` user, with its configuration, data,
# pid file and log under $KVMHOST_PROSODY_DIR (default /tmp/kvmhost-prosody), all owned by that
# user. It listens on 127.0.0.1:$KVMHOST_PROSODY_PORT (default 15222) for clients only (no s2s,
# no HTTP), serves the virtual host `localhost` and a pubsub
# component `pubsub.localhost`, and allows in-band registration (XEP-0077) without throttling,
# which is how the agent creates its VMs' accounts. Prosody lets only the pubsub component's
# admins create nodes: $KVMHOST_PROSODY_PUBSUB_ADMINS lists them (the agents' hypervisor JIDs).
# STARTTLS is offered, not required (plain-TCP clients use --insecure-tcp), with a certificate
# for `localhost` issued by a private CA made at start ($DIR/ca.pem, exported as
# KVMHOST_PROSODY_CA) so that TLS clients verify it with --ca-file.
set -euo pipefail

DIR=${KVMHOST_PROSODY_DIR:-/tmp/kvmhost-prosody}
PORT=${KVMHOST_PROSODY_PORT:-15222}
# Accounts that may create pubsub nodes (the xmpp_agent's hypervisor JIDs), space-separated.
PUBSUB_ADMINS=${KVMHOST_PROSODY_PUBSUB_ADMINS:-}

# shellcheck source=lib/stop.bash
. "$(dirname "${BASH_SOURCE[0]}")/lib/stop.bash"

case "${1:-}" in
  packages)
    echo "prosody openssl" ;;
  start)
    command -v prosody >/dev/null || { echo "prosody.sh: prosody is not installed" >&2; exit 1; }
    id prosody >/dev/null 2>&1 || { echo "prosody.sh: no 'prosody' user (install the prosody package)" >&2; exit 1; }
    "$0" stop >/dev/null 2>&1 || true
    rm -rf "$DIR"
    mkdir -p "$DIR/data"
    admins=""
    for a in $PUBSUB_ADMINS; do admins="$admins\"$a\"; "; done
    # A private CA and a certificate for localhost signed by it (P-256, valid two days).
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
      -subj /CN=kvmhost-test-ca -keyout "$DIR/ca.key" -out "$DIR/ca.pem" >/dev/null 2>&1
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
      -keyout "$DIR/localhost.key" -out "$DIR/localhost.csr" >/dev/null 2>&1
    printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' >"$DIR/leaf.ext"
    openssl x509 -req -in "$DIR/localhost.csr" -CA "$DIR/ca.pem" -CAkey "$DIR/ca.key" -CAcreateserial \
      -days 2 -extfile "$DIR/leaf.ext" -out "$DIR/localhost.crt" >/dev/null 2>&1 \
      || { echo "prosody.sh: openssl could not make the test certificate" >&2; exit 1; }
    rm -f "$DIR/ca.key" "$DIR/localhost.csr"
    cat >"$DIR/prosody.cfg.lua" <<CONF
-- Written by scripts/services/prosody.sh: loopback only, private data directory.
interfaces = { "127.0.0.1" }
c2s_ports = { $PORT }
s2s_ports = { }
http_ports = { }
https_ports = { }
component_ports = { }
modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "ping"; "posix"; "presence"; "message"; "iq"; "register" }
modules_disabled = { "s2s" }
ssl = { key = "$DIR/localhost.key"; certificate = "$DIR/localhost.crt" }
authentication = "internal_hashed"
storage = "internal"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
allow_registration = true
min_seconds_between_registrations = 0
limits = { c2s = { rate = "100mb/s" } }
pidfile = "$DIR/prosody.pid"
data_path = "$DIR/data"
log = { info = "$DIR/prosody.log"; error = "$DIR/prosody.err" }

VirtualHost "localhost"

Component "pubsub.localhost" "pubsub"
    admins = { $admins}
CONF
    chown -R prosody "$DIR"
    chmod 750 "$DIR"
    setsid runuser -u prosody -- prosody --config "$DIR/prosody.cfg.lua" -F \
      </dev/null >"$DIR/stdout.log" 2>&1 &
    for _ in $(seq 100); do
      if [ -s "$DIR/prosody.pid" ] && (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
        echo "export KVMHOST_XMPP_SERVER=127.0.0.1:$PORT"
        echo "export KVMHOST_XMPP_DOMAIN=localhost"
        echo "export KVMHOST_PROSODY_DIR=$DIR"
        echo "export KVMHOST_PROSODY_CA=$DIR/ca.pem"
        exit 0
      fi
      sleep 0.1
    done
    echo "prosody.sh: prosody does not answer on 127.0.0.1:$PORT (see $DIR/prosody.log, $DIR/stdout.log)" >&2
    cat "$DIR/stdout.log" >&2 2>/dev/null || true
    exit 1 ;;
  stop)
    stop_pidfile "$DIR/prosody.pid" ;;
  *)
    echo "usage: $0 packages|start|stop" >&2; exit 2 ;;
esac
