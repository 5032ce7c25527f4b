#!/usr/bin/env bash
# A walk-through of Datapool with the `datapool` CLI, on generated images:
# select twice, look at the report, list the history, restore, merge.
#
#   examples/walkthrough.sh [WORK_DIR]
#
# Starts its own datapool-server (built-in model) on a free loopback port,
# with WORK_DIR/shared as the shared folder and WORK_DIR/input (the images
# made by examples/make_images.py) as the input folder; stops it at the end.
# WORK_DIR defaults to a new temporary folder and is kept, so the pools and
# reports can be looked at afterwards. Binaries come from
# $DATAPOOL_BIN_DIR (default: ./build). Run from anywhere after
# ./scripts/run-tests.sh (or any build). tests/python/test_examples.py runs
# it, so it keeps working.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="${DATAPOOL_BIN_DIR:-$here/../build}"
work="${1:-$(mktemp -d -t datapool-walkthrough-XXXXXX)}"
python="${DATAPOOL_EXAMPLE_PYTHON:-/usr/bin/python3}"
for b in datapool datapool-server; do
  [ -x "$bin/$b" ] || { echo "walkthrough: $bin/$b not found; build first (./scripts/run-tests.sh) or set DATAPOOL_BIN_DIR" >&2; exit 1; }
done
if [ -n "$(ls -A "$work/shared" 2>/dev/null)" ]; then
  echo "walkthrough: $work/shared is not empty; give a new WORK_DIR" >&2
  exit 1
fi
mkdir -p "$work/shared"

step() { printf '\n=== %s\n' "$*"; }
show() { printf '$ datapool %s\n' "$*"; "$bin/datapool" "$@"; }

step "Images: three batches of synthetic photos"
"$python" "$here/make_images.py" "$work/input"

step "Start a server (built-in model) on a free port"
"$bin/datapool-server" --shared-dir "$work/shared" --input-dir "$work/input" \
  --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 >"$work/server.log" 2>&1 &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true' EXIT
# It prints "datapool-server: listening on HOST:PORT" once it serves.
address=""
for _ in $(seq 1200); do
  address="$(sed -n 's/^datapool-server: listening on //p' "$work/server.log")"
  [ -n "$address" ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
sed 's/^/  /' "$work/server.log"
[ -n "$address" ] || { echo "walkthrough: the server did not start (see $work/server.log)" >&2; exit 1; }
export DATAPOOL_SERVER="$address"

step "1. First selection: the 12 most diverse images of batch 1 into pool 'demo'"
show select --pool demo --input batch1 --n-samples 12

step "2. Second selection: batch 2, until nothing is farther than 0.5 from the pool"
# The pool's samples count as already chosen: new picks are what the pool
# lacks (mostly the new 'desert' scene), not more of the same.
show select --pool demo --input batch2 --min-distance 0.5

step "3. The report of the last selection (and where its page is)"
show report demo
"$bin/datapool" report demo 1 --json >"$work/report-v1.json"
echo "(report of version 1 saved as JSON: $work/report-v1.json)"
echo "Open the page named above in a browser: counts, distances before/after, a PCA map, thumbnails."

step "4. A dry run writes nothing, but can save its report locally"
show select --pool demo --input batch2 --n-samples 5 --dry-run --report-out "$work/dry-run-report"

step "5. History: every version is kept"
show pools history demo

step "6. Restore version 1 (it becomes version 3; version 2 stays in history)"
show pools restore demo 1
show pools history demo

step "7. Another team's pool, merged into 'demo'"
show select --pool night --input batch3 --n-samples 8
show pools merge demo night --min-distance 0.05 --on-collision prefix
show pools list

step "8. The same from Python, with the SDK (client/python)"
PYTHONPATH="$here/../client/python" "$python" "$here/walkthrough.py" "$address" "$work/input" "$work"

step "Done"
echo "Pools and reports are in $work/shared; the server log in $work/server.log."
