package bot

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferrygitops/ferry/internal/testenv/ociregistry"
	"github.com/ferrygitops/ferry/registry"
)

func TestBumpSkipsARejectedVersion(t *testing.T) {
	e := newBumpEnv(t)
	e.git.Commit("manifests", "main", "reject", map[string]string{
		".ferry/rejections.yaml": "apiVersion: ferry.dev/v1alpha1\nkind: Rejection\nspec:\n  image: " + e.reg.Host + "/acme/api:release.20240301\n  reason: breaks checkout\n",
	})
	res := e.bump(e.opts())
	api := group(t, res, "api")
	if len(api.Changes) != 0 || api.Action != "up-to-date" {
		t.Fatalf("api group proposes a rejected version: %+v", api)
	}
	var pr PolicyReport
	for _, p := range res.Scan.Policies {
		if p.Name == "api" {
			pr = p
		}
	}
	if len(pr.Rejected) != 1 || pr.Rejected[0].Tag != "release.20240301" || pr.Rejected[0].Reason != "breaks checkout" ||
		pr.Rejected[0].Source != ".ferry/rejections.yaml:1" && !strings.HasSuffix(pr.Rejected[0].Source, "rejections.yaml:1") {
		t.Errorf("rejected = %+v", pr.Rejected)
	}
	// A newer version is proposed, passing over the rejected one.
	if _, err := e.reg.Seed(context.Background(), "acme/api", "release.20240305"); err != nil {
		t.Fatal(err)
	}
	res = e.bump(e.opts())
	if api = group(t, res, "api"); api.Action != "created" || !strings.Contains(api.Title, "release.20240305") {
		t.Errorf("after a newer release: %+v", api)
	}
}

func TestScanSkipsAVersionRejectedByDigest(t *testing.T) {
	ctx := context.Background()
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := ociregistry.New()
	t.Cleanup(reg.Close)
	digests, err := reg.SeedDistinct(ctx, "acme/web", "1.0.0", "1.1.0", "1.2.0")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, body := range map[string]string{
		".ferry/policies.yaml":   "apiVersion: ferry.dev/v1alpha1\nkind: ImagePolicy\nmetadata: {name: web}\nspec: {image: " + reg.Host + "/acme/web, policy: {semver: {}}, digest: true}\n",
		".ferry/rejections.yaml": "apiVersion: ferry.dev/v1alpha1\nkind: Rejection\nspec: {image: '" + reg.Host + "/acme/web@" + digests["1.2.0"] + "', reason: CVE}\n",
		"web.yaml":               strings.ReplaceAll(bumpFrontend, "HOST", reg.Host),
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rc := registry.New(registry.Options{Limits: registry.Limits{BaseBackoff: time.Millisecond, MaxBackoff: time.Millisecond}})
	rep, err := Scan(ctx, rc, ScanOptions{Repo: dir, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	p := rep.Policies[0]
	if p.Tag != "1.1.0" || p.Digest != digests["1.1.0"] || len(p.Rejected) != 1 || p.Rejected[0].Tag != "1.2.0" || p.Rejected[0].Reason != "CVE" {
		t.Fatalf("policy report = %+v", p)
	}
}
