#!/usr/bin/env bash
# The Dockerfile's build stage as a script, so that it runs outside Docker
# too (tests/python/test_image.py runs it for the CPU image on every CI run):
#
#   1. installs the Debian build packages that are missing,
#   2. configures (when the build folder has no build.ninja yet) and builds
#      the server and the CLI,
#   3. stages what the runtime stage copies, as it lies in the image:
#        STAGE_DIR/usr/local/bin/datapool-server   (stripped)
#        STAGE_DIR/usr/local/bin/datapool          (stripped)
#        STAGE_DIR/usr/local/lib/datapool/libdatapool_torch_backend.so
#          (stripped; the server loads it, and libtorch, only with a model)
#      and for --gpu also STAGE_DIR/opt/libtorch/lib and STAGE_DIR/opt/faiss/lib.
#
# Usage: deploy/image-build.sh [--gpu] STAGE_DIR
#   --gpu  the GPU image: -DDATAPOOL_CUDA=ON, CUDA-enabled libtorch from
#          $DATAPOOL_LIBTORCH_DIR (default /opt/libtorch) and FAISS built with
#          GPU support in $DATAPOOL_FAISS_DIR (default /opt/faiss), both put
#          there by the Dockerfile's gpu-build stage; the CUDA toolkit on PATH.
# Environment:
#   DATAPOOL_BUILD_DIR   build folder (default: ./build-image); the test
#                        passes CI's ./build, which is then already built
#   DATAPOOL_BUILD_TYPE  CMake build type of a new build folder
#                        (default: RelWithDebInfo, as scripts/setup.sh)
#   DATAPOOL_BUILD_JOBS  parallel compile jobs (default: all cores)
#   DATAPOOL_IMAGE_PREBUILT=1  skip step 2: stage the binaries already in
#                        the build folder (for a build folder someone else
#                        is building in)
set -euo pipefail
umask 022  # the staged tree is read by the image's non-root user

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
variant=cpu
if [ "${1:-}" = "--gpu" ]; then variant=gpu; shift; fi
if [ $# -ne 1 ]; then
  echo "usage: $0 [--gpu] STAGE_DIR" >&2
  exit 2
fi
stage="$1"
build_dir="${DATAPOOL_BUILD_DIR:-$ROOT/build-image}"

# What compiling the server and the CLI needs (CMake also wants GoogleTest:
# the tests are configured, not built). Each of these is also in
# scripts/setup.sh's DATAPOOL_PACKAGES (the test checks), so CI builds with
# exactly them. The GPU image brings its own libtorch and FAISS instead of
# Debian's CPU ones.
build_packages=(
  build-essential cmake ninja-build pkg-config
  protobuf-compiler libprotobuf-dev libgrpc++-dev protobuf-compiler-grpc
  libabsl-dev libopencv-dev libturbojpeg0-dev libssl-dev libopenblas0-openmp
  libxxhash-dev
  libcpp-httplib-dev
  nlohmann-json3-dev
  libgtest-dev libgmock-dev
)
cmake_args=(-DCMAKE_BUILD_TYPE="${DATAPOOL_BUILD_TYPE:-RelWithDebInfo}")
if [ "$variant" = cpu ]; then
  build_packages+=(libtorch-dev libfaiss-dev)
else
  libtorch="${DATAPOOL_LIBTORCH_DIR:-/opt/libtorch}"
  faiss="${DATAPOOL_FAISS_DIR:-/opt/faiss}"
  build_packages+=(libopenblas-openmp-dev)
  cmake_args+=(
    -DDATAPOOL_CUDA=ON
    -DTorch_DIR="$libtorch/share/cmake/Torch"
    -Dfaiss_DIR="$faiss/share/faiss"
    # FAISS's exported target names CUDA::cudart and CUDA::cublas without
    # finding them; this finds the CUDA toolkit before any subdirectory.
    -DCMAKE_PROJECT_INCLUDE="$ROOT/deploy/gpu-find-cuda.cmake"
    # Newer libtorch and FAISS than CI compiles against: warnings (such as
    # deprecations) must not fail the image build.
    -DDATAPOOL_WERROR=OFF
  )
fi

# 1. Packages: only the missing ones (a no-op where CI already has them).
missing=()
for pkg in "${build_packages[@]}"; do
  if [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" != "install ok installed" ]; then
    missing+=("$pkg")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "image-build: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >&2
fi

# 2. Build: the two binaries only.
if [ "${DATAPOOL_IMAGE_PREBUILT:-0}" != 1 ]; then
  if [ ! -f "$build_dir/build.ninja" ]; then
    cmake -S "$ROOT" -B "$build_dir" -G Ninja "${cmake_args[@]}" >&2
  fi
  jobs="${DATAPOOL_BUILD_JOBS:-$(nproc)}"
  cmake --build "$build_dir" --target datapool-server datapool -- -j"$jobs" >&2
fi

# 3. Stage: the tree the runtime stage copies to /.
rm -rf "$stage"
mkdir -p "$stage/usr/local/bin"
for bin in datapool-server datapool; do
  install -m 0755 "$build_dir/$bin" "$stage/usr/local/bin/$bin"
  strip --strip-unneeded "$stage/usr/local/bin/$bin"
done
# Where datapool-server looks for it: ../lib/datapool/ from its binary.
mkdir -p "$stage/usr/local/lib/datapool"
install -m 0644 "$build_dir/libdatapool_torch_backend.so" \
  "$stage/usr/local/lib/datapool/libdatapool_torch_backend.so"
strip --strip-unneeded "$stage/usr/local/lib/datapool/libdatapool_torch_backend.so"
if [ "$variant" = gpu ]; then
  mkdir -p "$stage/opt/libtorch" "$stage/opt/faiss"
  cp -a "$libtorch/lib" "$stage/opt/libtorch/lib"
  cp -a "$faiss/lib" "$stage/opt/faiss/lib"
fi
echo "image-build: staged $variant image files in $stage" >&2
