package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/ferrygitops/ferry/bot"
	"github.com/ferrygitops/ferry/internal/testenv/distribution"
	"github.com/ferrygitops/ferry/internal/testenv/ociregistry"
)

// writeTree writes files (slash paths relative to dir).
func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// run runs the CLI in-process and returns its exit code and outputs.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

const releasePolicy = `apiVersion: ferry.dev/v1alpha1
kind: ImagePolicy
metadata:
  name: api
spec:
  image: HOST/acme/api
  filterTags:
    pattern: '^release\.(?P<stamp>\d{8})$'
    extract: '$stamp'
  policy:
    date: {layout: '20060102'}
---
apiVersion: ferry.dev/v1alpha1
kind: ImagePolicy
metadata:
  name: web
spec:
  image: HOST/acme/web
  policy:
    semver: {range: '>=1.0.0'}
`

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: prod
spec:
  template:
    spec:
      containers:
        - name: api
          image: HOST/acme/api:release.20240101 # keep this comment
        - name: web
          image: HOST/acme/web:v1.9.0
`

func scanRepo(t *testing.T, host string) string {
	t.Helper()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		".ferry/policies.yaml":   strings.ReplaceAll(releasePolicy, "HOST", host),
		"apps/api/deploy.yaml":   strings.ReplaceAll(deployment, "HOST", host),
		"apps/api/unrelated.txt": "nothing here",
	})
	return dir
}

var releaseTags = []string{"release.20240101", "release.20240229", "release.20240301", "release.20231231", "release.2024030", "latest", "release.20240301.sig"}
var semverTags = []string{"v1.9.0", "v1.10.0", "v1.10.1-rc.1", "v2.0.0-beta.1", "1.2.3", "latest"}

// seededRegistry starts an in-process registry holding acme/api (release
// tags) and acme/web (semver tags), with an empty docker config.
func seededRegistry(t *testing.T) *ociregistry.Server {
	t.Helper()
	ctx := context.Background()
	srv := ociregistry.New()
	t.Cleanup(srv.Close)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	if _, err := srv.Seed(ctx, "acme/api", releaseTags...); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Seed(ctx, "acme/web", semverTags...); err != nil {
		t.Fatal(err)
	}
	return srv
}

func checkScanJSON(t *testing.T, out string) {
	t.Helper()
	var rep bot.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if len(rep.Policies) != 2 {
		t.Fatalf("got %d policies, want 2", len(rep.Policies))
	}
	want := map[string]string{"api": "release.20240301", "web": "v1.10.0"}
	for _, p := range rep.Policies {
		if p.Error != "" {
			t.Errorf("policy %s: unexpected error %s", p.Name, p.Error)
		}
		if p.Tag != want[p.Name] {
			t.Errorf("policy %s chose %q, want %q", p.Name, p.Tag, want[p.Name])
		}
		if len(p.References) != 1 {
			t.Fatalf("policy %s: %d references, want 1: %+v", p.Name, len(p.References), p.References)
		}
		r := p.References[0]
		if r.File != "apps/api/deploy.yaml" || r.Status != "update" || !strings.HasSuffix(r.Wanted, ":"+want[p.Name]) {
			t.Errorf("policy %s reference = %+v", p.Name, r)
		}
	}
}

func TestScanInProcessRegistry(t *testing.T) {
	srv := seededRegistry(t)
	dir := scanRepo(t, srv.Host)
	before, _ := os.ReadFile(filepath.Join(dir, "apps/api/deploy.yaml"))

	code, out, errs := run(t, "scan", "--repo", dir, "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errs)
	}
	checkScanJSON(t, out)

	code, out, errs = run(t, "scan", "--repo", dir, "--stats")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errs)
	}
	for _, s := range []string{"POLICY", "release.20240301", "apps/api/deploy.yaml:11", "update"} {
		if !strings.Contains(out, s) {
			t.Errorf("table output lacks %q:\n%s", s, out)
		}
	}
	if !strings.Contains(out, "Registry calls:") {
		t.Errorf("--stats printed nothing: %s", out)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "apps/api/deploy.yaml"))
	if !bytes.Equal(before, after) {
		t.Error("scan modified a manifest")
	}
}

func TestScanDebianRegistry(t *testing.T) {
	reg := distribution.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	if _, err := ociregistry.Push(ctx, reg.Host, authn.Anonymous, "acme/api", releaseTags...); err != nil {
		t.Fatal(err)
	}
	if _, err := ociregistry.Push(ctx, reg.Host, authn.Anonymous, "acme/web", semverTags...); err != nil {
		t.Fatal(err)
	}
	dir := scanRepo(t, reg.Host)
	code, out, errs := run(t, "scan", "--repo", dir, "-o", "json", "--page-size", "2")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errs)
	}
	checkScanJSON(t, out)
}

func TestScanExitCodes(t *testing.T) {
	ctx := context.Background()
	srv := ociregistry.New()
	defer srv.Close()
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	if _, err := srv.Seed(ctx, "acme/api", releaseTags...); err != nil {
		t.Fatal(err)
	}

	t.Run("invalid policy is exit 2 with file and line", func(t *testing.T) {
		dir := t.TempDir()
		writeTree(t, dir, map[string]string{".ferry/bad.yaml": `apiVersion: ferry.dev/v1alpha1
