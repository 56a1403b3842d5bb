#!/usr/bin/env python3
"""Checks that the crates' metadata tells the truth (run by scripts/test.sh).

- every package's declared `rust-version` is at least the highest `rust-version` of any crate it
  depends on (normal and build dependencies, all features, as the lockfile resolves them) —
  a declared MSRV the lockfile cannot build with is a lie;
- every package has a description, a license, a README that exists and no placeholder
  repository; every published one (not `publish = false`, like the test-support crate
  kvmhost-testdata) also keywords and categories;
- LICENSE-APACHE and LICENSE-MIT exist at the root and in every published crate's directory;
- no crate in Cargo.lock is marked deprecated (`+deprecated` in its version);
- with `--package`: `cargo package --workspace --no-verify` prints no warning (the packages
  with `publish = false` — the facade `kvmhost`, kvmhost-testdata, tests/user-program —
  are left out).

Exit status 1 with one line per problem; 0 with a summary otherwise.
"""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def version_tuple(text):
    parts = [int(p) for p in text.split("-")[0].split("+")[0].split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def main():
    problems = []
    meta = json.loads(subprocess.check_output(
        ["cargo", "metadata", "--format-version", "1", "--locked", "--all-features"], cwd=ROOT))
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}

    for member in meta["workspace_members"]:
        pkg = packages[member]
        name = pkg["name"]
        declared = pkg.get("rust_version")
        # The highest rust-version among everything this package builds with.
        seen, stack, need, because = set(), [member], (0, 0, 0), None
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            for dep in nodes[node]["deps"]:
                if any(k["kind"] in (None, "build") for k in dep["dep_kinds"]):
                    stack.append(dep["pkg"])
            rv = packages[node].get("rust_version")
            if node != member and rv and version_tuple(rv) > need:
                need, because = version_tuple(rv), f'{packages[node]["name"]} {packages[node]["version"]}'
        if not declared:
            problems.append(f"{name}: no rust-version")
        elif version_tuple(declared) < need:
            problems.append(f"{name}: rust-version {declared}, but {because} needs "
                            f"{'.'.join(map(str, need))}")
        else:
            print(f"{name}: rust-version {declared} (dependencies need {'.'.join(map(str, need))}"
                  f"{', ' + because if because else ''})")

        published = pkg.get("publish") != []
        # keywords and categories only matter on crates.io
        for field in ("description", "license") + (("keywords", "categories") if published else ()):
            if not pkg.get(field):
                problems.append(f"{name}: no {field}")
        repo = pkg.get("repository") or ""
        if "example" in repo or "invalid" in repo:
            problems.append(f"{name}: placeholder repository {repo!r}")
        crate_dir = os.path.dirname(pkg["manifest_path"])
        readme = pkg.get("readme")
        if not readme or not os.path.exists(os.path.join(crate_dir, readme)):
            problems.append(f"{name}: no README ({readme!r})")
        if published:
            for lic in ("LICENSE-APACHE", "LICENSE-MIT"):
                if not os.path.exists(os.path.join(crate_dir, lic)):
                    problems.append(f"{name}: {lic} missing in {os.path.relpath(crate_dir, ROOT)}")

    for lic in ("LICENSE-APACHE", "LICENSE-MIT"):
        if not os.path.exists(os.path.join(ROOT, lic)):
            problems.append(f"{lic} missing at the workspace root")

    with open(os.path.join(ROOT, "Cargo.lock")) as lock:
        name = None
        for line in lock:
            if line.startswith("name = "):
                name = line.split('"')[1]
            elif line.startswith("version = ") and "deprecated" in line:
                problems.append(f"Cargo.lock: {name} {line.split(chr(34))[1]} is deprecated")

    if "--package" in sys.argv[1:]:
        unpublished = [packages[m]["name"] for m in meta["workspace_members"] if packages[m].get("publish") == []]
        exclude = [arg for name in unpublished for arg in ("--exclude", name)]
        out = subprocess.run(["cargo", "package", "--workspace", *exclude, "--no-verify", "--allow-dirty", "--locked"],
                             cwd=ROOT, capture_output=True, text=True)
        if out.returncode != 0:
            problems.append("cargo package failed:\n" + out.stderr[-3000:])
        for line in out.stderr.splitlines():
            if line.lstrip().startswith("warning"):
                problems.append(f"cargo package: {line.strip()}")

    for problem in problems:
        print(f"METADATA: {problem}")
    if problems:
        sys.exit(1)
    print(f"metadata: {len(meta['workspace_members'])} packages checked, no problem")


if __name__ == "__main__":
    main()
