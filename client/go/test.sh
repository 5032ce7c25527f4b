#!/usr/bin/env bash
# The Go SDK's checks (ctest go.sdk): go vet, then go test -v on the SDK
# against the real server binary (env DATAPOOL_SERVER_BIN; without it the
# server tests skip, or fail with DATAPOOL_REQUIRE_BINARIES=1). Offline, in
# GOPATH mode with Debian's sources (see go-env.sh).
#
#   client/go/test.sh BUILD_DIR [go test flags...]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
[ $# -ge 1 ] || { echo "usage: test.sh BUILD_DIR [go test flags...]" >&2; exit 2; }
build="$1"
shift
# Listed by name: GOPATH mode's ./... does not follow the link to client/go.
packages=(datapool/client/go/datapoolv1 datapool/client/go/datapool
  datapool/client/go/examples/quickstart)
"$here/go-env.sh" "$build" go vet "${packages[@]}"
unformatted="$(gofmt -l "$here/datapool" "$here/examples")"
if [ -n "$unformatted" ]; then
  echo "test.sh: not gofmt-formatted (gofmt -w them):" >&2
  echo "$unformatted" >&2
  exit 1
fi
exec "$here/go-env.sh" "$build" go test -count=1 -v "$@" "${packages[@]}"
