// Command image builds Ferry's container image and pushes it: `make image`
// runs it. No Docker daemon, no base image from the internet: for each
// platform (linux/amd64 and linux/arm64) it cross-compiles cmd/ferry
// statically (CGO_ENABLED=0, -trimpath, no build ID, no VCS stamp: the
// binary depends on the source alone) and assembles an OCI image of two
// deterministic layers (see Build) with go-containerregistry, then pushes
// the image index.
//
// Two builds of one commit give the same digest: every timestamp is
// SOURCE_DATE_EPOCH (default: the commit time of HEAD), tar entries are
// sorted with fixed owners, and the CA certificates come from a Go module
// pinned by go.sum rather than from the build machine.
//
// Why go-containerregistry and not ko: ko builds on a base image that it
// pulls (a distroless or Chainguard static image) and adds the binary;
// Ferry's image needs nothing from a base but a passwd entry and CA
// certificates, which a few lines write deterministically, and
// go-containerregistry is already a dependency (ko is built on it).
//
//	go run ./hack/image --image 127.0.0.1:5000/ferry:dev
//
// When the image's registry is 127.0.0.1:5000 (or localhost:5000) and
// nothing answers there, it starts Debian's docker-registry on that port
// (storage in ~/.cache/ferry/registry), leaves it running and says how to
// stop it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// options are the command's flags.
type options struct {
	image     string
	platforms string
	version   string
	revision  string
	source    string
	epoch     string // SOURCE_DATE_EPOCH, seconds
	repoDir   string // the module root: where `go build` runs
	startReg  bool
	out       io.Writer
}

func main() {
	o := options{out: os.Stdout}
	flag.StringVar(&o.image, "image", envOr("IMAGE", "127.0.0.1:5000/ferry:dev"), "where to push the image index ($IMAGE)")
	flag.StringVar(&o.platforms, "platforms", "linux/amd64,linux/arm64", "comma-separated OS/ARCH list")
	flag.StringVar(&o.version, "version", "", "ferry's version (default: git describe --tags --always --dirty)")
	flag.StringVar(&o.revision, "revision", "", "the git commit (default: git rev-parse HEAD)")
	flag.StringVar(&o.source, "source", "https://github.com/ferrygitops/ferry", "org.opencontainers.image.source")
	flag.StringVar(&o.epoch, "source-date-epoch", os.Getenv("SOURCE_DATE_EPOCH"), "every timestamp in the image, in Unix seconds ($SOURCE_DATE_EPOCH; default: the commit time of HEAD)")
	flag.BoolVar(&o.startReg, "start-registry", true, "start docker-registry on 127.0.0.1:5000 when the image goes there and nothing answers")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// run builds the binaries and the image index, and pushes it.
func run(ctx context.Context, o options) error {
	ref, err := name.ParseReference(o.image, name.WeakValidation, insecureIfLoopback(o.image))
	if err != nil {
		return fmt.Errorf("--image %q: %w", o.image, err)
	}
	if o.repoDir == "" {
		if o.repoDir, err = gitOut(ctx, "", "rev-parse", "--show-toplevel"); err != nil {
			return err
		}
	}
	if o.revision == "" {
		if o.revision, err = gitOut(ctx, o.repoDir, "rev-parse", "HEAD"); err != nil {
			return err
		}
	}
	if o.version == "" {
		if o.version, err = gitOut(ctx, o.repoDir, "describe", "--tags", "--always", "--dirty"); err != nil {
			return err
		}
	}
	if o.epoch == "" {
		if o.epoch, err = gitOut(ctx, o.repoDir, "log", "-1", "--format=%ct", o.revision); err != nil {
			return err
		}
	}
	secs, err := strconv.ParseInt(o.epoch, 10, 64)
	if err != nil || secs < 0 {
		return fmt.Errorf("SOURCE_DATE_EPOCH %q: want Unix seconds", o.epoch)
	}
	spec := Spec{Source: o.source, Revision: o.revision, Version: o.version, Created: time.Unix(secs, 0).UTC()}
	tmp, err := os.MkdirTemp("", "ferry-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for _, pl := range strings.Split(o.platforms, ",") {
		osName, arch, ok := strings.Cut(strings.TrimSpace(pl), "/")
		if !ok || osName == "" || arch == "" {
			return fmt.Errorf("--platforms: %q is not OS/ARCH", pl)
		}
		bin, err := buildBinary(ctx, o.repoDir, filepath.Join(tmp, osName+"-"+arch), osName, arch, o.version, o.revision)
		if err != nil {
			return err
		}
		spec.Platforms = append(spec.Platforms, Platform{OS: osName, Arch: arch, Binary: bin})
	}
	idx, err := Build(spec)
	if err != nil {
		return err
	}
	if o.startReg {
		if err := ensureLocalRegistry(ctx, ref.Context().RegistryStr(), o.out); err != nil {
			return err
		}
	}
	if err := remote.WriteIndex(ref, idx, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		return fmt.Errorf("pushing %s: %w", ref, err)
	}
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	fmt.Fprintf(o.out, "pushed %s@%s (%s; version %s, revision %.12s, created %s)\n",
		ref.Context(), d, o.platforms, o.version, o.revision, spec.Created.Format(time.RFC3339))
	return nil
}

// buildBinary cross-compiles cmd/ferry into out and returns its bytes.
func buildBinary(ctx context.Context, repoDir, out, goos, goarch, version, revision string) ([]byte, error) {
	goCmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goCmd); err != nil {
		goCmd = "go"
	}
	cmd := exec.CommandContext(ctx, goCmd, "build", "-trimpath", "-buildvcs=false",
		"-ldflags", fmt.Sprintf("-s -w -buildid= -X main.version=%s -X main.commit=%s", version, revision),
		"-o", out, "./cmd/ferry")
	cmd.Dir = repoDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch, "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build for %s/%s: %v\n%s", goos, goarch, err, b)
	}
	return os.ReadFile(out)
}

