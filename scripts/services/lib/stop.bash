# Stopping daemons by PID, for the service scripts (sourced; not a service itself).

# Sends SIGTERM to a PID, waits up to 5 s for it to go, then SIGKILLs it. Empty: nothing.
stop_pid() {
  local pid=$1
  [ -n "$pid" ] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  fi
  return 0
}

# The same for the PID in a pid file, which is removed afterwards. Missing or empty: nothing.
stop_pidfile() {
  local f=$1
  [ -s "$f" ] || return 0
  stop_pid "$(cat "$f")"
  rm -f "$f"
}
