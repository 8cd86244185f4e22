#!/usr/bin/env bash
# Installs promtool (from the Debian package `prometheus`) into a cache
# directory without installing the package and its dependencies, and prints
# the binary's path. `apt-get install prometheus` would pull 37 packages;
# promtool is a static Go binary, so extracting the .deb is enough.
#
# Usage: scripts/install-promtool.sh         # prints e.g. ~/.cache/iot-rs/promtool/promtool
#        PROMTOOL_CACHE=/some/dir scripts/install-promtool.sh
# The iot-observe promtool test looks in $PROMTOOL, then PATH, then this cache.
set -euo pipefail

cache="${PROMTOOL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/iot-rs/promtool}"
bin="$cache/promtool"

if [ -x "$bin" ] && "$bin" --version >/dev/null 2>&1; then
    echo "$bin"
    exit 0
fi

command -v apt-get >/dev/null 2>&1 || { echo "apt-get not found: install promtool yourself and set PROMTOOL" >&2; exit 1; }
command -v dpkg >/dev/null 2>&1 || { echo "dpkg not found" >&2; exit 1; }

work="$(mktemp -d)"
# As root, apt downloads as the `_apt` user: let it write the work directory.
if [ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1; then
    chown _apt "$work"
fi
trap 'rm -rf "$work"' EXIT

# `apt-get download` needs package lists: refresh them when the package is
# unknown (fresh containers ship without lists) or the download fails
# (stale lists naming a version the mirror no longer has).
download() { (cd "$work" && apt-get download -qq prometheus >&2); }
if ! apt-cache show prometheus >/dev/null 2>&1 || ! download; then
    apt-get update -qq >&2
    download
fi
deb="$(ls "$work"/prometheus_*.deb)"
dpkg -x "$deb" "$work/root"

mkdir -p "$cache"
install -m 0755 "$work/root/usr/bin/promtool" "$bin.tmp"
mv "$bin.tmp" "$bin"
"$bin" --version >&2
echo "$bin"
