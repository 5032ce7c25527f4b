#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite (C++ unit
# and service tests, end-to-end tests of the real binaries, Python client),
# then builds the fuzzers and runs each briefly on its seed corpus.
# Extra arguments go to both ctest runs, e.g. -R python.
# DATAPOOL_SKIP_FUZZ=1 leaves out the fuzz build and its smoke runs.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
datapool_build
(cd "$DATAPOOL_BUILD_DIR" && ctest --output-on-failure -j2 "$@")
[ "${DATAPOOL_SKIP_FUZZ:-0}" = 1 ] && exit 0
datapool_build_fuzz
cd "$DATAPOOL_FUZZ_BUILD_DIR"
exec ctest --output-on-failure -j2 "$@"
