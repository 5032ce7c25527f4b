#!/usr/bin/env bash
# One bounded fuzzing run for ctest: FUZZER on a temporary copy of SEED_DIR
# (new inputs are not written back to the repository); the exit status is
# the fuzzer's (non-zero on a crash, leak, sanitizer report or timeout),
# whose input is saved under ARTIFACT_DIR.
# Usage: smoke.sh FUZZER SEED_DIR ARTIFACT_DIR [libFuzzer flags...]
set -euo pipefail
fuzzer="$1" seeds="$2" artifacts="$3"
shift 3
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$work/tmp" "$artifacts"
cp -R "$seeds"/. "$work/corpus"
# TMPDIR: the request fuzzer's shared folder goes away with $work.
TMPDIR="$work/tmp" "$fuzzer" -artifact_prefix="$artifacts/" \
  -print_final_stats=1 "$@" "$work/corpus"
