// Command ferry keeps Kubernetes manifests on the newest container images the
// GitOps way: it lists tags in ECR and OCI registries, picks the newest one
// each policy allows, and rewrites the manifests in a git repository.
//
// Exit codes, the same on every command: 0 done, 1 a difference (diff,
// --exit-code), 2 usage or configuration, 3 a run-time failure, 4 applied but
// not healthy.
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
