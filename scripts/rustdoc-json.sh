#!/bin/sh
# rustdoc with its unstable options unlocked on the stable toolchain, for
# `--output-format json` (scripts/check-api.sh). Only rustdoc sees
# RUSTC_BOOTSTRAP: set for all of cargo, it would change the dependencies'
# build-script outputs and rebuild them.
RUSTC_BOOTSTRAP=1 exec rustdoc "$@"
