#!/usr/bin/env bash
# Shows that tests/buf/check.sh catches incompatible API changes: on scratch
# git repositories holding a copy of proto/, it makes a compatible change
# (a new field, a new RPC) and incompatible ones (a field removed, a field's
# type changed), committed and uncommitted, and checks what `check.sh
# breaking` answers, and that a copy without git history is skipped (77).
# ctest: buf.breaking_test. BUF as in check.sh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
check="$here/tests/buf/check.sh"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# A git of our own: no user configuration, signing or hooks.
export HOME="$tmp/home" GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=test GIT_AUTHOR_EMAIL=test@example.com
export GIT_COMMITTER_NAME=test GIT_COMMITTER_EMAIL=test@example.com
mkdir "$HOME"
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# edit FILE OLD NEW: replaces the one occurrence of OLD (a whole line) by
# NEW (lines separated by \n); fails unless OLD occurs exactly once.
edit() {
  python3 - "$@" <<'PY'
import sys
path, old, new = sys.argv[1], sys.argv[2] + "\n", sys.argv[3].replace("\\n", "\n") + "\n"
text = open(path).read()
if text.count(old) != 1:
    sys.exit("edit: %r occurs %d times in %s" % (old, text.count(old), path))
open(path, "w").write(text.replace(old, new))
PY
}
proto=proto/datapool/v1/datapool.proto
# The edits (each line occurs once in datapool.proto).
add_field() {
  edit "$1/$proto" "message PoolInfo {" \
    "message PoolInfo {\n  // Added by breaking_test.sh.\n  string buf_test_note = 1000;"
  edit "$1/$proto" "service Datapool {" \
    "service Datapool {\n  rpc BufTestPing(ListPoolsRequest) returns (ListPoolsResponse);"
}
remove_field() { edit "$1/$proto" "  repeated int64 labels = 4;" "  reserved 4;"; }
retype_field() { edit "$1/$proto" "  uint32 dimension = 1;" "  uint64 dimension = 1;"; }

# run_check NAME DIR: runs check.sh breaking on DIR; output in $tmp/NAME.out,
# exit status in $rc.
run_check() {
  set +e
  BUF_CHECK_ROOT="$2" "$check" breaking >"$tmp/$1.out" 2>&1
  rc=$?
  set -e
  echo "--- $1: exit $rc"
  cat "$tmp/$1.out"
}
expect() {  # expect NAME RC [TEXT...]: the exit status and texts in the output
  local name="$1" want="$2"
  shift 2
  [ "$rc" = "$want" ] || fail "$name: exit $rc, want $want"
  local text
  for text in "$@"; do
    grep -qF -- "$text" "$tmp/$name.out" || fail "$name: no '$text' in the output"
  done
}
commit() { git -C "$1" add -A proto && git -C "$1" commit -qm "$2"; }

repo="$tmp/repo"
mkdir "$repo"
git -C "$repo" init -q
cp -r "$here/proto" "$repo/proto"
commit "$repo" "the API as it is"
run_check first "$repo"
expect first 77 "SKIPPED" "is the first commit"

add_field "$repo"
run_check uncommitted-compatible "$repo"
expect uncommitted-compatible 0 "comparing with HEAD" "no breaking change"
commit "$repo" "a new field and a new RPC"
run_check committed-compatible "$repo"
expect committed-compatible 0 "the parent of" "no breaking change"

remove_field "$repo"
run_check uncommitted-removed "$repo"
expect uncommitted-removed 1 "comparing with HEAD" \
  'field "4" with name "labels" on message "EmbeddingBlock" was deleted' "FAILED"

git -C "$repo" checkout -q -- proto
retype_field "$repo"
commit "$repo" "dimension widened"
# A later commit that does not touch proto/ changes nothing.
echo notes >"$repo/NOTES"
git -C "$repo" add NOTES && git -C "$repo" commit -qm "notes"
run_check committed-retyped "$repo"
expect committed-retyped 1 "the parent of" \
  'changed type from "uint32" to "uint64"' "FAILED"

# The same break, allowed by the commit's message.
git -C "$repo" reset -q --hard HEAD~2
retype_field "$repo"
git -C "$repo" add -A proto
git -C "$repo" commit -qm "dimension widened" \
  -m "Buf-Breaking-Allowed: breaking_test.sh checks the escape hatch"
run_check allowed "$repo"
expect allowed 0 'changed type from "uint32" to "uint64"' \
  "allowed by" "breaking_test.sh checks the escape hatch"

# A shallow clone whose history starts at the last change.
git clone -q --depth 1 "file://$repo" "$tmp/shallow"
run_check shallow "$tmp/shallow"
expect shallow 77 "SKIPPED" "a shallow clone"

# No history: a copy outside any git checkout.
cp -r "$repo/proto" "$tmp/plain-proto"
mkdir "$tmp/plain" && mv "$tmp/plain-proto" "$tmp/plain/proto"
run_check no-git "$tmp/plain"
expect no-git 77 "SKIPPED" "is not a git checkout"

if [ "$failures" -ne 0 ]; then
  echo "breaking_test.sh: $failures failure(s)" >&2
  exit 1
fi
echo "breaking_test.sh: all cases answered as expected"
