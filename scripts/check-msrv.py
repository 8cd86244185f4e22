#!/usr/bin/env python3
"""Checks the published crates' `rust-version` against what they build with.

`scripts/test.sh` builds the published crates with the real 1.85.0
toolchain (all features). This script keeps what that build cannot show:

1. every crate in the normal and build dependency closure of each published
   crate (all features on, as in the lockfile CI builds with) declares a
   `rust-version` no newer than ours; a dependency that needs a newer Rust
   would make our `rust-version` a lie for every user;
2. our own code: clippy's `incompatible_msrv` lint (on by default, denied in
   CI by `-D warnings`) rejects standard-library items stabilised after our
   `rust-version`; `scripts/test.sh` runs clippy on every target;
3. language features newer than the edition's minimum (let chains need 1.88
   even in edition 2024) are rejected by a source scan below, because no
   lint catches them without the old compiler.

Dev-dependencies are not checked: they never reach users (the benches crate,
never published, declares its own, higher, rust-version).

Usage: python3 scripts/check-msrv.py   (exit 1 and a list on findings)
"""

import json
import pathlib
import re
import subprocess
import sys

PUBLISHED = ["iot-duration", "iot-core", "iot-resilience", "iot-observe", "iot-deploy"]
ROOT = pathlib.Path(__file__).resolve().parent.parent


def version_tuple(text):
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def main():
    meta = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--all-features", "--locked"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    findings = []

    for name in PUBLISHED:
        root = next(p for p in meta["packages"] if p["name"] == name and p["source"] is None)
        ours = root.get("rust_version")
        if not ours:
            findings.append(f"{name}: no rust-version in Cargo.toml")
            continue
        limit = version_tuple(ours)
        seen, stack = set(), [root["id"]]
        while stack:
            pid = stack.pop()
            if pid in seen:
                continue
            seen.add(pid)
            for dep in nodes[pid]["deps"]:
                kinds = {k["kind"] for k in dep["dep_kinds"]}
                if kinds & {None, "build"}:
                    stack.append(dep["pkg"])
        worst = []
        for pid in seen - {root["id"]}:
            dep = packages[pid]
            needs = dep.get("rust_version")
            if needs and version_tuple(needs) > limit:
                worst.append(f"  {dep['name']} {dep['version']} needs Rust {needs}")
        if worst:
            findings.append(f"{name} (rust-version {ours}) depends on:\n" + "\n".join(sorted(worst)))
        else:
            print(f"{name}: rust-version {ours}; {len(seen) - 1} dependencies, none needs a newer Rust")

    # Let chains (`if let .. && let ..`, `&& let` in `while`) are 1.88+.
    let_chain = re.compile(r"(\bif|\bwhile|&&|\|\|)\s+let\b[^;{]*&&|&&\s*let\s")
    for crate in PUBLISHED:
        for path in sorted((ROOT / crate / "src").rglob("*.rs")):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                code = line.split("//", 1)[0]
                if let_chain.search(code):
                    rel = path.relative_to(ROOT)
                    findings.append(f"{rel}:{number}: let chain (needs Rust 1.88): {line.strip()}")

    if findings:
        print("rust-version findings:", *findings, sep="\n", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
