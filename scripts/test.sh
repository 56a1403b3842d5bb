#!/usr/bin/env bash
# The whole test suite. Installs what it needs first (Debian 12; as root or with sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh test
scripts/check-install.sh test   # the install step itself: every package there, every tool answering
export KVMHOST_TESTDATA="${KVMHOST_TESTDATA:-$(realpath -m ../shared/testdata)}"
if [ -d "$KVMHOST_TESTDATA/libvirt-9.0.0" ]; then
  echo "libvirt reference corpus: $KVMHOST_TESTDATA/libvirt-9.0.0"
else
  echo "NOTE: libvirt reference corpus not found at $KVMHOST_TESTDATA/libvirt-9.0.0 (set KVMHOST_TESTDATA);"
  echo "      corpus and schema tests will say SKIP, everything else runs."
fi
step() { echo; echo "=== $* ==="; }
step "format";  cargo fmt --all -- --check
step "metadata"; scripts/check-metadata.py --package   # rust-version vs the lockfile, descriptions, licences, no deprecated crate
step "imports"; scripts/check-import-circles.py kvmhost-core/src kvmhost-net/src kvmhost-libvirt/src kvmhost-templates/src
step "features"; scripts/check-features.sh   # each feature alone; `kvmhost --features core` without libvirt/tokio/rtnetlink
step "clippy";  cargo clippy --workspace --all-targets --quiet -- -D warnings
step "docs";    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
# Real daemons the tests use (scripts/services/*.sh), stopped again on any exit.
services=()
stop_services() { for svc in "${services[@]}"; do "$svc" stop || true; done; }
trap stop_services EXIT
for svc in scripts/services/*.sh; do
  [ -e "$svc" ] || continue
  # The XMPP tests start their own Prosody and ejabberd instances (tests/xmpp_support); only
  # their packages come from here (scripts/install-deps.sh asks every service script).
  case "$(basename "$svc" .sh)" in prosody|ejabberd) continue ;; esac
  step "start $(basename "$svc" .sh)"
  services=("$svc" "${services[@]}")
  eval "$("$svc" start)"
done
step "tests";   cargo test --workspace 2>&1 | tee target/test-output.log
if [ -d "$KVMHOST_TESTDATA/libvirt-9.0.0" ]; then
  step "domain_xml check over libvirt's corpus"
  cargo run --release --quiet --example domain_xml -- check "$KVMHOST_TESTDATA/libvirt-9.0.0/domain" > target/domain_xml-check.jsonl
  tail -n 1 target/domain_xml-check.jsonl
fi
# A user's own program written from the README alone (tests/user-program: path dependency on the
# facade with features core + net): edits a domain, computes a CPU baseline, plans a CloudStack
# network, asserting each. If it needs a workaround, the README or the API is wrong.
step "user program (tests/user-program, written from the README)"
# (`a && b` would not stop the script when `a` fails: set -e ignores all but the last command
# of an && list.)
cargo run --quiet -p user-program > target/user-program.out || { cat target/user-program.out; exit 1; }
tail -n 1 target/user-program.out
step "demo";    cargo run --release --quiet --example demo > target/demo.out || { cat target/demo.out; exit 1; }
tail -n 3 target/demo.out
echo; echo "all checks passed"
# One closing line with the totals of every cargo test binary and doc-test run above.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed;?$/) p += $i; if ($(i+1) ~ /^failed;?$/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' target/test-output.log
