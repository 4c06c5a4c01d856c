// Command ferry keeps Kubernetes manifests on the newest container images the
// GitOps way: it lists tags in ECR and OCI registries, picks the newest one
// each policy allows, and rewrites the manifests in a git repository.
//
// Exit codes: 0 success, 1 a run-time failure (a registry or a manifest that
// could not be read), 2 invalid configuration or usage.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
