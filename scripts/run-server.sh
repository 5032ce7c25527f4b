#!/usr/bin/env bash
# Installs what is missing, builds, and starts datapool-server in the
# foreground on its defaults (./var/shared, ./var/input, 127.0.0.1:50051).
# Extra arguments go to the server, e.g. --listen 0.0.0.0:50051.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
datapool_build datapool-server datapool
cd "$DATAPOOL_ROOT"
exec "$DATAPOOL_BUILD_DIR/datapool-server" "$@"
