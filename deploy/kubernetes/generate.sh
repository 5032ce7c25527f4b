#!/usr/bin/env bash
# Regenerates deploy/kubernetes/datapool.yaml from the chart's defaults.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$here/../render-chart.sh" --name datapool "$here/../../helm/datapool" |
  /usr/bin/python3 "$here/plain_manifests.py" > "$here/datapool.yaml"
