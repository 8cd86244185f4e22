#!/usr/bin/env bash
# The public API of each published crate, against its committed listing in
# api/<crate>.txt (issue #16, "API stability"): a change to the public API
# (an item added, removed or renamed, a signature, a field, a variant, a
# trait implementation, `#[non_exhaustive]`, Send/Sync) shows up as a diff,
# so it is made on purpose, reviewed, and noted in the CHANGELOG with the
# right version bump. Before 1.0 a breaking change bumps the minor version.
#
# The listing comes from rustdoc's JSON output (`--output-format json`,
# unstable: enabled on the stable toolchain with RUSTC_BOOTSTRAP=1, for
# rustdoc alone through scripts/rustdoc-json.sh, so the dependencies' build
# artifacts stay those of the other steps), all features on (what docs.rs
# shows), turned into sorted lines by scripts/api-listing.py. rustdoc's
# JSON format changes between toolchains; the script checks the format
# version it was written for (FORMAT below) and says so when it differs.
#
# cargo-semver-checks would compare against the last published version,
# but takes over 10 minutes to install here; this check needs nothing but
# the toolchain and Python.
#
# Usage: bash scripts/check-api.sh [crate...]     (default: all published)
#        UPDATE=1 bash scripts/check-api.sh       (rewrite the listings)
set -euo pipefail
cd "$(dirname "$0")/.."

crates=(iot-duration iot-core iot-resilience iot-observe iot-deploy)
if [ "$#" -gt 0 ]; then
    crates=("$@")
fi
# rustdoc JSON format version the listings were made with (Rust 1.95).
FORMAT=57

target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
failed=0
for crate in "${crates[@]}"; do
    json="$target_dir/doc/${crate//-/_}.json"
    rm -f "$json"
    RUSTDOC="$PWD/scripts/rustdoc-json.sh" cargo rustdoc -q -p "$crate" --lib --all-features \
        -- -Z unstable-options --output-format json
    format="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["format_version"])' "$json")"
    if [ "$format" != "$FORMAT" ]; then
        echo "$crate: rustdoc JSON format $format, the listings were made from format $FORMAT:" >&2
        echo "  a different toolchain; check scripts/api-listing.py and regenerate (UPDATE=1)" >&2
    fi
    python3 scripts/api-listing.py "$json" >"$out/$crate.txt"
    if [ "${UPDATE:-}" = "1" ]; then
        mkdir -p api
        cp "$out/$crate.txt" "api/$crate.txt"
        echo "--- $crate: api/$crate.txt written ($(wc -l <"api/$crate.txt") lines)"
    elif ! diff -u "api/$crate.txt" "$out/$crate.txt" >"$out/$crate.diff" 2>&1; then
        echo "$crate: the public API differs from api/$crate.txt (- committed, + now):" >&2
        cat "$out/$crate.diff" >&2
        failed=1
    else
        echo "--- $crate: public API as in api/$crate.txt ($(wc -l <"api/$crate.txt") lines)"
    fi
done
if [ "$failed" -ne 0 ]; then
    echo "If the change is intended: UPDATE=1 bash scripts/check-api.sh, commit api/, and note it in the crate's CHANGELOG." >&2
    exit 1
fi
