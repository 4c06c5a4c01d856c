#!/usr/bin/env bash
# bench-sync.sh times `ferry sync` against `kubectl apply --server-side` of the
# same 4,000 objects on the same real kube-apiserver, in one run (see
# BENCHMARKS.md, "Sync as shipped"):
#
#   hack/bench-sync.sh                 # 1,000 groups, one run
#   hack/bench-sync.sh -runs 3         # more runs; any flag after -- goes to ferry sync
#   hack/bench-sync.sh -- --kube-qps 50
#
# It builds bin/ferry from this tree, bin/benchsync-cliutils (cli-utils'
# applier, hack/benchsync/cliutils, its own module: the third column), and
# kubectl from k8s.io/kubernetes at the version of the test API server
# (hack/testbin.sh, which it runs first), cached beside kube-apiserver; then
# runs hack/benchsync.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
CACHE=$(bash hack/testbin.sh kubectl | sed -n 's/^testbin: //p')
export FERRY_TESTBIN=$CACHE
$GO build -o bin/ferry ./cmd/ferry
(cd hack/benchsync/cliutils && GOFLAGS=-mod=mod $GO build -o ../../../bin/benchsync-cliutils .)
exec $GO run ./hack/benchsync -ferry bin/ferry -kubectl "$CACHE/kubectl" -cliutils bin/benchsync-cliutils "$@"
