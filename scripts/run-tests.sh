#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite (C++ unit
# and service tests, end-to-end tests of the real binaries, Python client).
# Extra arguments go to ctest, e.g. -R python.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
datapool_build
cd "$DATAPOOL_BUILD_DIR"
exec ctest --output-on-failure -j2 "$@"
