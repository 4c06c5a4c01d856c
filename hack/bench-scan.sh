#!/usr/bin/env bash
# Times `ferry scan` as shipped: builds the ferry binary, seeds 200 images x
# 105 tags into Debian's docker-registry (kept under the user cache directory
# after the first run) and into go-containerregistry's registry paged at 100,
# and runs `ferry scan --page-size 100 --stats` with default registry
# settings, reporting wall time per scan and requests per scan.
#
#   hack/bench-scan.sh                       # defaults
#   hack/bench-scan.sh --registry-rps 20 --registry-concurrency 8   # with caps
#
# Needs the docker-registry package (make test-deps).
set -euo pipefail
cd "$(dirname "$0")/.."
export FERRY_BENCH_SCAN_ARGS="$*"
exec go test -run '^$' -bench 'BenchmarkScanAsShipped' -benchtime "${BENCHTIME:-5x}" -timeout 60m ./cmd/ferry/
