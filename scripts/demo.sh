#!/usr/bin/env bash
# The main demo: build a domain, define and start it on libvirt's embedded test:///default
# driver (no daemon), print its XML and state. Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh demo
exec cargo run --release --example demo -- "$@"
