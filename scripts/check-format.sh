#!/usr/bin/env bash
# Checks that the C++ sources are formatted by .clang-format (Google style);
# --fix formats them in place. ctest runs the check as format.check.
#   scripts/check-format.sh [--fix]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
command -v clang-format >/dev/null || {
  echo "check-format: clang-format not found (Debian: clang-format)" >&2; exit 1; }
# Our C++ sources; build folders and generated code are not ours.
mapfile -t files < <(find common server client bench fuzz tests examples \
  -type f \( -name '*.cc' -o -name '*.h' -o -name '*.cu' \) 2>/dev/null | sort)
if [ "${1:-}" = --fix ]; then
  clang-format -i "${files[@]}"
  exit 0
fi
if ! clang-format --dry-run -Werror "${files[@]}" 2>/tmp/check-format.$$; then
  grep -E '^[^ ].*: (error|warning):' /tmp/check-format.$$ | head -20 >&2
  rm -f /tmp/check-format.$$
  echo "check-format: not formatted as .clang-format says; run scripts/check-format.sh --fix" >&2
  exit 1
fi
rm -f /tmp/check-format.$$
echo "check-format: ${#files[@]} files formatted"
