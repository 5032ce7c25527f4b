#!/usr/bin/env bash
# Regenerates the Go protobuf/gRPC code under client/go/datapoolv1/ from the
# repository's proto/datapool/v1/datapool.proto. The files are committed so
# that a Go program builds with neither protoc nor the proto; the SDK's test
# (TestGeneratedCodeIsCurrent) fails when they are stale.
#
#   client/go/regen.sh [OUT_DIR]    (default: client/go/datapoolv1)
#
# Needs protoc and Debian's plugins: protobuf-compiler, protoc-gen-go
# (google.golang.org/protobuf 1.28) and protoc-gen-go-grpc (grpc-go 1.33),
# the versions of the runtime packages golang-google-protobuf-dev and
# golang-google-grpc-dev. The proto's go_package is
# datapool/client/go/datapoolv1 (the SDK's GOPATH import path).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
proto_root="$(cd "$here/../../proto" && pwd)"
out="${1:-$here/datapoolv1}"
protoc_bin="${PROTOC:-$(command -v protoc || true)}"
go_plugin="${PROTOC_GEN_GO:-$(command -v protoc-gen-go || echo /usr/bin/protoc-gen-go)}"
grpc_plugin="${PROTOC_GEN_GO_GRPC:-$(command -v protoc-gen-go-grpc || echo /usr/bin/protoc-gen-go-grpc)}"
[ -x "$protoc_bin" ] || { echo "regen.sh: protoc not found (protobuf-compiler)" >&2; exit 1; }
[ -x "$go_plugin" ] || { echo "regen.sh: protoc-gen-go not found (protoc-gen-go)" >&2; exit 1; }
[ -x "$grpc_plugin" ] || { echo "regen.sh: protoc-gen-go-grpc not found (protoc-gen-go-grpc)" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# module=: the files land under $tmp/datapoolv1/, named by go_package.
"$protoc_bin" -I "$proto_root" \
  --plugin=protoc-gen-go="$go_plugin" \
  --plugin=protoc-gen-go-grpc="$grpc_plugin" \
  --go_out="$tmp" --go_opt=module=datapool/client/go \
  --go-grpc_out="$tmp" --go-grpc_opt=module=datapool/client/go \
  datapool/v1/datapool.proto

mkdir -p "$out"
rm -f "$out"/*.pb.go
cp "$tmp"/datapoolv1/*.pb.go "$out"/
