#!/bin/sh
# The TypeScript SDK's tests (ctest typescript.sdk; npm test): builds dist/
# with the pinned tsc, then node's test runner runs test/*.test.mjs
# against the server binary named by DATAPOOL_SERVER_BIN.
set -eu
cd "$(dirname "$0")/.."
if [ ! -x node_modules/.bin/tsc ]; then
  echo "client/typescript/node_modules is missing: run scripts/setup.sh" \
    "(it runs npm ci here)" >&2
  exit 1
fi
node node_modules/typescript/bin/tsc -p tsconfig.json
exec node --test test/*.test.mjs
