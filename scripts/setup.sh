#!/usr/bin/env bash
# Installs what Datapool needs from Debian's packages (only the missing ones)
# and client/typescript's npm packages (datapool_install_npm), and defines datapool_build (into ./build) and datapool_build_fuzz (the
# libFuzzer targets, with clang, into ./build-fuzz). Sourced by
# run-server.sh and run-tests.sh; running it directly installs and builds
# everything but the fuzzers; fast when nothing changed. Environment:
#   DATAPOOL_BUILD_DIR       build folder (default: ./build)
#   DATAPOOL_BUILD_TYPE      CMake build type (default: RelWithDebInfo)
#   DATAPOOL_FUZZ_BUILD_DIR  fuzz build folder (default: ./build-fuzz)
set -euo pipefail

DATAPOOL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATAPOOL_BUILD_DIR="${DATAPOOL_BUILD_DIR:-$DATAPOOL_ROOT/build}"
DATAPOOL_FUZZ_BUILD_DIR="${DATAPOOL_FUZZ_BUILD_DIR:-$DATAPOOL_ROOT/build-fuzz}"

DATAPOOL_PACKAGES=(
  build-essential cmake ninja-build pkg-config
  protobuf-compiler libprotobuf-dev
  libgrpc++-dev protobuf-compiler-grpc
  libabsl-dev
  libopencv-dev libturbojpeg0-dev libtorch-dev libssl-dev
  libfaiss-dev libopenblas0-openmp libxxhash-dev libcpp-httplib-dev
  nlohmann-json3-dev
  libgtest-dev libgmock-dev
  python3 python3-grpcio python3-protobuf python3-numpy
  # The REST gateway's OpenAPI document (server/gateway/regen_openapi.py,
  # checked by tests/python/test_rest_gateway.py): protoc-gen-swagger.
  golang-grpc-gateway
  # The Python SDK test installs client/python into a venv with pip.
  python3-venv
  python3-torch python3-opencv python3-faiss
  clang libclang-rt-14-dev openssl
  # The format check (scripts/check-format.sh, ctest format.check).
  clang-format
  # Deployment tests: the chart rendered by deploy/render-chart.sh (Go with
  # sprig, as Helm), its manifests checked against the Kubernetes types.
  golang-go golang-github-masterminds-sprig-dev golang-k8s-sigs-yaml-dev
  python3-yaml python3-kubernetes
  # The Go SDK (client/go): Debian's gRPC and protobuf sources (GOPATH mode,
  # offline) and the generators of client/go/regen.sh. gRPC 1.33 needs
  # protobuf 1.5, named here: it would otherwise accept the older 1.3.
  # genproto has google/api/annotations (the proto's REST options).
  golang-google-grpc-dev golang-google-protobuf-dev golang-google-genproto-dev
  golang-github-golang-protobuf-1-5-dev protoc-gen-go protoc-gen-go-grpc
  # The selection report's browser test (tests/python/browser.py): selenium
  # driving Debian's chromium through its chromium-driver (same version).
  chromium chromium-driver python3-selenium
  # The TypeScript SDK (client/typescript) and the buf CLI: npm packages,
  # installed by datapool_install_npm below. NodeSource's nodejs brings its
  # own npm (and conflicts with Debian's).
  nodejs npm
)

datapool_install_packages() {
  local missing=()
  local pkg
  for pkg in "${DATAPOOL_PACKAGES[@]}"; do
    [ "$pkg" = npm ] && command -v npm >/dev/null && continue
    if [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" != "install ok installed" ]; then
      missing+=("$pkg")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "setup: installing ${missing[*]}" >&2
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup: need root or sudo to install ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# The npm packages of client/typescript (the TypeScript SDK's, and the buf
# CLI that tests/buf/check.sh runs), as package-lock.json pins them: `npm ci`
# (which also builds the SDK's dist/) when node_modules is missing or the
# lock changed since; npm's cache first, the registry only for what it lacks.
datapool_install_npm() {
  local dir="$DATAPOOL_ROOT/client/typescript"
  local stamp="$dir/node_modules/.datapool-lock.sha256"
  local sum
  sum="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ] && return 0
  echo "setup: npm ci in client/typescript" >&2
  # Not fatal (run-server.sh needs none of it): the tests that do say so.
  if ! (cd "$dir" && npm ci --prefer-offline --no-audit --no-fund >&2); then
    echo "setup: npm ci failed in client/typescript: the buf and TypeScript" \
      "SDK tests will fail until it succeeds" >&2
    return 0
  fi
  echo "$sum" >"$stamp"
}

# Builds the given targets (default: everything, tests included).
datapool_build() {
  if [ ! -f "$DATAPOOL_BUILD_DIR/build.ninja" ]; then
    cmake -S "$DATAPOOL_ROOT" -B "$DATAPOOL_BUILD_DIR" -G Ninja \
      -DCMAKE_BUILD_TYPE="${DATAPOOL_BUILD_TYPE:-RelWithDebInfo}" >&2
  fi
  # Two cores, and a few translation units need a lot of memory: -j2.
  local targets=()
  [ $# -gt 0 ] && targets=(--target "$@")
  cmake --build "$DATAPOOL_BUILD_DIR" "${targets[@]}" -- -j2 >&2
}

# Builds the fuzzers and the libraries they link (fuzz/README.md): clang
# (libclang-rt-14-dev has libFuzzer), sanitizers on, no backends or tests.
datapool_build_fuzz() {
  if [ ! -f "$DATAPOOL_FUZZ_BUILD_DIR/build.ninja" ]; then
    cmake -S "$DATAPOOL_ROOT" -B "$DATAPOOL_FUZZ_BUILD_DIR" -G Ninja \
      -DDATAPOOL_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2
  fi
  nice cmake --build "$DATAPOOL_FUZZ_BUILD_DIR" -- -j2 >&2
}

datapool_install_packages
datapool_install_npm
# Run directly (not sourced): build everything.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then datapool_build; fi
