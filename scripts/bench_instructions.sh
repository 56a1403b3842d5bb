#!/usr/bin/env bash
# Instruction counts (valgrind callgrind) of the domain XML benchmark: noise-free ratios of
# kvmhost parse / parse+write to the raw quick-xml event scan over libvirt's domain corpus.
#   scripts/bench_instructions.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export KVMHOST_TESTDATA="${KVMHOST_TESTDATA:-$(realpath -m ../shared/testdata)}"
command -v valgrind >/dev/null || { echo "valgrind not found: apt-get install -y valgrind" >&2; exit 1; }
cargo bench --bench domain_xml_instructions --no-run --quiet
BIN=$(cargo bench --bench domain_xml_instructions --no-run --message-format=json 2>/dev/null \
      | python3 -c 'import sys,json
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m["target"]["name"]=="domain_xml_instructions" and m.get("executable"): print(m["executable"])' | tail -n1)
declare -A IR
for mode in load scan parse parse_write; do
  out=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$BIN" "$mode" 2>&1)
  IR[$mode]=$(echo "$out" | sed -n 's/.*Collected : \([0-9]*\).*/\1/p; s/.*I *refs: *\([0-9,]*\).*/\1/p' | tr -d , | head -n1)
  echo "$mode: ${IR[$mode]} instructions"
done
python3 - "${IR[load]}" "${IR[scan]}" "${IR[parse]}" "${IR[parse_write]}" <<'PY'
import sys
load, scan, parse, pw = map(int, sys.argv[1:])
s, p, w = scan - load, parse - load, pw - load
print(f"| measurement | instructions (corpus x3, load subtracted) | ratio to raw scan |")
print(f"|---|---:|---:|")
print(f"| quick_xml_raw_scan | {s:,} | 1.00 |")
print(f"| kvmhost_parse | {p:,} | {p/s:.2f} |")
print(f"| kvmhost_parse_write | {w:,} | {w/s:.2f} |")
PY