kind: ImagePolicy
metadata:
  name: api
spec:
  image: ` + srv.Host + `/acme/api
  filterTags:
    pattern: '^release\.(\d{8}$'
  policy:
    date: {layout: '20060102'}
`})
		before := srv.Requests()
		code, _, errs := run(t, "scan", "--repo", dir)
		if code != 2 {
			t.Fatalf("exit %d, want 2; stderr:\n%s", code, errs)
		}
		if !strings.Contains(errs, "bad.yaml:8") || !strings.Contains(errs, "spec.filterTags.pattern") {
			t.Errorf("stderr does not locate the error:\n%s", errs)
		}
		if srv.Requests() != before {
			t.Error("a registry call was made before validation failed")
		}
	})

	t.Run("one unlistable image is a run-time failure, the others still complete", func(t *testing.T) {
		dir := scanRepo(t, srv.Host) // acme/web does not exist in this registry
		code, out, _ := run(t, "scan", "--repo", dir, "-o", "json")
		if code != exitFailure {
			t.Fatalf("exit %d, want %d", code, exitFailure)
		}
		var rep bot.Report
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		for _, p := range rep.Policies {
			switch p.Name {
			case "api":
				if p.Tag != "release.20240301" || p.Error != "" {
					t.Errorf("api = %+v", p)
				}
			case "web":
				if p.Error == "" || !strings.Contains(p.Error, "acme/web") {
					t.Errorf("web error = %q, want one naming the repository", p.Error)
				}
			}
		}
	})

	t.Run("bad flag is exit 2", func(t *testing.T) {
		if code, _, _ := run(t, "scan", "--nope"); code != 2 {
			t.Errorf("exit %d, want 2", code)
		}
		if code, _, _ := run(t, "scan", "-o", "yaml"); code != 2 {
			t.Errorf("exit %d, want 2", code)
		}
	})
}

func TestVersion(t *testing.T) {
	code, out, _ := run(t, "version", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var v versionInfo
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.Version == "" || v.GoVersion == "" {
		t.Errorf("version output %q: %v", out, err)
	}
}

// TestScanUnauthorizedNamesTheCredentialsTried: a registry 401 says which
// credentials were tried, never shows a secret, and prints no Go map (the
// registry's error detail) and no repeated prefix.
func TestScanUnauthorizedNamesTheCredentialsTried(t *testing.T) {
	const password = "hunter2-registry-secret"
	srv := ociregistry.New(ociregistry.WithBasicAuth("ferry", password))
	defer srv.Close()
	if _, err := srv.Seed(context.Background(), "acme/api", releaseTags...); err != nil {
		t.Fatal(err)
	}
	dir := scanRepo(t, srv.Host)

	check := func(t *testing.T, wantSource string) {
		t.Helper()
		code, out, errs := run(t, "scan", "--repo", dir)
		if code != exitFailure {
			t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitFailure, errs)
		}
		all := out + errs
		if !strings.Contains(all, "401 Unauthorized") || !strings.Contains(all, "credentials tried: "+wantSource) {
			t.Errorf("output does not name the credentials tried (%q):\n%s", wantSource, all)
		}
		for _, bad := range []string{"map[", password, "listing tags for " + srv.Host + "/acme/api: listing tags"} {
			if strings.Contains(all, bad) {
				t.Errorf("output contains %q:\n%s", bad, all)
			}
		}
	}

	t.Run("no docker config: anonymous", func(t *testing.T) {
		cfg := t.TempDir()
		t.Setenv("DOCKER_CONFIG", cfg)
		check(t, "anonymous (no docker config")
	})
	t.Run("docker config without this registry", func(t *testing.T) {
		cfg := t.TempDir()
		t.Setenv("DOCKER_CONFIG", cfg)
		writeTree(t, cfg, map[string]string{"config.json": `{"auths": {"other.example.com": {"auth": "eDp5"}}}`})
		check(t, fmt.Sprintf("anonymous (no credentials for %s in %s)", srv.Host, filepath.Join(cfg, "config.json")))
	})
	t.Run("wrong password in the docker config", func(t *testing.T) {
		cfg := t.TempDir()
		t.Setenv("DOCKER_CONFIG", cfg)
		auth := base64.StdEncoding.EncodeToString([]byte("ferry:" + password + "-but-wrong"))
		writeTree(t, cfg, map[string]string{"config.json": fmt.Sprintf(`{"auths": {%q: {"auth": %q}}}`, srv.Host, auth)})
		check(t, fmt.Sprintf("user \"ferry\" from %q in %s", srv.Host, filepath.Join(cfg, "config.json")))
		if code, out, _ := run(t, "scan", "--repo", dir); strings.Contains(out, auth) || code != exitFailure {
			t.Errorf("exit %d; output shows the auth string:\n%s", code, out)
		}
	})
}
