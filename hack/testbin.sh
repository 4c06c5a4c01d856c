#!/usr/bin/env bash
# testbin.sh builds the real kube-apiserver and etcd that Ferry's Kubernetes
# tests start (internal/testenv/kube), from the Go module proxy, and caches
# them outside the repository so that every clone on the machine reuses them.
#
#   hack/testbin.sh            # build if missing, print the cache path
#   hack/testbin.sh kubectl    # also kubectl, of the same Kubernetes version
#                              # (hack/bench-sync.sh compares ferry sync with it)
#   FERRY_TESTBIN=/some/dir hack/testbin.sh
#
# Cache: ${FERRY_TESTBIN:-${XDG_CACHE_HOME:-$HOME/.cache}/ferry/testbin/k8s-v1.36.3}
# The first build takes about 12 CPU-minutes; later runs return at once.
# Needs only the Go toolchain and the module proxy (no apt packages).
set -euo pipefail

K8S_VERSION=v1.36.3                 # k8s.io/kubernetes
STAGING_VERSION="v0.${K8S_VERSION#v1.}" # k8s.io/* staging modules: v0.36.3
K8S_MINOR=${K8S_VERSION#v1.}; K8S_MINOR=${K8S_MINOR%%.*}

CACHE=${FERRY_TESTBIN:-${XDG_CACHE_HOME:-$HOME/.cache}/ferry/testbin/k8s-${K8S_VERSION}}
GO=${GO:-go}
START=$(date +%s)

log() { printf '[testbin +%4ss] %s\n' "$(($(date +%s) - START))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

bins_ok() {
	[ -x "$CACHE/kube-apiserver" ] && [ -x "$CACHE/etcd" ] &&
		"$CACHE/kube-apiserver" --version >/dev/null 2>&1 &&
		"$CACHE/etcd" --version >/dev/null 2>&1
}

WANT_KUBECTL=
[ "${1:-}" = kubectl ] && WANT_KUBECTL=1
kubectl_ok() { [ -z "$WANT_KUBECTL" ] || { [ -x "$CACHE/kubectl" ] && "$CACHE/kubectl" version --client >/dev/null 2>&1; }; }

echo "testbin: $CACHE"
if bins_ok && kubectl_ok; then
	log "cached: $("$CACHE/kube-apiserver" --version), etcd $("$CACHE/etcd" --version | sed -n 's/^etcd Version: //p')"
	exit 0
fi

command -v "$GO" >/dev/null 2>&1 || die "the Go toolchain ($GO) is not on PATH"
mkdir -p "$CACHE" || die "cannot create $CACHE"

# One build at a time per cache dir (two CI clones on one machine, or a
# developer running make test twice); the second waits and then finds the
# binaries built.
if command -v flock >/dev/null 2>&1 && [ -z "${FERRY_TESTBIN_LOCKED:-}" ]; then
	exec 9>"$CACHE/.lock"
	if ! flock -n 9; then
		log "another testbin build holds $CACHE/.lock; waiting for it"
		flock 9
	fi
	export FERRY_TESTBIN_LOCKED=1
	if bins_ok && kubectl_ok; then
		log "built by the other run"
		exit 0
	fi
fi

# The tools module lives in the cache, never in the repository.
export GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false"
SRC="$CACHE/src"
rm -rf "$SRC"
mkdir -p "$SRC"

log "step 1/4: download k8s.io/kubernetes@$K8S_VERSION's go.mod"
json=$(cd "$SRC" && "$GO" mod download -json "k8s.io/kubernetes@$K8S_VERSION") ||
	die "go mod download k8s.io/kubernetes@$K8S_VERSION failed: $json"
gomod=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
[ -f "$gomod" ] || die "go.mod of k8s.io/kubernetes@$K8S_VERSION not found (go mod download said: $json)"

# Every k8s.io/* module that kubernetes replaces with ./staging/src/... must be
# replaced here by its published v0.X.Y twin (the staging dirs are not in the
# kubernetes module zip's module graph).
staging=$(grep -oE '^[[:space:]]*(replace[[:space:]]+)?k8s\.io/[A-Za-z0-9._/-]+[[:space:]]+=>[[:space:]]+\./staging/src/' "$gomod" |
	sed -E 's/^[[:space:]]*(replace[[:space:]]+)?//; s/[[:space:]].*//' | sort -u)
[ -n "$staging" ] || die "found no k8s.io/* => ./staging/src replace lines in $gomod"
log "  $(printf '%s\n' "$staging" | wc -l) staging modules to replace with $STAGING_VERSION"

log "step 2/4: write the tools module in $SRC"
(
	cd "$SRC"
	"$GO" mod init ferry.local/testbin >/dev/null 2>&1
	args=(-go=1.26.0 "-require=k8s.io/kubernetes@$K8S_VERSION")
	for m in $staging; do args+=("-replace=$m=$m@$STAGING_VERSION"); done
	"$GO" mod edit "${args[@]}"
	cat >tools.go <<'GO'
//go:build tools

// Package tools pins the binaries hack/testbin.sh builds.
package tools

import (
	_ "go.etcd.io/etcd/server/v3/etcdmain"
	_ "k8s.io/kubernetes/cmd/kube-apiserver/app"
)
GO
) || die "could not write the tools module"

# build PKG OUT: go build with a heartbeat, to a temporary name, then checked.
build() {
	local pkg=$1 out=$2 ldflags=$3 pid rc=0 t0=$SECONDS
	(cd "$SRC" && exec "$GO" build -trimpath -ldflags="$ldflags" -o "$out" "$pkg") &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		sleep 5
		if kill -0 "$pid" 2>/dev/null && (( (SECONDS - t0) % 60 < 5 && SECONDS - t0 >= 60 )); then
			log "  still building $pkg ($((SECONDS - t0))s)"
		fi
	done
	wait "$pid" || rc=$?
	[ "$rc" = 0 ] || die "go build $pkg failed (exit $rc); see the output above"
	log "  built $pkg in $((SECONDS - t0))s ($(du -h "$out" | cut -f1))"
}

V=k8s.io/component-base/version
KLDFLAGS_BASE="-s -w -X $V.gitVersion=$K8S_VERSION -X $V.gitMajor=1 -X $V.gitMinor=$K8S_MINOR -X $V.gitTreeState=clean"
KLDFLAGS="-s -w -X $V.gitVersion=$K8S_VERSION -X $V.gitMajor=1 -X $V.gitMinor=$K8S_MINOR -X $V.gitTreeState=clean -X $V.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
TMP_API="$CACHE/.kube-apiserver.tmp.$$"
TMP_ETCD="$CACHE/.etcd.tmp.$$"
trap 'rm -f "$TMP_API" "$TMP_ETCD"' EXIT

if bins_ok; then
	# Only kubectl is missing.
	TMP_KUBECTL="$CACHE/.kubectl.tmp.$$"
	trap 'rm -f "$TMP_KUBECTL"' EXIT
	log "build kubectl (k8s.io/kubernetes/cmd/kubectl $K8S_VERSION; ~5 CPU-minutes)"
	build k8s.io/kubernetes/cmd/kubectl "$TMP_KUBECTL" "$KLDFLAGS_BASE"
	"$TMP_KUBECTL" version --client >/dev/null || die "the built kubectl does not run"
	mv -f "$TMP_KUBECTL" "$CACHE/kubectl"
	log "done: $("$CACHE/kubectl" version --client | head -1) in $CACHE"
	exit 0
fi

log "step 3/4: build etcd (go.etcd.io/etcd/server/v3, the version kubernetes $K8S_VERSION requires; ~30s)"
build go.etcd.io/etcd/server/v3 "$TMP_ETCD" "-s -w"
"$TMP_ETCD" --version >/dev/null || die "the built etcd does not run"

log "step 4/4: build kube-apiserver (k8s.io/kubernetes/cmd/kube-apiserver; ~12 CPU-minutes)"
build k8s.io/kubernetes/cmd/kube-apiserver "$TMP_API" "$KLDFLAGS"
"$TMP_API" --version >/dev/null || die "the built kube-apiserver does not run"

mv -f "$TMP_ETCD" "$CACHE/etcd"
mv -f "$TMP_API" "$CACHE/kube-apiserver"
bins_ok || die "installed binaries in $CACHE do not run"
if [ -n "$WANT_KUBECTL" ]; then
	log "build kubectl (k8s.io/kubernetes/cmd/kubectl $K8S_VERSION; ~5 CPU-minutes)"
	build k8s.io/kubernetes/cmd/kubectl "$CACHE/.kubectl.tmp" "$KLDFLAGS_BASE"
	mv -f "$CACHE/.kubectl.tmp" "$CACHE/kubectl"
fi
log "done: $("$CACHE/kube-apiserver" --version), etcd $("$CACHE/etcd" --version | sed -n 's/^etcd Version: //p') in $CACHE"
