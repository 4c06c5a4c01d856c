package registry

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferrygitops/ferry/internal/testenv/ociregistry"
)

var fastLimits = Limits{BaseBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond}

// dockerConfig writes a docker config.json granting user:pass on host and
// points DOCKER_CONFIG at it, so the real docker keychain is exercised.
func dockerConfig(t *testing.T, host, user, pass string) {
	t.Helper()
	dir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	cfg := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, auth)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
}

func tagNames(t *testing.T, tags []string) []string {
	t.Helper()
	out := append([]string(nil), tags...)
	sort.Strings(out)
	return out
}

func TestListOCIBasicAuthAndPagination(t *testing.T) {
	ctx := context.Background()
	srv := ociregistry.New(ociregistry.WithBasicAuth("ci", "s3cret"))
	defer srv.Close()
	var want []string
	for i := range 23 {
		want = append(want, fmt.Sprintf("release.202401%02d", i+1))
	}
	want = append(want, "latest", "v1.2.3")
	if _, err := srv.Seed(ctx, "team/app", want...); err != nil {
		t.Fatal(err)
	}
	dockerConfig(t, srv.Host, "ci", "s3cret")

	c := New(Options{PageSize: 5, Limits: fastLimits})
	before := srv.TagLists()
	tags, err := c.ListTags(ctx, srv.Host+"/team/app")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tg := range tags {
		got = append(got, tg.Name)
	}
	if diff := cmp.Diff(tagNames(t, want), tagNames(t, got)); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	// 25 tags in pages of 5: 5 full pages and one empty page after the last full one.
	if n := srv.TagLists() - before; n != 6 {
		t.Errorf("tags/list requests = %d, want 6", n)
	}
}

func TestListOCIWrongCredentials(t *testing.T) {
	ctx := context.Background()
	srv := ociregistry.New(ociregistry.WithBasicAuth("ci", "s3cret"))
	defer srv.Close()
	if _, err := srv.Seed(ctx, "app", "v1"); err != nil {
		t.Fatal(err)
	}
	dockerConfig(t, srv.Host, "ci", "wrong-password-xyz")
	_, err := New(Options{Limits: fastLimits}).ListTags(ctx, srv.Host+"/app")
	if err == nil {
		t.Fatal("want an error with wrong credentials")
	}
	if strings.Contains(err.Error(), "wrong-password-xyz") {
		t.Errorf("error leaks the password: %v", err)
	}
	if !strings.Contains(err.Error(), srv.Host+"/app") {
		t.Errorf("error does not name the repository: %v", err)
	}
}

func TestListOCIRetriesHonourRetryAfter(t *testing.T) {
	ctx := context.Background()
	srv := ociregistry.New()
	defer srv.Close()
	if _, err := srv.Seed(ctx, "app", "v1", "v2"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	c := New(Options{Limits: Limits{BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Second}})
	var waits []time.Duration
	c.transport.sleep = func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return nil }

	srv.FailNext(2, 429, "3")
	srv.FailNext(1, 503, "")
	tags, err := c.ListTags(ctx, srv.Host+"/app")
	if err != nil {
		t.Fatal(err)
	}
	if len(tags) != 2 {
		t.Errorf("got %d tags, want 2", len(tags))
	}
	if len(waits) != 3 || waits[0] != 3*time.Second || waits[1] != 3*time.Second || waits[2] > 4*time.Millisecond {
		t.Errorf("waits = %v, want [3s 3s <=4ms]", waits)
	}
	st := c.Stats().Total()
	if st.Retries != 3 {
		t.Errorf("retries = %d, want 3", st.Retries)
	}
}

