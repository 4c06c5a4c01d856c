# Ferry's targets are the same commands the README and .ci/run use.
GO       ?= go
PKGS     ?= ./...
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PKGS := docker-registry git chromium
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: all build image demo test test-deps test-short lint bench fuzz clean

all: lint test

## build: the ferry binary in bin/
build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/ferry ./cmd/ferry

## image: Ferry's container image for linux/amd64 and linux/arm64, pushed to IMAGE
## (no Docker daemon, no base image; starts docker-registry on 127.0.0.1:5000 if
## nothing answers there). go-containerregistry, not ko: ko needs a base image to
## pull, and the image needs only a passwd entry and CA certificates (hack/image).
IMAGE ?= 127.0.0.1:5000/ferry:dev
image:
	$(GO) run ./hack/image --image '$(IMAGE)' --version '$(VERSION)'

## demo: Ferry's whole loop on the embedded example, against local servers
## (the sync step uses the local API server when `make testbin` built it)
demo:
	@command -v git >/dev/null || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends git; }
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/ferry ./cmd/ferry
	$(GO) run ./cmd/ferry-demo --ferry bin/ferry

## test: install what the tests need, then run every test with the race detector
test: test-deps testbin lint
	FERRY_REQUIRE_SERVERS=1 $(GO) test -race -count=1 -timeout 20m $(PKGS)
	$(MAKE) test-binary

## test-binary: the CLI's tests again, each command run through the built
## binary a user runs (bin/ferry) instead of in-process
.PHONY: test-binary
test-binary: build
	FERRY_REQUIRE_SERVERS=1 FERRY_TEST_BINARY=$(CURDIR)/bin/ferry $(GO) test -count=1 -timeout 20m ./cmd/ferry/

## test-deps: Debian packages the tests start as real servers
test-deps:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

## testbin: build (once, cached outside the repo) the kube-apiserver and etcd the Kubernetes tests start
.PHONY: testbin
export FERRY_TESTBIN ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/ferry/testbin/k8s-v1.36.3
testbin:
	bash hack/testbin.sh

## test-short: the tests without the race detector (quicker while editing)
test-short:
	$(GO) test -count=1 $(PKGS)

## lint: gofmt and go vet must be clean
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

## bench: every benchmark (figures go to BENCHMARKS.md)
bench:
	$(GO) test -run='^$$' -bench=. -benchmem -timeout 60m $(PKGS)

## fuzz: a short run (FUZZTIME, default 30s) of every fuzz target in the tree
FUZZTIME ?= 30s
fuzz:
	@set -e; for dir in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
		for target in $$($(GO) test -list '^Fuzz' $$dir | grep '^Fuzz'); do \
			echo "== $$dir $$target"; \
			$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$dir; \
		done; \
	done

clean:
	rm -rf bin
