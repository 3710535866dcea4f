#!/usr/bin/env bash
# Judging BuildKit itself: build with buildctl, export the cache to S3, then
# run bkcache-conformance verify on what it wrote (conformance/ADAPTER.md,
# "the verify route"). BuildKit cannot be handed a graph fixture, so this is
# not an --impl adapter; it is the documented example for buildctl.
#
#   buildctl-verify.sh CONTEXT_DIR [NAME]
#
# Needs: a running buildkitd reachable by buildctl (BUILDKIT_HOST), whose
# environment holds the same AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY as
# this script's, and either
#   - BKCACHE_CONFORMANCE_ENDPOINT + BKCACHE_CONFORMANCE_BUCKET (any S3), or
#   - nothing: a mock-s3 is started here on 127.0.0.1 with a journal, so the
#     request-level checks run too (buildkitd must reach 127.0.0.1, e.g. run
#     it on the host network).
# Tools: buildctl, and build/bin/{mock-s3,bkcache-conformance} (or BKCACHE_BIN).
set -euo pipefail
context=${1:?usage: buildctl-verify.sh CONTEXT_DIR [NAME]}
name=${2:-main}
here=$(cd "$(dirname "$0")" && pwd)
bin=${BKCACHE_BIN:-$here/../../build/bin}
region=${BKCACHE_CONFORMANCE_REGION:-${AWS_REGION:-us-east-1}}
endpoint=${BKCACHE_CONFORMANCE_ENDPOINT:-}
bucket=${BKCACHE_CONFORMANCE_BUCKET:-buildkit-cache}
journal_args=()
mock_pid=
work=$(mktemp -d)
cleanup() {
  if [ -n "$mock_pid" ]; then kill "$mock_pid" 2>/dev/null || true; wait "$mock_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

if [ -z "$endpoint" ]; then
  : "${AWS_ACCESS_KEY_ID:=AKIABUILDCTLVERIFY01}" "${AWS_SECRET_ACCESS_KEY:=buildctl/verify/secret}"
  export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
  "$bin/mock-s3" --listen 127.0.0.1:0 --access-key "$AWS_ACCESS_KEY_ID" \
    --secret-key "$AWS_SECRET_ACCESS_KEY" --bucket "$bucket" --journal "$work/journal.jsonl" \
    >"$work/mock.out" 2>&1 &
  mock_pid=$!
  for _ in $(seq 100); do
    # The mock may not have created its output file yet: no match, not an error.
    endpoint=$(sed -n 's/^mock-s3 listening on \(http[^ ]*\).*/\1/p' "$work/mock.out" 2>/dev/null || true)
    [ -n "$endpoint" ] && break
    sleep 0.1
  done
  [ -n "$endpoint" ] || { echo "mock-s3 did not start" >&2; cat "$work/mock.out" >&2; exit 1; }
  journal_args=(--journal "$work/journal.jsonl")
fi

attrs="type=s3,bucket=$bucket,region=$region,endpoint_url=$endpoint,use_path_style=true,name=$name"
buildctl build --frontend dockerfile.v0 --local context="$context" --local dockerfile="$context" \
  --export-cache "$attrs,mode=max"
"$bin/bkcache-conformance" verify --cache-from "$attrs" "${journal_args[@]}"
