# syntax=docker/dockerfile:1
# Datapool images (deploy/README.md says what was verified, and how).
#
#   docker build -t datapool:0.1.0 .                    CPU image (default target)
#   docker build --target gpu -t datapool:0.1.0-gpu .   GPU image
#
# Needs BuildKit (the default builder since Docker 23): it builds only the
# stages the target needs, so the CPU image never builds the GPU stages.
#
# Both images: the server as a non-root user (uid/gid 10001) configured
# through DATAPOOL_* variables (flags appended to `docker run` win), pools in
# the volume /data/shared (read-write), input images in /data/input (mount
# it read-only), gRPC on 50051 and Prometheus /metrics on 9464. Nothing is
# written outside /data/shared but temporary files in /tmp (HOME too), so
# the root filesystem can be read-only with a tmpfs on /tmp.

ARG DEBIAN_IMAGE=debian:bookworm

# ---------------------------------------------------------------- GPU image
# CUDA base: NVIDIA's CUDA repository for Debian 12 on the same Debian 12 as
# the CPU image, so that gRPC, protobuf, abseil and OpenCV are the Debian
# packages CI builds and tests against (NVIDIA's own CUDA images are Ubuntu
# and carry other versions of those).
FROM ${DEBIAN_IMAGE} AS cuda-base
ARG CUDA_PKG_VERSION=12-4
ARG CUDA_REPO=https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      ca-certificates curl \
 && curl -fsSLo /tmp/cuda-keyring.deb "$CUDA_REPO/cuda-keyring_1.1-1_all.deb" \
 && dpkg -i /tmp/cuda-keyring.deb && rm /tmp/cuda-keyring.deb \
 && apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      cuda-cudart-${CUDA_PKG_VERSION} libcublas-${CUDA_PKG_VERSION} \
 && rm -rf /var/lib/apt/lists/*
# What NVIDIA's images set for the NVIDIA container runtime / device plugin.
ENV NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    PATH=/usr/local/cuda/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LD_LIBRARY_PATH=/opt/libtorch/lib:/opt/faiss/lib:/usr/local/cuda/lib64

FROM cuda-base AS gpu-build
ARG CUDA_PKG_VERSION=12-4
# libtorch built for the same CUDA major version (cxx11 ABI, with its CUDA
# libraries: cuDNN, cuBLAS, ...).
ARG LIBTORCH_URL=https://download.pytorch.org/libtorch/cu124/libtorch-cxx11-abi-shared-with-deps-2.5.1%2Bcu124.zip
ARG FAISS_VERSION=v1.8.0
ARG CUDA_ARCHITECTURES="80;90"
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      cuda-toolkit-${CUDA_PKG_VERSION} build-essential cmake ninja-build unzip \
      libopenblas-openmp-dev
RUN curl -fsSLo /tmp/libtorch.zip "$LIBTORCH_URL" \
 && unzip -q /tmp/libtorch.zip -d /opt && rm /tmp/libtorch.zip
# FAISS with GPU support, shared, into /opt/faiss.
RUN curl -fsSL "https://github.com/facebookresearch/faiss/archive/refs/tags/${FAISS_VERSION}.tar.gz" \
      | tar -xz -C /tmp \
 && cmake -S /tmp/faiss-${FAISS_VERSION#v} -B /tmp/faiss-build -G Ninja \
      -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON -DBUILD_TESTING=OFF \
      -DFAISS_ENABLE_GPU=ON -DFAISS_ENABLE_PYTHON=OFF -DBLA_VENDOR=OpenBLAS \
      -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCHITECTURES}" \
      -DCMAKE_INSTALL_PREFIX=/opt/faiss \
 && cmake --build /tmp/faiss-build \
 && cmake --install /tmp/faiss-build \
 && rm -rf /tmp/faiss-*
WORKDIR /src
COPY . .
RUN DATAPOOL_BUILD_DIR=/src/build-image ./deploy/image-build.sh --gpu /stage

FROM cuda-base AS gpu
# The server's Debian runtime libraries: the CPU image's, less Debian's CPU
# libtorch (/opt/libtorch takes its place; cuda-base has the CUDA runtime
# and cuBLAS that FAISS links).
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libgrpc++1.51 libgrpc29 libprotobuf32 libabsl20220623 libssl3 \
      libopencv-core406 libopencv-imgproc406 libopencv-imgcodecs406 \
      libturbojpeg0 \
      libxxhash0 libopenblas0-openmp libgomp1 libcpp-httplib0.11 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 datapool \
 && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --no-create-home \
      --shell /usr/sbin/nologin datapool \
 && mkdir -p /data/shared /data/input \
 && chown 10001:10001 /data/shared
COPY --from=gpu-build /stage/ /
ENV DATAPOOL_SHARED_DIR=/data/shared \
    DATAPOOL_INPUT_DIR=/data/input \
    DATAPOOL_LISTEN=0.0.0.0:50051 \
    DATAPOOL_METRICS_LISTEN=0.0.0.0:9464 \
    DATAPOOL_DEVICE=cuda \
    HOME=/tmp \
    TMPDIR=/tmp
USER 10001:10001
WORKDIR /data
VOLUME ["/data/shared", "/data/input"]
EXPOSE 50051 9464
HEALTHCHECK --interval=30s --timeout=10s --start-period=10m \
  CMD ["datapool", "health", "--server", "127.0.0.1:50051", "--timeout", "5"]
ENTRYPOINT ["datapool-server"]

# ---------------------------------------------------------------- CPU image
# The build stage is deploy/image-build.sh, which CI also runs outside
# Docker (tests/python/test_image.py) and whose staged server it then runs
# as a non-root user on a read-only root with the runtime packages below.
FROM ${DEBIAN_IMAGE} AS build
WORKDIR /src
COPY . .
RUN DATAPOOL_BUILD_DIR=/src/build-image ./deploy/image-build.sh /stage

# The default target: keep it the last stage.
FROM ${DEBIAN_IMAGE} AS cpu
# The Debian packages of the libraries the two binaries link (apt brings
# what they depend on). tests/python/test_image.py checks that every shared
# library the staged binaries load comes from these or their dependencies.
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libgrpc++1.51 libgrpc29 libprotobuf32 libabsl20220623 libssl3 \
      libtorch1.13 \
      libopencv-core406 libopencv-imgproc406 libopencv-imgcodecs406 \
      libturbojpeg0 \
      libxxhash0 libopenblas0-openmp libgomp1 libcpp-httplib0.11 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 datapool \
 && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --no-create-home \
      --shell /usr/sbin/nologin datapool \
 && mkdir -p /data/shared /data/input \
 && chown 10001:10001 /data/shared
COPY --from=build /stage/ /
ENV DATAPOOL_SHARED_DIR=/data/shared \
    DATAPOOL_INPUT_DIR=/data/input \
    DATAPOOL_LISTEN=0.0.0.0:50051 \
    DATAPOOL_METRICS_LISTEN=0.0.0.0:9464 \
    HOME=/tmp \
    TMPDIR=/tmp
USER 10001:10001
WORKDIR /data
VOLUME ["/data/shared", "/data/input"]
EXPOSE 50051 9464
# Plaintext health on loopback; with TLS on, set DATAPOOL_TLS_CA (the CLI
# reads it) and override this with --server localhost:50051, or disable it.
# `datapool health` exits 0 when SERVING and 2 when not or unreachable;
# Docker counts every non-zero status as a failed check.
HEALTHCHECK --interval=30s --timeout=10s --start-period=10m \
  CMD ["datapool", "health", "--server", "127.0.0.1:50051", "--timeout", "5"]
ENTRYPOINT ["datapool-server"]
