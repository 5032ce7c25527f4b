# Datapool CPU image, built from Debian's packages.
# (GPU target, healthcheck and chart wiring: see deploy/README.md.)
FROM debian:bookworm AS build
WORKDIR /src
COPY . .
RUN ./scripts/setup.sh

FROM debian:bookworm AS runtime
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libgrpc++1.51 libprotobuf32 libabsl20220623 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /nonexistent datapool
COPY --from=build /src/build/datapool-server /src/build/datapool /usr/local/bin/
USER 10001
VOLUME ["/data/shared", "/data/input"]
EXPOSE 50051
ENTRYPOINT ["datapool-server", "--shared-dir", "/data/shared", "--input-dir", "/data/input", "--listen", "0.0.0.0:50051"]
