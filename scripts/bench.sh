#!/usr/bin/env bash
# Domain XML parse + write benchmark (issue 2): kvmhost vs the raw quick-xml scan vs virtinst.
#
#   scripts/bench.sh
#
# 1. Installs what is missing (Debian/Ubuntu, needs root or sudo):
#      apt-get install -y virtinst python3-libvirt libvirt-dev pkg-config
# 2. Runs `cargo bench --bench domain_xml` (criterion; results in target/criterion/domain_xml/).
# 3. Runs `/usr/bin/python3 scripts/bench_virtinst.py` (JSON in target/bench/virtinst.json).
# 4. Prints a markdown summary table with the two ratios the issue sets targets for
#    (also written to target/bench/summary.md).
#
# Environment:
#   KVMHOST_TESTDATA   directory holding libvirt-9.0.0/ (default ../shared/testdata next to the checkout)
#   VIRTINST_SECONDS   minimum timed duration of the virtinst run (default 10)
#   SKIP_INSTALL=1     never try to install packages
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
export KVMHOST_TESTDATA=${KVMHOST_TESTDATA:-$(realpath -m ../shared/testdata)}
VIRTINST_SECONDS=${VIRTINST_SECONDS:-10}
SYS_PY=/usr/bin/python3
OUT=$ROOT/target/bench
mkdir -p "$OUT"

# --- 1. prerequisites -------------------------------------------------------------------------
have_py_deps() {
    [ -x "$SYS_PY" ] && "$SYS_PY" -c 'import sys; sys.path.insert(0, "/usr/share/virt-manager"); import libvirt, virtinst' 2>/dev/null
}
have_build_deps() {
    command -v pkg-config >/dev/null 2>&1 && pkg-config --exists libvirt
}
if ! have_py_deps || ! have_build_deps; then
    PKGS="virtinst python3-libvirt libvirt-dev pkg-config"
    if [ "${SKIP_INSTALL:-0}" = 1 ]; then
        echo "bench.sh: missing prerequisites and SKIP_INSTALL=1; run: apt-get install -y $PKGS" >&2
        exit 2
    fi
    if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "bench.sh: missing prerequisites; as root run: apt-get install -y $PKGS" >&2
        exit 2
    fi
    echo "bench.sh: installing $PKGS" >&2
    $SUDO apt-get update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y $PKGS
fi

# --- machine ----------------------------------------------------------------------------------
{
    echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(uname -sr)"
    echo "rustc:   $(rustc --version)"
    echo "python:  $SYS_PY $("$SYS_PY" -c 'import platform; print(platform.python_version())')"
    echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
} | tee "$OUT/machine.txt"

# --- 2. criterion -----------------------------------------------------------------------------
# Stale results would be reported as fresh if the bench skips (no corpus): start clean.
rm -rf "$ROOT/target/criterion/domain_xml"
cargo bench --bench domain_xml

# The ratio to the raw scan, paired: both timed alternately, pass by pass (see benches/domain_xml.rs).
cargo bench --bench domain_xml -- --paired | tee "$OUT/paired.txt"

# --- 3. virtinst ------------------------------------------------------------------------------
"$SYS_PY" scripts/bench_virtinst.py --seconds "$VIRTINST_SECONDS" >"$OUT/virtinst.json"

# --- 4. summary -------------------------------------------------------------------------------
"$SYS_PY" - "$ROOT/target/criterion" "$OUT/virtinst.json" "$OUT/paired.txt" <<'EOF' | tee "$OUT/summary.md"
import glob, json, os, sys

crit_dir, virtinst_json, paired_txt = sys.argv[1], sys.argv[2], sys.argv[3]
paired = None
with open(paired_txt) as f:
    for line in f:
        if line.startswith("{"):
            paired = json.loads(line)
rows = {}
# Grouped layout: target/criterion/<group>/<function>/new/; ungrouped: target/criterion/<function>/new/.
for est in glob.glob(os.path.join(crit_dir, "**", "new", "estimates.json"), recursive=True):
    new = os.path.dirname(est)
    with open(est) as f:
        est_json = json.load(f)
    # ns per iteration = one whole-corpus pass. The mean is the headline number; the median is
    # shown too because it resists the load spikes of a shared machine.
    mean_ns = est_json["mean"]["point_estimate"]
    median_ns = est_json["median"]["point_estimate"]
    with open(os.path.join(new, "benchmark.json")) as f:
        meta = json.load(f)
    docs = (meta.get("throughput") or {}).get("Elements")
    if docs:
        rows[meta["function_id"]] = (docs, mean_ns, median_ns)
need = ["kvmhost_parse_write", "kvmhost_parse", "quick_xml_raw_scan"]
missing = [n for n in need if n not in rows]
if missing:
    sys.exit(f"bench.sh: no criterion results for {missing} (corpus missing? see the cargo bench output)")
with open(virtinst_json) as f:
    v = json.load(f)

def dps(name, which=1):
    return rows[name][0] / (rows[name][which] / 1e9)

print(f"corpus: {rows['kvmhost_parse_write'][0]} documents (libvirt-9.0.0/domain); "
      f"virtinst timed {v['documents_timed']} of {v['documents_total']} "
      f"({v['documents_failed']} failed, excluded)\n")
print("| measurement | ms per corpus pass (mean) | docs/s (mean) | docs/s (median) |")
print("|---|---:|---:|---:|")
for name in need:
    print(f"| {name} | {rows[name][1] / 1e6:.2f} | {dps(name):,.0f} | {dps(name, 2):,.0f} |")
print(f"| virtinst `Guest(conn, parsexml=).get_xml()` ({v['passes']} passes) | {v['ns_per_pass_mean'] / 1e6:,.0f} "
      f"| {v['docs_per_sec']:,.1f} | {v['docs_per_sec_median_pass']:,.1f} |")

def ratio(a, b, which):
    return rows[a][which] / rows[b][which]

pw_vs_raw = [ratio("kvmhost_parse_write", "quick_xml_raw_scan", w) for w in (1, 2)]
p_vs_raw = [ratio("kvmhost_parse", "quick_xml_raw_scan", w) for w in (1, 2)]
vs_virtinst = [dps("kvmhost_parse_write") / v["docs_per_sec"],
               dps("kvmhost_parse_write", 2) / v["docs_per_sec_median_pass"]]
print()
print("| ratio | mean | median | target | met (mean) |")
print("|---|---:|---:|---:|:-:|")
print(f"| kvmhost parse+write time / raw quick-xml scan time | {pw_vs_raw[0]:.1f}x | {pw_vs_raw[1]:.1f}x | <= 3x "
      f"| {'yes' if pw_vs_raw[0] <= 3 else 'no'} |")
if paired:
    print(f"| kvmhost parse+write / raw scan, paired ({paired['rounds']} alternating rounds; quartiles "
          f"{paired['ratio_q1']:.2f}x-{paired['ratio_q3']:.2f}x) | - | {paired['ratio_median']:.2f}x | <= 3x "
          f"| {'yes' if paired['ratio_median'] <= 3 else 'no'} (median) |")
print(f"| (kvmhost parse-only time / raw scan time) | {p_vs_raw[0]:.1f}x | {p_vs_raw[1]:.1f}x | - | - |")
print(f"| kvmhost parse+write docs/s / virtinst docs/s | {vs_virtinst[0]:,.0f}x | {vs_virtinst[1]:,.0f}x | >= 50x "
      f"| {'yes' if vs_virtinst[0] >= 50 else 'no'} |")
EOF
