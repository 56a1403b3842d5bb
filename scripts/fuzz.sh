#!/usr/bin/env bash
# Fuzz the domain XML parser and model with cargo-fuzz (libFuzzer).
#
#   scripts/fuzz.sh [SECONDS] [-- extra libFuzzer flags]
#
# Installs cargo-fuzz if missing, seeds fuzz/corpus/domain_parse from libvirt's domain XML
# corpus (${KVMHOST_TESTDATA:-<workspace>/../shared/testdata}/libvirt-9.0.0/domain), then runs
# the `domain_parse` target for SECONDS (default 60). Exits non-zero if a crash was found; the
# crashing inputs are in fuzz/artifacts/domain_parse/.
#
# Works on a stable toolchain: RUSTC_BOOTSTRAP=1 lets stable rustc accept the nightly-only
# flags cargo-fuzz passes (-Zsanitizer, -Cpasses=sancov-module, ...).
#
# Environment:
#   FUZZ_SANITIZER  address (default), none (faster), memory, thread, leak
#   FUZZ_JOBS       N > 1: libFuzzer fork mode with N workers that keep going after a crash
#                   (-fork=N -ignore_crashes=1), to collect several distinct crashes in one run
#   KVMHOST_TESTDATA  directory holding libvirt-9.0.0/ (as for the test suite)
set -euo pipefail

secs=${1:-60}
shift || true
[[ ${1:-} == "--" ]] && shift
case $secs in '' | *[!0-9]*) echo "usage: $0 [SECONDS] [-- libFuzzer flags]" >&2; exit 2 ;; esac

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fuzz_dir=$root/fuzz
target=domain_parse
sanitizer=${FUZZ_SANITIZER:-address}
jobs=${FUZZ_JOBS:-1}

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "==> installing cargo-fuzz"
    cargo install --locked cargo-fuzz
fi
export RUSTC_BOOTSTRAP=1

corpus=$fuzz_dir/corpus/$target
artifacts=$fuzz_dir/artifacts/$target
mkdir -p "$corpus" "$artifacts"
seeds=${KVMHOST_TESTDATA:-$root/../shared/testdata}/libvirt-9.0.0/domain
if [[ -d $seeds ]]; then
    # Copied at run time, never committed (fuzz/.gitignore ignores corpus/).
    find "$seeds" -name '*.xml' -exec cp -n -t "$corpus" {} +
    echo "==> seeded $corpus from $seeds ($(find "$corpus" -type f | wc -l) files)"
else
    echo "==> WARNING: libvirt corpus not found at $seeds; starting from a minimal seed" >&2
    printf '%s' "<domain type='kvm'><name>a</name><memory unit='KiB'>1024</memory><devices/></domain>" \
        >"$corpus/minimal.xml"
fi

before=$(find "$artifacts" -type f | wc -l)
flags=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 -dict="$fuzz_dir/domain.dict" -print_final_stats=1)
if ((jobs > 1)); then
    flags+=(-fork="$jobs" -ignore_crashes=1)
fi

echo "==> cargo fuzz run $target (sanitizer $sanitizer, ${secs}s, jobs $jobs)"
cd "$fuzz_dir"
status=0
cargo fuzz run --sanitizer "$sanitizer" "$target" "$corpus" -- "${flags[@]}" "$@" || status=$?

after=$(find "$artifacts" -type f | wc -l)
if ((status != 0 || after > before)); then
    echo "==> FAILED: libFuzzer exit status $status, $((after - before)) new artifact(s) in $artifacts" >&2
    echo "    reproduce: cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run $target <artifact>" >&2
    echo "    minimize:  cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz tmin $target <artifact>" >&2
    exit 1
fi
echo "==> OK: no crash in ${secs}s"
