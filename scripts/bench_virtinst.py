#!/usr/bin/python3
"""Throughput of virtinst on libvirt's domain XML corpus: the Python baseline for issue 2.

For every ``libvirt-9.0.0/domain/**/*.xml`` document this does what Python users of
virt-manager's library do to round-trip a domain:

    guest = virtinst.Guest(conn, parsexml=xml)
    guest.get_xml()

with ``conn = libvirt.open("test:///default")`` (libvirt's built-in test driver: no daemon,
no host access). The whole corpus is run repeatedly for ``--seconds`` (after one warm-up
pass) and documents per second are printed as one JSON object on stdout.

Documents virtinst raises on are counted and listed in the JSON, and excluded from timing.

Run with Debian's system Python, which is where the packages live (a pyenv/venv python on
PATH will not see them):

    /usr/bin/python3 scripts/bench_virtinst.py [--seconds 5] [--corpus DIR]

Requirements (Debian/Ubuntu): ``apt-get install -y virtinst python3-libvirt``.
virtinst is installed under /usr/share/virt-manager, not on the default sys.path.
"""

import argparse
import glob
import json
import logging
import os
import platform
import statistics
import sys
import time

VIRTINST_DIR = "/usr/share/virt-manager"
INSTALL_HINT = (
    "install with: apt-get install -y virtinst python3-libvirt "
    "(as root), then run this script with /usr/bin/python3"
)


def fail(msg):
    print(f"bench_virtinst: {msg}", file=sys.stderr)
    sys.exit(2)


def import_deps():
    sys.path.insert(0, VIRTINST_DIR)
    try:
        import libvirt  # noqa: F401  (python3-libvirt)
    except ImportError as e:
        fail(f"cannot import libvirt ({e}) with {sys.executable}; {INSTALL_HINT}")
    try:
        import virtinst  # noqa: F401  (virtinst, from /usr/share/virt-manager)
    except ImportError as e:
        fail(f"cannot import virtinst from {VIRTINST_DIR} ({e}) with {sys.executable}; {INSTALL_HINT}")
    return libvirt, virtinst


def default_corpus():
    base = os.environ.get("KVMHOST_TESTDATA", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "testdata"))
    return os.path.join(base, "libvirt-9.0.0", "domain")


def round_trip(virtinst, conn, xml):
    return virtinst.Guest(conn, parsexml=xml).get_xml()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=default_corpus(),
                    help="directory of domain XML files (default: $KVMHOST_TESTDATA/libvirt-9.0.0/domain, "
                         "KVMHOST_TESTDATA defaulting to ../shared/testdata next to the checkout)")
    ap.add_argument("--seconds", type=float, default=5.0, help="minimum timed duration (default 5)")
    args = ap.parse_args()

    libvirt, virtinst = import_deps()
    # virtinst logs warnings for odd-but-valid XML; keep them out of the timing and output.
    logging.disable(logging.CRITICAL)
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)

    files = sorted(glob.glob(os.path.join(args.corpus, "**", "*.xml"), recursive=True))
    if not files:
        fail(f"no *.xml files under {args.corpus} (set KVMHOST_TESTDATA or pass --corpus)")
    docs = []
    for path in files:
        with open(path, encoding="utf-8") as f:
            docs.append((path, f.read()))

    conn = libvirt.open("test:///default")
    if conn is None:
        fail("libvirt.open('test:///default') failed")

    # One pass to find the documents virtinst rejects (this is also the warm-up).
    ok, failed = [], []
    for path, xml in docs:
        try:
            round_trip(virtinst, conn, xml)
            ok.append(xml)
        except Exception as e:  # noqa: BLE001 -- any failure excludes the document
            failed.append({"file": os.path.relpath(path, args.corpus),
                           "error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"})
    if not ok:
        fail("virtinst failed on every document")

    pass_times = []
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        for xml in ok:
            round_trip(virtinst, conn, xml)
        pass_times.append(time.perf_counter() - t0)
        if time.perf_counter() - start >= args.seconds:
            break
    total = sum(pass_times)
    ok_bytes = sum(len(x.encode("utf-8")) for x in ok)

    result = {
        "tool": "virtinst",
        "operation": "virtinst.Guest(conn, parsexml=xml).get_xml()",
        "connection": "test:///default",
        "virtinst_version": getattr(virtinst, "__version__", None)
        or getattr(getattr(virtinst, "BuildConfig", None), "version", None),
        "libvirt_python_version": libvirt.getVersion(),
        "python": f"{sys.executable} {platform.python_version()}",
        "corpus": args.corpus,
        "documents_total": len(docs),
        "documents_timed": len(ok),
        "bytes_timed_per_pass": ok_bytes,
        "documents_failed": len(failed),
        "failed_excluded_from_timing": failed,
        "passes": len(pass_times),
        "seconds": round(total, 4),
        "docs_per_sec": len(ok) * len(pass_times) / total,
        "docs_per_sec_median_pass": len(ok) / statistics.median(pass_times),
        "ns_per_pass_mean": total / len(pass_times) * 1e9,
    }
    print(json.dumps(result, indent=2))
    conn.close()


if __name__ == "__main__":
    main()
