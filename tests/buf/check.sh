#!/usr/bin/env bash
# The API guarded by buf (proto/buf.yaml), run by ctest:
#
#   tests/buf/check.sh lint       buf lint on proto/
#   tests/buf/check.sh breaking   buf breaking on proto/ against the API as
#                                 of git history (below)
#
# What `breaking` compares the working tree's proto/ with:
#   - a .proto file under proto/ has uncommitted changes (or is untracked):
#     HEAD, so a change being made is checked before it is committed;
#   - else the parent of the last commit that changed a .proto file under
#     proto/, so CI on a clean clone checks that the latest API change was
#     compatible with the API before it.
# The baseline is exported with `git archive` into a temporary folder (buf's
# local mode: no remote modules, no BSR).
#
# A deliberate break (a new major version is the better way) is allowed
# when the last commit that changed proto/ says so in its message, on a
# line of its own: `Buf-Breaking-Allowed: <why>`. The findings are still
# printed; the check passes, naming the commit. Uncommitted changes cannot
# be allowed: commit them with that line.
#
# Without git history to compare with -- not a git checkout (a source
# tarball), git missing, no commit that changed proto/, that commit's parent
# not fetched (a shallow clone), or proto/ added by the first commit -- it
# says why and exits 77, which ctest reports as Skipped (SKIP_RETURN_CODE),
# not as passed.
#
# BUF names the buf binary; default: the one scripts/setup.sh installs from
# npm (@bufbuild/buf, pinned in client/typescript/package-lock.json).
# BUF_CHECK_ROOT: the checkout whose proto/ is checked (default: this one;
# tests/buf/breaking_test.sh points it at scratch repositories).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
root="${BUF_CHECK_ROOT:-$here}"
buf="${BUF:-$here/client/typescript/node_modules/.bin/buf}"
if [ ! -x "$buf" ]; then
  echo "check.sh: no buf at $buf: run scripts/setup.sh (it runs npm ci in" \
    "client/typescript), or set BUF" >&2
  exit 1
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# buf keeps a cache under $HOME by default; tests leave nothing behind.
export BUF_CACHE_DIR="$tmp/cache"
skip() {
  echo "buf breaking: SKIPPED: $*" >&2
  exit 77
}

case "${1:-}" in
  lint)
    cd "$root/proto"
    "$buf" --version
    "$buf" lint
    echo "buf lint: clean (exceptions: proto/buf.yaml)"
    ;;
  breaking)
    command -v git >/dev/null || skip "git is not installed: no history to compare with"
    top="$(git -C "$root" rev-parse --show-toplevel 2>/dev/null)" ||
      skip "$root is not a git checkout: no history to compare with"
    [ "$(cd "$top" && pwd -P)" = "$(cd "$root" && pwd -P)" ] ||
      skip "$root is not a git checkout of its own (it lies in $top's):" \
        "no history of proto/ to compare with"
    if [ -n "$(git -C "$root" status --porcelain --untracked-files=all -- 'proto/*.proto')" ]; then
      against=HEAD
      why="proto/ has uncommitted changes: comparing with HEAD"
    else
      last="$(git -C "$root" log -1 --format=%H -- 'proto/*.proto')"
      [ -n "$last" ] || skip "no commit changed proto/: nothing to compare with"
      if ! against="$(git -C "$root" rev-parse -q --verify "$last^{commit}^" 2>/dev/null)"; then
        [ "$(git -C "$root" rev-parse --is-shallow-repository)" = true ] &&
          skip "a shallow clone: its history of proto/ starts at $last" \
            "(git fetch --unshallow)"
        skip "$last, the last commit that changed proto/, is the first commit"
      fi
      why="comparing with $against, the parent of $last (the last commit that changed proto/)"
    fi
    echo "buf breaking: $why"
    mkdir "$tmp/against"
    git -C "$root" archive "$against" proto | tar -x -C "$tmp/against"
    cd "$root/proto"
    if "$buf" breaking --against "$tmp/against/proto"; then
      echo "buf breaking: no breaking change (rules: proto/buf.yaml)"
      exit 0
    fi
    allowed=""
    if [ "$against" != HEAD ]; then
      allowed="$(git -C "$root" log -1 --format=%B "$last" |
        sed -n 's/^Buf-Breaking-Allowed:[[:space:]]*\(..*\)$/\1/p' | head -1)"
    fi
    if [ -z "$allowed" ]; then
      echo "buf breaking: FAILED: the changes above break datapool.v1 clients" \
        "(rules: proto/buf.yaml)" >&2
      exit 1
    fi
    echo "buf breaking: the breaks above were allowed by $last" \
      "(Buf-Breaking-Allowed: $allowed)"
    ;;
  *)
    echo "usage: $0 lint|breaking" >&2
    exit 2
    ;;
esac