func gitOut(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	b, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
		}
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(b)), nil
}

// insecureIfLoopback lets a loopback registry be spoken to over plain
// HTTP, as Ferry itself does.
func insecureIfLoopback(ref string) name.Option {
	host, _, _ := strings.Cut(ref, "/")
	h := host
	if i := strings.LastIndex(host, ":"); i > 0 && !strings.HasSuffix(host, "]") {
		h = host[:i]
	}
	if h == "localhost" || strings.HasPrefix(h, "127.") || h == "[::1]" {
		return name.Insecure
	}
	return name.WeakValidation
}

// ensureLocalRegistry starts docker-registry on host when host is the
// default local registry (127.0.0.1:5000 or localhost:5000) and nothing
// answers there. The registry keeps running after this command, so the
// image can be pulled; its data live in ~/.cache/ferry/registry.
func ensureLocalRegistry(ctx context.Context, host string, out io.Writer) error {
	if host != "127.0.0.1:5000" && host != "localhost:5000" {
		return nil
	}
	if answers(ctx, host) {
		return nil
	}
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		return fmt.Errorf("nothing answers on %s and docker-registry is not installed (apt-get install docker-registry, or `make test-deps`)", host)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return err
	}
	dir := filepath.Join(cache, "ferry", "registry")
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return err
	}
	cfg := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:5000\n",
		filepath.Join(dir, "data")), 0o644); err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(dir, "registry.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "serve", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // outlives this command and its terminal
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting docker-registry: %w", err)
	}
	pid := cmd.Process.Pid
	_ = cmd.Process.Release()
	deadline := time.Now().Add(15 * time.Second)
	for !answers(ctx, host) {
		if time.Now().After(deadline) {
			return fmt.Errorf("docker-registry (pid %d) did not answer on %s; see %s", pid, host, logf.Name())
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Fprintf(out, "started docker-registry on %s (pid %d, data in %s); stop it with: kill %d\n", host, pid, dir, pid)
	return nil
}

// answers reports whether a registry answers on host (any HTTP status of
// /v2/ counts: 401 is a registry asking for credentials).
func answers(ctx context.Context, host string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/v2/", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}
