#!/usr/bin/env bash
# Builds every published crate with no features, with each feature alone,
# and with its defaults, so a feature that only compiles next to another
# one is caught (the test run uses --all-features). Then checks that the
# default dependency trees stay small: a user who only wants the codec
# (iot-core, default features) does not compile tokio or rumqttc.
#
# Features whose name starts with `_` are internal (iot-core's `_tls`, the
# part both TLS providers share) and not checked alone.
#
# Usage: bash scripts/check-features.sh
set -euo pipefail
cd "$(dirname "$0")/.."

crates=(iot-core iot-resilience iot-observe iot-deploy)

# Feature names of a crate, from cargo metadata (no `default`, no
# implicit `dep:` features).
features_of() {
    cargo metadata --no-deps --format-version 1 |
        python3 -c '
import json, sys
meta = json.load(sys.stdin)
pkg = next(p for p in meta["packages"] if p["name"] == sys.argv[1])
# `_name` features are internal building blocks, not for users.
print(" ".join(sorted(f for f in pkg["features"] if f != "default" and not f.startswith("_"))))
' "$1"
}

for crate in "${crates[@]}"; do
    echo "--- $crate: no features"
    cargo check -q -p "$crate" --lib --no-default-features
    for feature in $(features_of "$crate"); do
        echo "--- $crate: --features $feature alone"
        cargo check -q -p "$crate" --lib --no-default-features --features "$feature"
    done
    echo "--- $crate: default features"
    cargo check -q -p "$crate" --lib
done

# Default trees: what a plain `cargo add` brings in.
forbid_in_default_tree() {
    local crate="$1"; shift
    local tree
    tree="$(cargo tree -q -p "$crate" -e normal --prefix none | sed 's/ .*//' | sort -u)"
    for unwanted in "$@"; do
        if grep -qx "$unwanted" <<<"$tree"; then
            echo "$crate's default dependency tree contains $unwanted" >&2
            exit 1
        fi
    done
    echo "--- $crate default tree: $(wc -l <<<"$tree") crates, none of: $*"
}
forbid_in_default_tree iot-core tokio rumqttc metrics tracing
forbid_in_default_tree iot-resilience rumqttc iot-core backoff instant
forbid_in_default_tree iot-deploy tokio iot-core