func TestListOCIGivesUpAfterMaxRetries(t *testing.T) {
	ctx := context.Background()
	srv := ociregistry.New()
	defer srv.Close()
	if _, err := srv.Seed(ctx, "app", "v1"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	c := New(Options{Limits: Limits{MaxRetries: 2, BaseBackoff: time.Millisecond, MaxBackoff: time.Millisecond}})
	srv.FailNext(100, 503, "")
	before := srv.Requests()
	_, err := c.ListTags(ctx, srv.Host+"/app")
	if err == nil {
		t.Fatal("want an error")
	}
	// The first attempt and two retries reach the server; then it gives up.
	if got := srv.Requests() - before; got != 3 {
		t.Errorf("server saw %d requests, want 3", got)
	}
	if got := c.Stats().Total(); got.Retries != 2 {
		t.Errorf("retries = %d, want 2", got.Retries)
	}
}

func TestListDedupesAndIsolatesFailures(t *testing.T) {
	ctx := context.Background()
	srv := ociregistry.New()
	defer srv.Close()
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	if _, err := srv.Seed(ctx, "a", "1", "2"); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Seed(ctx, "b", "3"); err != nil {
		t.Fatal(err)
	}
	c := New(Options{Limits: fastLimits})
	before := srv.TagLists()
	a, b, missing := srv.Host+"/a", srv.Host+"/b", srv.Host+"/missing"
	out := c.List(ctx, []string{b, a, missing, a, b})
	if len(out) != 3 {
		t.Fatalf("got %d listings, want 3", len(out))
	}
	if out[0].Repository != a || len(out[0].Tags) != 2 || out[0].Err != nil {
		t.Errorf("listing a = %+v", out[0])
	}
	if out[1].Repository != b || len(out[1].Tags) != 1 || out[1].Err != nil {
		t.Errorf("listing b = %+v", out[1])
	}
	if out[2].Err == nil || !strings.Contains(out[2].Err.Error(), missing) {
		t.Errorf("listing missing: err = %v, want an error naming %s", out[2].Err, missing)
	}
	if n := srv.TagLists() - before; n != 3 {
		t.Errorf("tags/list requests = %d, want 3 (one per distinct repository)", n)
	}
}

func TestDigestOCI(t *testing.T) {
	ctx := context.Background()
	srv := ociregistry.New()
	defer srv.Close()
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	digests, err := srv.SeedDistinct(ctx, "app", "v1", "v2")
	if err != nil {
		t.Fatal(err)
	}
	c := New(Options{Limits: fastLimits})
	got, err := c.Digest(ctx, srv.Host+"/app", "v2")
	if err != nil {
		t.Fatal(err)
	}
	if got != digests["v2"] || got == digests["v1"] {
		t.Errorf("digest = %s, want %s", got, digests["v2"])
	}
	if _, err := c.Digest(ctx, srv.Host+"/app", "nope"); err == nil {
		t.Error("want an error for a missing tag")
	}
}

func TestListOCIBearerTokensChunked(t *testing.T) {
	ctx := context.Background()
	srv := ociregistry.New(ociregistry.WithBearerTokens())
	defer srv.Close()
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	// Seeded through the bearer flow too (the seeding client is ggcr's).
	repos := seedMany(t, srv, "org/app%03d", 120, "v1", "v2")
	c := New(Options{Limits: Limits{RatePerSecond: 1e6, Burst: 1000, BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}})
	tokensBefore, listsBefore := srv.TokenRequests(), srv.TagLists()
	out := c.List(ctx, repos)
	for _, l := range out {
		if l.Err != nil || len(l.Tags) != 2 {
			t.Fatalf("%s: %d tags, err %v", l.Repository, len(l.Tags), l.Err)
		}
	}
	// 120 repositories, 50 scopes per token: 3 tokens, and no 401 retries.
	if n := srv.TokenRequests() - tokensBefore; n != 3 {
		t.Errorf("token requests = %d, want 3", n)
	}
	if n := srv.TagLists() - listsBefore; n != 120 {
		t.Errorf("tags/list requests = %d, want 120", n)
	}
}

// seedMany seeds n repositories named by format (given the index) with the
// same tags, and returns their full names.
func seedMany(t *testing.T, srv *ociregistry.Server, format string, n int, tags ...string) []string {
	t.Helper()
	repos := make([]string, n)
	for i := range n {
		repo := fmt.Sprintf(format, i)
		if _, err := srv.Seed(context.Background(), repo, tags...); err != nil {
			t.Fatal(err)
		}
		repos[i] = srv.Host + "/" + repo
	}
	return repos
}
