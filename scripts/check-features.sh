#!/usr/bin/env bash
# Builds every published crate with no features, with each feature alone,
# and with its defaults (all targets: tests, examples, benches), warnings denied (`cargo clippy -- -D warnings`: a
# `cargo check` that also fails on rustc and clippy warnings), so a feature
# that only compiles, or only compiles cleanly, next to another one is
# caught (the test run uses --all-features). Then checks that the default
# dependency trees stay small: a user who only wants the codec (iot-core,
# default features) does not compile tokio or rumqttc, and no crate's tree
# grows past its number in scripts/default-tree-sizes.txt.
#
# Features whose name starts with `_` are internal (iot-core's `_tls`, the
# part both TLS providers share) and not checked alone.
#
# Usage: bash scripts/check-features.sh [crate...]   (default: all published)
set -euo pipefail
cd "$(dirname "$0")/.."

crates=(iot-duration iot-core iot-resilience iot-observe iot-deploy)
if [ "$#" -gt 0 ]; then
    crates=("$@")
fi
selected() {
    printf '%s\n' "${crates[@]}" | grep -qx "$1"
}

# `cargo check` with warnings denied; the dependencies are built as by
# `cargo check` (clippy lints workspace members only), so their artifacts
# are shared with ordinary builds.
check() {
    cargo clippy -q "$@" -- -D warnings
}

# Known warnings, one "<crate> <feature|default>" a line: such a build must
# still compile, and its warnings are printed, not fatal. Every entry is a
# bug owned by the crate's maintainers: remove it with the fix.
known_warnings=(
)

# check_or_known <crate> <feature|default> <cargo arguments...>
check_or_known() {
    local crate="$1" what="$2"; shift 2
    if printf '%s\n' "${known_warnings[@]}" | grep -qx "$crate $what"; then
        if ! check "$@" 2>/dev/null; then
            echo "KNOWN WARNINGS ($crate $what, listed in known_warnings):" >&2
            cargo check -q "$@"
        fi
    else
        check "$@"
    fi
}

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
    check -p "$crate" --lib --no-default-features
    for feature in $(features_of "$crate"); do
        echo "--- $crate: --features $feature alone"
        check_or_known "$crate" "$feature" -p "$crate" --lib --no-default-features --features "$feature"
    done
    # Tests, examples and benches too: `cargo test -p <crate>` (default
    # features) must build, and the test run only sees --all-features.
    echo "--- $crate: default features, all targets"
    check_or_known "$crate" default -p "$crate" --all-targets
done

# Default trees: what a plain `cargo add` brings in.
tree_of() {
    local crate="$1"; shift
    cargo tree -q -p "$crate" -e normal --prefix none "$@" | sed 's/ .*//' | sort -u
}

# Each crate's tree against its committed size.
sizes=scripts/default-tree-sizes.txt
failed=0
while read -r crate max args; do
    case "$crate" in '' | '#'*) continue ;; esac
    selected "$crate" || continue
    # shellcheck disable=SC2086 # `args` is a list of cargo tree arguments
    count="$(tree_of "$crate" $args </dev/null | wc -l)"
    if [ "$count" -gt "$max" ]; then
        echo "$crate ${args:-(default features)}: $count crates, more than the $max of $sizes" >&2
        failed=1
    else
        echo "--- $crate ${args:-(default features)}: $count crates (at most $max)"
    fi
done <"$sizes"
if [ "$failed" -ne 0 ]; then
    exit 1
fi

# forbid_in_tree <crate> "<cargo tree arguments>" <crate names...>
forbid_in_tree() {
    local crate="$1" args="$2"; shift 2
    selected "$crate" || return 0
    local tree
    # shellcheck disable=SC2086 # `args` is a list of cargo tree arguments
    tree="$(tree_of "$crate" $args)"
    for unwanted in "$@"; do
        if grep -qx "$unwanted" <<<"$tree"; then
            echo "$crate's ${args:-default} dependency tree contains $unwanted" >&2
            exit 1
        fi
    done
    echo "--- $crate ${args:-default} tree: $(wc -l <<<"$tree") crates, none of: $*"
}
# The duration format: serde (optional) and thiserror, nothing else.
forbid_in_tree iot-duration "--all-features" tokio serde_derive serde_json
forbid_in_tree iot-core "" tokio rumqttc metrics tracing
forbid_in_tree iot-resilience "" rumqttc iot-core backoff instant
forbid_in_tree iot-deploy "" tokio iot-core
# iot-observe without features: no server, no subscriber, no exporter, and
# tokio without its I/O driver (signals and sockets come with `signal`,
# `tcp` and `server`).
# The admin routes (and axum) are never on by default.
forbid_in_tree iot-observe "" axum
forbid_in_tree iot-observe "--no-default-features" hyper hyper-util axum tracing-subscriber \
    metrics-exporter-prometheus mio socket2 signal-hook-registry iot-resilience iot-core
