#!/usr/bin/env bash
# Hostile domain XML (issue 11, part 2): generates each case into a temporary directory, runs
# the release `domain_xml check` on it under /usr/bin/time -v and prints a Markdown table
# (case, input size, seconds, max RSS in MB, outcome). The generated files are deleted.
#   scripts/hostile_xml.sh            # the table on stdout
#   KEEP=DIR scripts/hostile_xml.sh   # keep the generated files in DIR
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --example domain_xml --quiet
bin=target/release/examples/domain_xml
dir=${KEEP:-$(mktemp -d)}
mkdir -p "$dir"
[[ -n ${KEEP:-} ]] || trap 'rm -rf "$dir"' EXIT

python3 - "$dir" <<'PY'
import sys, os
d = sys.argv[1]
head, tail = "<domain type='kvm'>\n  <name>hostile</name>\n  <metadata>\n", "\n  </metadata>\n</domain>\n"
def put(name, body):
    with open(os.path.join(d, name + ".xml"), "w") as f:
        f.write(head + body + tail)
def nested(n):
    return "<x:a xmlns:x='urn:x'>" + "<x:a>" * (n - 1) + "</x:a>" * n
def attrs(n, dup=False):
    return "<x:e xmlns:x='urn:x'" + "".join(f" k{0 if dup and i == n - 1 else i}='{i}'" for i in range(n)) + "/>"
put("nested-50000", nested(50_000))
put("nested-20000", nested(20_000))
put("nested-5000", nested(5_000))
put("nested-250", nested(250))           # under the default depth limit (256)
put("attrs-100000", attrs(100_000))
put("attrs-20000", attrs(20_000))
put("attrs-10000", attrs(10_000))
put("attrs-250", attrs(250))             # under the default attribute limit (256)
put("dup-attr-200", attrs(200, dup=True))  # a duplicate among 200 (under the limit)
put("dup-attr-100000", attrs(100_000, dup=True))
put("name-2MiB", "<" + "n" * (2 << 20) + "/>")
put("attr-value-2MiB", "<x:e xmlns:x='urn:x' v='" + "v" * (2 << 20) + "'/>")
put("text-2MiB", "<x:e xmlns:x='urn:x'>" + "t" * (2 << 20) + "</x:e>")
put("comment-2MiB", "<!--" + "c" * (2 << 20) + "-->")
put("size-11MiB", "".join("<x:e xmlns:x='urn:x'>" + "t" * 1000 + "</x:e>\n" for _ in range(11 * 1024)))
PY

echo "| case | input | command | seconds | max RSS (MB) | outcome |"
echo "|---|---:|---|---:|---:|---|"
for f in nested-50000 nested-20000 nested-5000 nested-250 attrs-100000 attrs-20000 attrs-10000 attrs-250 \
         dup-attr-200 dup-attr-100000 name-2MiB attr-value-2MiB text-2MiB comment-2MiB size-11MiB; do
    path=$dir/$f.xml
    size=$(stat -c %s "$path")
    /usr/bin/time -v -o "$dir/$f.time" "$bin" check "$path" >"$dir/$f.out" 2>/dev/null || true
    out=$(cat "$dir/$f.time")
    secs=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): \(.*\)/\1/p' <<<"$out" \
           | awk -F: '{ if (NF == 3) print $1 * 3600 + $2 * 60 + $3; else print $1 * 60 + $2 }')
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): \(.*\)/\1/p' <<<"$out")
    outcome=$(python3 -c '
import json, sys
first = json.loads(open(sys.argv[1]).readline())
print("parsed, identical" if first["parsed"] and first.get("identical") else
      "parsed" if first["parsed"] else first["error"])' "$dir/$f.out")
    printf '| %s | %s KiB | `domain_xml check %s.xml` | %.2f | %.1f | %s |\n' \
        "$f" "$((size / 1024))" "$f" "$secs" "$(echo "$rss / 1024" | bc -l)" "$outcome"
done
