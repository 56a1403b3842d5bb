#!/usr/bin/env bash
# A static HTTP server on loopback (nginx) for the VMCast tests: feeds and packages served from a
# directory the tests write into, with byte ranges (206 + Content-Range), as a real web server
# serves them.
#
#   scripts/services/http.sh packages   # Debian packages it needs
#   scripts/services/http.sh start      # starts nginx, prints `export VAR=value` lines
#   scripts/services/http.sh stop       # stops it by PID (safe to repeat)
#
# Everything lives under $KVMHOST_HTTP_DIR (default /tmp/kvmhost-http): configuration, pid file,
# logs, nginx's temporary directories and the document root www/. It listens on 127.0.0.1 only
# ($KVMHOST_HTTP_PORT, default 18080). Locations:
#   /            the document root, ranges honoured
#   /norange/    the same files with ranges disabled (max_ranges 0: a full 200 to a Range request)
#   /slow/       the same files at 1 MiB/s (limit_rate), for downloads cut midway
set -euo pipefail

DIR=${KVMHOST_HTTP_DIR:-/tmp/kvmhost-http}
PORT=${KVMHOST_HTTP_PORT:-18080}

# shellcheck source=lib/stop.bash
. "$(dirname "${BASH_SOURCE[0]}")/lib/stop.bash"

case "${1:-}" in
  packages)
    echo "nginx" ;;
  start)
    command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { echo "http.sh: nginx is not installed" >&2; exit 1; }
    NGINX=$(command -v nginx || echo /usr/sbin/nginx)
    "$0" stop >/dev/null 2>&1 || true
    rm -rf "$DIR"
    mkdir -p "$DIR/www" "$DIR/tmp"
    chmod 755 "$DIR" "$DIR/www"
    cat >"$DIR/nginx.conf" <<CONF
daemon on;
worker_processes 1;
pid $DIR/nginx.pid;
error_log $DIR/error.log;
events { worker_connections 64; }
http {
  access_log $DIR/access.log;
  client_body_temp_path $DIR/tmp/body;
  proxy_temp_path $DIR/tmp/proxy;
  fastcgi_temp_path $DIR/tmp/fastcgi;
  uwsgi_temp_path $DIR/tmp/uwsgi;
  scgi_temp_path $DIR/tmp/scgi;
  types { application/rss+xml xml; }
  default_type application/octet-stream;
  sendfile on;
  server {
    listen 127.0.0.1:$PORT;
    root $DIR/www;
    location /norange/ { alias $DIR/www/; max_ranges 0; }
    location /slow/ { alias $DIR/www/; limit_rate 1m; }
  }
}
CONF
    "$NGINX" -p "$DIR" -e "$DIR/error.log" -c "$DIR/nginx.conf" >/dev/null 2>&1 \
      || { echo "http.sh: nginx did not start (see $DIR/error.log)" >&2; exit 1; }
    echo ok >"$DIR/www/.alive"
    chmod 644 "$DIR/www/.alive"
    for _ in $(seq 50); do
      if exec 3<>"/dev/tcp/127.0.0.1/$PORT" 2>/dev/null; then
        printf 'GET /.alive HTTP/1.0\r\n\r\n' >&3
        if head -n1 <&3 | grep -q ' 200 '; then exec 3>&-; break; fi
        exec 3>&-
      fi
      sleep 0.1
    done
    [ -s "$DIR/nginx.pid" ] || { echo "http.sh: nginx does not answer on 127.0.0.1:$PORT (see $DIR/error.log)" >&2; exit 1; }
    echo "export KVMHOST_HTTP_URL=http://127.0.0.1:$PORT"
    echo "export KVMHOST_HTTP_ROOT=$DIR/www" ;;
  stop)
    stop_pidfile "$DIR/nginx.pid" ;;
  *)
    echo "usage: $0 packages|start|stop" >&2; exit 2 ;;
esac
