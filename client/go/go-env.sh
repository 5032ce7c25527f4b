#!/usr/bin/env bash
# Runs a go command on the Go SDK offline, in GOPATH mode with Debian's
# library sources (/usr/share/gocode, from the golang-*-dev packages):
#
#   client/go/go-env.sh BUILD_DIR go test -v datapool/client/go/...
#
# BUILD_DIR/gopath/src/datapool/client/go is made a link to client/go, so
# the SDK's import path, datapool/client/go/..., resolves to this checkout.
# Nothing is downloaded (GO111MODULE=off, GOPROXY=off). GOCACHE goes to
# BUILD_DIR/go-cache when neither it, HOME nor XDG_CACHE_HOME is set (CI may
# have no HOME).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
[ $# -ge 2 ] || { echo "usage: go-env.sh BUILD_DIR COMMAND..." >&2; exit 2; }
build="$(mkdir -p "$1" && cd "$1" && pwd)"
shift
link="$build/gopath/src/datapool/client/go"
mkdir -p "$(dirname "$link")"
if [ "$(readlink "$link" 2>/dev/null)" != "$here" ]; then
  rm -f "$link"
  ln -s "$here" "$link"
fi
if [ -z "${GOCACHE:-}" ] && [ -z "${HOME:-}" ] && [ -z "${XDG_CACHE_HOME:-}" ]; then
  export GOCACHE="$build/go-cache"
fi
export GO111MODULE=off GOPROXY=off GOFLAGS="" GOPATH="$build/gopath:/usr/share/gocode"
exec "$@"
