#!/usr/bin/env bash
# Renders a Helm chart as `helm template` does, on a machine without Helm:
# builds deploy/chart-render (Go's text/template with sprig and
# sigs.k8s.io/yaml, from Debian's golang-go, golang-github-masterminds-sprig-dev
# and golang-k8s-sigs-yaml-dev; no network) and runs it. See
# deploy/chart-render/main.go for what it does and does not do as Helm does.
#
# Usage: deploy/render-chart.sh [--name R] [--namespace N] [--kube-version V]
#                               [-f VALUES.yaml]... [--set a.b=v]... CHART_DIR
#   e.g. deploy/render-chart.sh --name datapool -f helm/datapool/values-gpu.yaml helm/datapool
# Environment: DATAPOOL_CHART_RENDER_BIN  where the binary goes
#              (default: ./build-chart-render/chart-render)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${DATAPOOL_CHART_RENDER_BIN:-$ROOT/build-chart-render/chart-render}"
mkdir -p "$(dirname "$bin")"
if [ -z "${GOCACHE:-}" ] && [ -z "${HOME:-}" ] && [ -z "${XDG_CACHE_HOME:-}" ]; then
  GOCACHE="$(dirname "$bin")/go-cache"
  export GOCACHE
fi
# GOPATH mode: Debian installs Go library sources under /usr/share/gocode.
(cd "$ROOT/deploy/chart-render" &&
  GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS="" go build -o "$bin" .)
exec "$bin" "$@"
