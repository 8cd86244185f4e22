#!/usr/bin/env bash
# Runs every check CI runs. Installs what the tests need on a fresh machine.
# In CI (CI=true) a missing tool is a failure, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
in_ci() { [ "${CI:-}" = "true" ]; }

# A fresh CI clone builds everything once: incremental caches would only
# add gigabytes to its disk.
if in_ci; then export CARGO_INCREMENTAL=0; fi
# What the build takes on disk, printed after the heavy steps: a CI machine
# ran out of it once.
disk() { echo "disk: target $(du -sh "${CARGO_TARGET_DIR:-target}" 2>/dev/null | cut -f1), free $(df -h --output=avail . | tail -1 | tr -d ' ')"; }

step "tools the tests need"
# A real Mosquitto broker and its clients for iot-core's MQTT tests.
# `mosquitto_passwd` (package mosquitto) and `openssl` for the TLS and
# password tests.
if ! command -v mosquitto >/dev/null 2>&1 && ! [ -x /usr/sbin/mosquitto ] || ! command -v mosquitto_pub >/dev/null 2>&1 \
    || ! command -v mosquitto_passwd >/dev/null 2>&1 || ! command -v openssl >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto mosquitto-clients openssl >/dev/null
fi
# A real PostgreSQL server (Debian's `initdb`/`postgres`, run as an
# unprivileged user by iot-testkit) for the examples' store tests.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && [ -z "${PG_BIN_DIR:-}" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
# websockify (PyPI) terminates wss:// in front of Mosquitto, which Debian
# builds without WebSockets, for iot-core's WebSocket test.
if ! python3 -c "import websockify" >/dev/null 2>&1; then
    python3 -m pip install --quiet --disable-pip-version-check "websockify==0.13.0"
fi
# Validators for iot-deploy's generated files (pip) and promtool (extracted
# from the Debian package `prometheus` into a cache directory).
bash scripts/install-validators.sh
export PATH="$PATH:$HOME/.local/bin"
PROMTOOL="$(bash scripts/install-promtool.sh)"
export PROMTOOL
echo "promtool: $PROMTOOL"

step "rustfmt"
cargo fmt --all -- --check

step "clippy (warnings denied)"
cargo clippy --workspace --all-targets --all-features -- -D warnings

step "rustdoc (warnings denied)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features

step "public API against the committed listings (api/<crate>.txt)"
# A changed public API fails here until it is regenerated on purpose:
# UPDATE=1 bash scripts/check-api.sh (see the script).
bash scripts/check-api.sh

step "tests"
cargo test --workspace --all-features

disk

step "iot-core's codec tests without std or alloc (what devices build)"
cargo test -p iot-core --no-default-features

step "feature flags: none, each alone, defaults; default dependency trees"
bash scripts/check-features.sh

step "rust-version 1.85 with the real toolchain (the published crates, all features)"
# The examples and benches are not published and need newer Rust (rumqttd).
if ! rustup run 1.85.0 rustc --version >/dev/null 2>&1; then
    rustup toolchain install 1.85.0 --profile minimal
fi
cargo +1.85.0 check -p iot-duration -p iot-core -p iot-resilience -p iot-observe -p iot-deploy --all-features --lib

step "rust-version: dependencies' declarations and what a build cannot show"
python3 scripts/check-msrv.py

step "no_std without alloc: iot-core's codec and iot-duration (a duplicate panic_impl would fail this build)"
cargo build --manifest-path nostd-check/Cargo.toml

step "iot-resilience's default clock as release builds compile it (tokio without test-util)"
cargo test --manifest-path clock-check/Cargo.toml

step "cargo package (published crates)"
# Verified: each packaged crate is built from its .crate file alone.
cargo package --workspace --allow-dirty --exclude iot-examples --exclude iot-benches
# Each published package carries both licence texts its `license` names.
for crate in iot-duration iot-core iot-resilience iot-observe iot-deploy; do
    files="$(cargo package --list --allow-dirty -p "$crate")"
    for licence in LICENSE-MIT LICENSE-APACHE; do
        grep -qx "$licence" <<<"$files" || { echo "$crate: $licence missing from the package"; exit 1; }
    done
done

step "fuzz targets (short runs)"
if ! command -v cargo-fuzz >/dev/null 2>&1; then
    if in_ci; then
        cargo install cargo-fuzz --locked
    else
        echo "cargo-fuzz not installed: skipping fuzz runs (cargo install cargo-fuzz)"
    fi
fi
if command -v cargo-fuzz >/dev/null 2>&1; then
    FUZZ_SECONDS="${FUZZ_SECONDS:-20}"
    for target in decode_frame decode_birth senml_json senml_cbor topic_parse spool_recover duration_parse; do
        (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" -- \
            -max_total_time="$FUZZ_SECONDS" -max_len=4096 -rss_limit_mb=1024 >"/tmp/fuzz-$target.log" 2>&1) \
            || { tail -40 "/tmp/fuzz-$target.log"; exit 1; }
        grep -E 'Done [0-9]+ runs' "/tmp/fuzz-$target.log" || true
    done
fi
disk
