package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestImage runs `make image`'s logic twice for one commit into an
// in-process registry and checks both pushes have one digest; then pulls
// the image of this machine's platform, extracts its filesystem and runs
// the binary in it (`ferry version`), and checks what the image promises:
// both platforms, the OCI labels, user 65532 with a passwd entry, CA
// certificates, and fixed timestamps and owners in every layer.
func TestImage(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles ferry twice")
	}
	ctx := context.Background()
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	host := strings.TrimPrefix(reg.URL, "http://")
	repoDir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	revision, err := gitOut(ctx, repoDir, "rev-parse", "HEAD")
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	epoch, err := gitOut(ctx, repoDir, "log", "-1", "--format=%ct", revision)
	if err != nil {
		t.Fatal(err)
	}
	// The command `make image` runs, built without the race detector
	// (compressing a 100 MB binary under it takes minutes).
	tool := filepath.Join(t.TempDir(), "image")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", tool, ".").CombinedOutput(); err != nil {
		t.Fatalf("building hack/image: %v\n%s", err, out)
	}
	var digests []string
	for i, tag := range []string{"first", "second"} {
		// One commit: its revision and time, read once (HEAD may move
		// while the test runs).
		img := host + "/ferry:" + tag
		cmd := exec.CommandContext(ctx, tool, "--image", img, "--platforms", "linux/amd64,linux/arm64", "--version", "v0.0.0-test",
			"--revision", revision, "--source-date-epoch", epoch, "--source", "https://github.com/ferrygitops/ferry", "--start-registry=false")
		cmd.Dir = repoDir
		start := time.Now()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("build %d: %v\n%s", i+1, err, out)
		}
		t.Logf("build %d: %s in %s", i+1, strings.TrimSpace(string(out)), time.Since(start).Round(time.Second))
		ref, err := name.ParseReference(img, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		desc, err := remote.Head(ref)
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, desc.Digest.String())
	}
	if digests[0] != digests[1] {
		t.Fatalf("two builds of one commit: %s and %s", digests[0], digests[1])
	}

	ref, _ := name.ParseReference(host+"/ferry@"+digests[0], name.Insecure)
	idx, err := remote.Index(ref)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, m := range im.Manifests {
		platforms = append(platforms, m.Platform.String())
	}
	if !slices.Equal(platforms, []string{"linux/amd64", "linux/arm64"}) {
		t.Errorf("platforms %v", platforms)
	}
	if im.Annotations[labelRevision] != revision {
		t.Errorf("index annotations %v", im.Annotations)
	}

	img, err := remote.Image(ref, remote.WithPlatform(v1.Platform{OS: "linux", Architecture: runtime.GOARCH}))
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	secs, _ := strconv.ParseInt(epoch, 10, 64)
	created := time.Unix(secs, 0).UTC()
	wantLabels := map[string]string{labelSource: "https://github.com/ferrygitops/ferry", labelRevision: revision,
		labelVersion: "v0.0.0-test", labelCreated: created.Format(time.RFC3339), labelTitle: "ferry"}
	for k, v := range wantLabels {
		if cf.Config.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, cf.Config.Labels[k], v)
		}
	}
	if cf.Config.User != "65532:65532" || !slices.Equal(cf.Config.Entrypoint, []string{binaryPath}) || !cf.Created.Time.Equal(created) || cf.Architecture != runtime.GOARCH {
		t.Errorf("config: user %q, entrypoint %v, created %s, arch %s", cf.Config.User, cf.Config.Entrypoint, cf.Created, cf.Architecture)
	}

	root := t.TempDir()
	extract(t, img, root, created)
	passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
	if !regexp.MustCompile(`(?m)^nonroot:x:65532:65532:`).Match(passwd) {
		t.Errorf("/etc/passwd has no user 65532:\n%s", passwd)
	}
	pemCerts, _ := os.ReadFile(filepath.Join(root, caFile))
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemCerts) || bytes.Count(pemCerts, []byte("BEGIN CERTIFICATE")) < 100 {
		t.Errorf("%s holds %d certificates", caFile, bytes.Count(pemCerts, []byte("BEGIN CERTIFICATE")))
	}
	cmd := exec.Command(filepath.Join(root, binaryPath), "version", "-o", "json")
	cmd.Env = []string{"HOME=" + root}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ferry version in the image: %v\n%s", err, out)
	}
	var v struct{ Version, Commit, Platform string }
	if err := json.Unmarshal(out, &v); err != nil || v.Version != "v0.0.0-test" || v.Commit != revision || v.Platform != "linux/"+runtime.GOARCH {
		t.Errorf("ferry version in the image: %v %s", err, out)
	}
}

// extract writes the image's filesystem under root, as `crane export` |
// tar x would, checking every entry's time and owner on the way.
func extract(t *testing.T, img v1.Image, root string, created time.Time) {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if !h.ModTime.Equal(created) || h.Uname != "" || h.Gname != "" || h.Uid != 0 && h.Uid != nonRoot {
			t.Errorf("%s: time %s, owner %d (%q), want %s and no names", h.Name, h.ModTime, h.Uid, h.Uname, created)
		}
		p := filepath.Join(root, filepath.FromSlash(h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			// mutate.Extract gives the top layer first, so a file can come
			// before the directory entries of the layer below: tar x
			// creates the parents, and so does this.
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, data, os.FileMode(h.Mode).Perm()); err != nil {
				t.Fatal(err)
			}
		default:
			t.Errorf("%s: unexpected entry type %c", h.Name, h.Typeflag)
		}
	}
}
