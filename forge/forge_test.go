package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/ferrygitops/ferry/internal/retry"
	"github.com/ferrygitops/ferry/internal/testenv/githubapi"
)

func appPR() PullRequest {
	return PullRequest{
		Owner: owner, Repo: name, Base: "main", Head: "ferry/app",
		Title: "ferry: update app", Body: "Updates app to 1.2.3.",
	}
}

func TestEnsureCreatesWithAtMostFourWrites(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, nil)
	pr := appPR()
	pr.Labels = []string{"ferry", " automated", "Ferry", ""}
	pr.Reviewers = []string{"alice", githubapi.DefaultLogin, "ALICE"} // the author is dropped
	pr.TeamReviewers = []string{"acme/platform"}
	pr.Assignees = []string{"bob"}

	res, err := c.Ensure(context.Background(), pr)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != OutcomeCreated || res.Number != 1 || !strings.HasSuffix(res.URL, "/acme/fleet/pull/1") || res.Duplicates != nil {
		t.Fatalf("result %+v", res)
	}
	if w := e.srv.Writes(); w != 4 {
		t.Errorf("%d writes, want 4", w)
	}
	if s := c.Stats(); s.Writes != 4 || s.Requests != 5 || s.Retries != 0 {
		t.Errorf("stats %+v, want 4 writes in 5 requests", s)
	}
	p := e.pulls()
	if len(p) != 1 {
		t.Fatalf("%d pull requests", len(p))
	}
	got := p[0]
	if got.Title != pr.Title || got.Body != pr.Body || got.Head != "ferry/app" || got.Base != "main" || got.State != "open" ||
		!slices.Equal(got.Labels, []string{"ferry", "automated"}) || !slices.Equal(got.Reviewers, []string{"alice"}) ||
		!slices.Equal(got.TeamReviewers, []string{"platform"}) || !slices.Equal(got.Assignees, []string{"bob"}) {
		t.Fatalf("pull request %+v", got)
	}

	// Nothing but the pull request: one write.
	e.git.Commit(repo, "ferry/web")
	c2 := e.client(t, nil)
	res, err = c2.Ensure(context.Background(), PullRequest{Owner: owner, Repo: name, Base: "main", Head: "ferry/web", Title: "web", Draft: true})
	if err != nil || res.Outcome != OutcomeCreated || res.Number != 2 {
		t.Fatalf("%+v %v", res, err)
	}
	if s := c2.Stats(); s.Writes != 1 {
		t.Errorf("bare pull request: %d writes", s.Writes)
	}
	if p := e.pulls()[1]; !p.Draft || p.Body != "" {
		t.Errorf("draft: %+v", p)
	}
}

func TestEnsureUpdatesOnlyWhatDiffers(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, nil)
	ctx := context.Background()
	pr := appPR()
	pr.Body = "Updates app.\n\nTo 1.2.3."
	pr.Labels = []string{"ferry"}
	pr.Reviewers = []string{"alice"}
	if _, err := c.Ensure(ctx, pr); err != nil {
		t.Fatal(err)
	}

	step := func(what string, pr PullRequest, want Outcome, writes, reads int) {
		t.Helper()
		before, reqs := e.srv.Writes(), c.Stats().Requests
		res, err := c.Ensure(ctx, pr)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if res.Outcome != want || res.Number != 1 {
			t.Errorf("%s: %+v, want %s #1", what, res, want)
		}
		if w := e.srv.Writes() - before; w != writes {
			t.Errorf("%s: %d writes, want %d", what, w, writes)
		}
		if r := c.Stats().Requests - reqs; r != int64(writes+reads) {
			t.Errorf("%s: %d requests, want %d reads and %d writes", what, r, reads, writes)
		}
	}
	step("same content", pr, OutcomeUnchanged, 0, 1)
	// A reviewer missing is requested (after reading the reviews: one who
	// has reviewed is not asked again); the one people kept stays.
	pr.Reviewers = []string{"carol"}
	step("another reviewer", pr, OutcomeUpdated, 1, 2)
	step("another reviewer, again", pr, OutcomeUnchanged, 0, 1)
	crlf := pr
	crlf.Body = strings.ReplaceAll(pr.Body, "\n", "\r\n") + "\r\n"
	step("body with other line ends", crlf, OutcomeUnchanged, 0, 1)
	pr.Body = "Updates app to 1.2.4."
	step("changed body", pr, OutcomeUpdated, 1, 1)
	pr.Title = "ferry: update app to 1.2.4"
	pr.Labels = []string{"FERRY", "security"}
	step("changed title, a new label", pr, OutcomeUpdated, 2, 1)
	pr.Labels = []string{"Security"}
	step("labels are never removed, case is ignored", pr, OutcomeUnchanged, 0, 1)

	got := e.pulls()[0]
	if got.Title != pr.Title || got.Body != pr.Body || !slices.Equal(got.Labels, []string{"ferry", "security"}) || !slices.Equal(got.Reviewers, []string{"alice", "carol"}) {
		t.Fatalf("pull request %+v", got)
	}
	f, err := c.Find(ctx, owner, name, "ferry/app")
	if err != nil || f == nil || f.Number != 1 || f.Title != pr.Title || f.Base != "main" || len(f.Labels) != 2 {
		t.Fatalf("find: %+v %v", f, err)
	}
	if f, err := c.Find(ctx, owner, name, "ferry/none"); err != nil || f != nil {
		t.Fatalf("find nothing: %+v %v", f, err)
	}
}

func TestEnsureConcurrentMakesOnePullRequest(t *testing.T) {
	e := newEnv(t)
	pr := appPR()
	pr.Labels = []string{"ferry"}
	pr.Reviewers = []string{"alice"}
	var wg sync.WaitGroup
	var mu sync.Mutex
	outcomes := map[Outcome]int{}
	shared := e.client(t, nil)
	for i := range 8 {
		c := shared
		if i%2 == 0 {
			c = e.client(t, nil) // separate Ferry processes
		}
		wg.Go(func() {
			res, err := c.Ensure(context.Background(), pr)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			outcomes[res.Outcome]++
			if res.Number != 1 {
				t.Errorf("result %+v", res)
			}
		})
	}
	wg.Wait()
	if p := e.pulls(); len(p) != 1 || !slices.Equal(p[0].Labels, []string{"ferry"}) {
		t.Fatalf("pull requests: %+v", p)
	}
	if outcomes[OutcomeCreated] != 1 {
		t.Fatalf("outcomes %v, want exactly one created", outcomes)
	}
}

// hookTransport runs before ahead of each request it sends.
type hookTransport struct {
	base   http.RoundTripper
	before func(*http.Request)
}

func (h *hookTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	h.before(r)
	return h.base.RoundTrip(r)
}

func TestEnsureRaceWithConcurrentCreator(t *testing.T) {
	e := newEnv(t)
	var once sync.Once
	c := e.client(t, func(o *Options) {
		o.HTTP = &hookTransport{base: http.DefaultTransport, before: func(r *http.Request) {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/pulls") {
				// Another Ferry wins the race just before our create.
				once.Do(func() {
					if _, err := e.srv.OpenPullRequest(owner, name, githubapi.NewPR{Head: "ferry/app", Base: "main", Title: "other ferry's title", User: githubapi.DefaultLogin}); err != nil {
						t.Error(err)
					}
				})
			}
		}}
	})
	pr := appPR()
	pr.Labels = []string{"ferry"}
	res, err := c.Ensure(context.Background(), pr)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != OutcomeUpdated || res.Number != 1 {
		t.Fatalf("result %+v", res)
	}
	p := e.pulls()
	if len(p) != 1 || p[0].Title != pr.Title || !slices.Equal(p[0].Labels, []string{"ferry"}) {
		t.Fatalf("pull requests %+v", p)
	}
	if n := e.srv.Requests(githubapi.RouteCreatePull); n != 1 {
		t.Errorf("%d creates", n)
	}
	if n := e.srv.Requests(githubapi.RouteListPulls); n != 2 {
		t.Errorf("%d lists, want 2 (before and after the refused create)", n)
	}
}

// seedOthers opens n pull requests from other heads.
func seedOthers(t *testing.T, e *env, n int) {
	t.Helper()
	for i := range n {
		branch := fmt.Sprintf("feature/%03d", i)
		e.git.Commit(repo, branch)
		if _, err := e.srv.OpenPullRequest(owner, name, githubapi.NewPR{Head: branch, Base: "main", Title: branch}); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Second)
	}
}

// seedOurs opens pull requests from ferry/app into bases, as people would.
func seedOurs(t *testing.T, e *env, bases ...string) []int {
	t.Helper()
	var numbers []int
	for _, base := range bases {
		if _, ok := e.git.Head(repo, base); !ok {
			e.git.Commit(repo, base)
		}
		n, err := e.srv.OpenPullRequest(owner, name, githubapi.NewPR{Head: "ferry/app", Base: base, Title: "by hand into " + base})
		if err != nil {
			t.Fatal(err)
		}
		numbers = append(numbers, n)
		e.clock.Advance(time.Second)
	}
	return numbers
}

func TestEnsureDuplicatesAcrossPages(t *testing.T) {
	t.Run("the one into base", func(t *testing.T) {
		e := newEnv(t)
		seedOthers(t, e, 120)
		ours := seedOurs(t, e, "develop", "release", "main") // #121..#123
		c := e.client(t, func(o *Options) { o.PerPage = 2 })
		res, err := c.Ensure(context.Background(), appPR())
		if err != nil {
			t.Fatal(err)
		}
		if res.Outcome != OutcomeUpdated || res.Number != ours[2] || !slices.Equal(res.Duplicates, ours[:2]) {
			t.Fatalf("result %+v, want #%d updated with duplicates %v", res, ours[2], ours[:2])
		}
		if n := e.srv.Requests(githubapi.RouteListPulls); n != 2 {
			t.Errorf("%d list requests, want 2 pages", n)
		}
		for _, p := range e.pulls()[120:122] {
			if p.Title != "by hand into "+p.Base {
				t.Errorf("duplicate #%d touched: %+v", p.Number, p)
			}
		}
	})
	t.Run("the lowest, on page 2, retargeted", func(t *testing.T) {
		e := newEnv(t)
		seedOthers(t, e, 120)
		ours := seedOurs(t, e, "develop", "release", "staging")
		c := e.client(t, func(o *Options) { o.PerPage = 2 })
		f, err := c.Find(context.Background(), owner, name, "ferry/app")
		if err != nil || f.Number != ours[0] || !slices.Equal(f.Duplicates, ours[1:]) {
			t.Fatalf("find: %+v %v", f, err)
		}
		before := e.srv.Writes()
		res, err := c.Ensure(context.Background(), appPR())
		if err != nil {
			t.Fatal(err)
		}
		if res.Outcome != OutcomeUpdated || res.Number != ours[0] || !slices.Equal(res.Duplicates, ours[1:]) {
			t.Fatalf("result %+v", res)
		}
		if w := e.srv.Writes() - before; w != 1 {
			t.Errorf("%d writes, want one edit of title, body and base", w)
		}
		p, _ := e.srv.PullRequest(owner, name, ours[0])
		if p.Base != "main" || p.Title != appPR().Title {
			t.Fatalf("#%d: %+v", ours[0], p)
		}
	})
	t.Run("default page size over 100 others", func(t *testing.T) {
		e := newEnv(t)
		seedOthers(t, e, 120)
		c := e.client(t, nil)
		res, err := c.Ensure(context.Background(), appPR())
		if err != nil || res.Outcome != OutcomeCreated || res.Number != 121 {
			t.Fatalf("%+v %v", res, err)
		}
		if res, err := c.Ensure(context.Background(), appPR()); err != nil || res.Outcome != OutcomeUnchanged || res.Number != 121 {
			t.Fatalf("%+v %v", res, err)
		}
	})
}

func TestSecondaryRateLimitRetryAfterHonoured(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, nil)
	f := githubapi.SecondaryRateLimit(30 * time.Second)
	f.WritesOnly = true
	e.srv.FailNext(2, f)
	pr := appPR()
	pr.Labels = []string{"ferry"}
	res, err := c.Ensure(context.Background(), pr)
	if err != nil || res.Outcome != OutcomeCreated {
		t.Fatalf("%+v %v", res, err)
	}
	if w := e.recordedWaits(); !slices.Equal(w, []time.Duration{30 * time.Second, 30 * time.Second}) {
		t.Fatalf("waits %v, want two of 30s", w)
	}
	s := c.Stats()
	if s.Retries != 2 || s.Waited != time.Minute || s.Writes != 4 {
		t.Fatalf("stats %+v", s)
	}
	// The replayed create carried its body.
	if p := e.pulls(); len(p) != 1 || p[0].Title != pr.Title || p[0].Body != pr.Body {
		t.Fatalf("pull requests %+v", p)
	}

	// Without Retry-After: at least a minute, as GitHub asks.
	f = githubapi.SecondaryRateLimit(0)
	e.srv.FailNext(1, f)
	if _, err := c.Find(context.Background(), owner, name, "ferry/app"); err != nil {
		t.Fatal(err)
	}
	if w := e.recordedWaits(); len(w) != 3 || w[2] < time.Minute {
		t.Fatalf("waits %v", w)
	}

	// Longer than MaxWait: an error, no wait.
	e.srv.FailNext(1, githubapi.SecondaryRateLimit(2*time.Hour))
	_, err = e.client(t, nil).Find(context.Background(), owner, name, "ferry/app")
	var are *github.AbuseRateLimitError
	if !errors.Is(err, ErrRateLimited) || !errors.As(err, &are) {
		t.Fatalf("error %v", err)
	}
	if w := e.recordedWaits(); len(w) != 3 {
		t.Fatalf("waited %v", w)
	}
}

func TestPrimaryRateLimitWaitsForReset(t *testing.T) {
	e := newEnv(t, githubapi.WithRateLimit(3, 10*time.Minute))
	ctx := context.Background()
	pr := appPR()
	pr.Labels = []string{"ferry"}
	pr.Reviewers = []string{"alice"}
	pr.Assignees = []string{"bob"}

	// list, create and labels spend the window; go-github then refuses the
	// review request locally, and the client waits for the reset.
	a := e.client(t, nil)
	res, err := a.Ensure(ctx, pr)
	if err != nil || res.Outcome != OutcomeCreated {
		t.Fatalf("%+v %v", res, err)
	}
	if w := e.recordedWaits(); !slices.Equal(w, []time.Duration{10*time.Minute + time.Second}) {
		t.Fatalf("waits %v", w)
	}
	got := e.pulls()[0]
	if !slices.Equal(got.Reviewers, []string{"alice"}) || !slices.Equal(got.Assignees, []string{"bob"}) {
		t.Fatalf("pull request %+v", got)
	}
	if n := e.srv.Requests(githubapi.RouteRateLimit); n != 1 {
		t.Errorf("%d rate limit refreshes", n)
	}

	// The new window has one request left; a second client spends it.
	if res, err := e.client(t, nil).Ensure(ctx, pr); err != nil || res.Outcome != OutcomeUnchanged {
		t.Fatalf("%+v %v", res, err)
	}
	// A third gets GitHub's 403 and its transport waits for the reset.
	c := e.client(t, nil)
	if res, err := c.Ensure(ctx, pr); err != nil || res.Outcome != OutcomeUnchanged {
		t.Fatalf("%+v %v", res, err)
	}
	w := e.recordedWaits()
	if len(w) != 2 || w[1] < 10*time.Minute || w[1] > 10*time.Minute+2*time.Second {
		t.Fatalf("waits %v", w)
	}
	if s := c.Stats(); s.Retries != 1 || s.Requests != 2 {
		t.Fatalf("stats %+v", s)
	}

	// A reset further away than MaxWait is an error, at once.
	for e.srv.RateLimit().Remaining > 0 {
		if _, err := e.client(t, nil).Find(ctx, owner, name, "ferry/app"); err != nil {
			t.Fatal(err)
		}
	}
	_, err = e.client(t, func(o *Options) { o.MaxWait = time.Minute }).Ensure(ctx, pr)
	var rle *github.RateLimitError
	if !errors.Is(err, ErrRateLimited) || !errors.As(err, &rle) || !strings.HasPrefix(err.Error(), "ensure pull request acme/fleet ferry/app into main: ") {
		t.Fatalf("error %v", err)
	}
	if len(e.recordedWaits()) != 2 {
		t.Fatalf("waits %v", e.recordedWaits())
	}
}

func TestServerErrorsRetried(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, nil)
	e.srv.FailNext(2, githubapi.ServerError(http.StatusBadGateway))
	res, err := c.Ensure(context.Background(), appPR())
	if err != nil || res.Outcome != OutcomeCreated {
		t.Fatalf("%+v %v", res, err)
	}
	w := e.recordedWaits()
	if len(w) != 2 || w[0] < 500*time.Millisecond || w[0] > time.Second || w[1] < time.Second || w[1] > 2*time.Second {
		t.Fatalf("backoff %v", w)
	}
	if s := c.Stats(); s.Retries != 2 {
		t.Fatalf("stats %+v", s)
	}

	// Retries run out: the 5xx is the error.
	c = e.client(t, func(o *Options) { o.MaxRetries = 1 })
	e.srv.FailNext(2, githubapi.ServerError(http.StatusInternalServerError))
	_, err = c.Find(context.Background(), owner, name, "ferry/app")
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != 500 {
		t.Fatalf("error %v", err)
	}
	if s := c.Stats(); s.Requests != 2 || s.Retries != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestErrorsNeverContainTheToken(t *testing.T) {
	e := newEnv(t)
	const secret = "ghp_TopSecretTokenValue1234567890abcdef"
	_, err := e.client(t, func(o *Options) { o.Token = secret + "\n" }).Ensure(context.Background(), appPR())
	if err == nil {
		t.Fatal("bad token accepted")
	}
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != http.StatusUnauthorized {
		t.Fatalf("error %v", err)
	}
	if msg := err.Error(); strings.Contains(msg, secret) || !strings.HasPrefix(msg, "ensure pull request acme/fleet ferry/app into main: list open pull requests: ") || !strings.Contains(msg, "Bad credentials") {
		t.Fatalf("error %q", msg)
	}

	// A transport that echoes the credentials has them redacted.
	c := e.client(t, func(o *Options) {
		o.Token = secret
		o.MaxRetries = -1
		o.HTTP = roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return nil, fmt.Errorf("proxy refused %q", r.Header.Get("Authorization"))
		})
	})
	_, err = c.Close(context.Background(), owner, name, "ferry/app", "bye", true)
	if err == nil || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "[REDACTED]") {
		t.Fatalf("error %v", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestGitHubAppTokens(t *testing.T) {
	key, keyPEM := appKey(t)
	e := newEnv(t, githubapi.WithApp(githubapi.App{ID: 42, InstallationID: 7, PublicKey: &key.PublicKey}))
	ctx := context.Background()
	c := e.client(t, func(o *Options) {
		o.Token = ""
		o.App = &AppAuth{AppID: 42, InstallationID: 7, PrivateKeyPEM: keyPEM}
	})
	pr := appPR()
	pr.Reviewers = []string{"ferry[bot]", "alice"}
	res, err := c.Ensure(ctx, pr)
	if err != nil || res.Outcome != OutcomeCreated {
		t.Fatalf("%+v %v", res, err)
	}
	if p := e.pulls()[0]; p.User != "ferry[bot]" || !slices.Equal(p.Reviewers, []string{"alice"}) {
		t.Fatalf("pull request %+v", p)
	}
	check := func(what string, minted int64) {
		t.Helper()
		if got := c.Stats().TokenRefreshes; got != minted || int64(e.srv.InstallationTokensMinted()) != minted {
			t.Fatalf("%s: client minted %d, server %d, want %d", what, got, e.srv.InstallationTokensMinted(), minted)
		}
	}
	check("first use", 1)

	e.clock.Advance(50 * time.Minute)
	if _, err := c.Ensure(ctx, pr); err != nil {
		t.Fatal(err)
	}
	check("50 minutes in", 1)
	e.clock.Advance(6 * time.Minute) // within five minutes of expiry
	if _, err := c.Ensure(ctx, pr); err != nil {
		t.Fatal(err)
	}
	check("56 minutes in", 2)
	e.clock.Advance(2 * time.Hour)
	if _, err := c.Ensure(ctx, pr); err != nil {
		t.Fatal(err)
	}
	check("long expired", 3)

	// git over HTTPS gets the same installation token, refreshed alike.
	tok, err := c.GitToken(ctx)
	if err != nil || !strings.HasPrefix(tok, "ghs_") && len(tok) < 20 {
		t.Fatalf("GitToken = %q, %v", tok, err)
	}
	check("git token", 3)
	e.clock.Advance(2 * time.Hour)
	if again, err := c.GitToken(ctx); err != nil || again == tok {
		t.Fatalf("GitToken after expiry = %q, %v; want a new token", again, err)
	}
	check("git token after expiry", 4)

	// A token refused early is replaced once.
	e.srv.RevokeInstallationTokens()
	retries := c.Stats().Retries
	if _, err := c.Find(ctx, owner, name, "ferry/app"); err != nil {
		t.Fatal(err)
	}
	check("revoked", 5)
	if c.Stats().Retries != retries+1 {
		t.Fatalf("retries %d → %d", retries, c.Stats().Retries)
	}

	// Concurrent first requests share one exchange.
	fresh := e.client(t, func(o *Options) {
		o.Token = ""
		o.App = &AppAuth{AppID: 42, InstallationID: 7, PrivateKeyPEM: keyPEM}
	})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := fresh.Find(ctx, owner, name, "ferry/app"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if fresh.Stats().TokenRefreshes != 1 {
		t.Fatalf("concurrent client minted %d", fresh.Stats().TokenRefreshes)
	}
	if n := e.srv.Writes(); n != 2 { // create, request reviewers
		t.Errorf("%d writes: token exchanges are not repository writes", n)
	}

	// The wrong app id: the exchange fails, and says so.
	wrong := e.client(t, func(o *Options) {
		o.Token = ""
		o.App = &AppAuth{AppID: 41, InstallationID: 7, PrivateKeyPEM: keyPEM}
	})
	_, err = wrong.Find(ctx, owner, name, "ferry/app")
	if err == nil || !strings.Contains(err.Error(), "mint installation token for github app 41 installation 7") || !strings.Contains(err.Error(), "Integration not found") {
		t.Fatalf("error %v", err)
	}
}

func TestNewValidatesOptions(t *testing.T) {
	_, keyPEM := appKey(t)
	for _, c := range []struct {
		name string
		opts Options
		want string
	}{
		{"nothing", Options{}, "no credentials"},
		{"both", Options{Token: "t", App: &AppAuth{AppID: 1, InstallationID: 2, PrivateKeyPEM: keyPEM}}, "both a token and a github app"},
		{"bad pem", Options{App: &AppAuth{AppID: 1, InstallationID: 2, PrivateKeyPEM: []byte("nope")}}, "no PEM block"},
		{"no ids", Options{App: &AppAuth{PrivateKeyPEM: keyPEM}}, "app id and an installation id"},
		{"base url", Options{Token: "t", BaseURL: "ftp://x"}, "invalid base url"},
		{"token with space", Options{Token: "a b"}, "white space"},
	} {
		_, err := New(c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), string(keyPEM[40:80])) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func TestClose(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, nil)
	ctx := context.Background()
	if _, err := c.Ensure(ctx, appPR()); err != nil {
		t.Fatal(err)
	}
	before := e.srv.Writes()
	res, err := c.Close(ctx, owner, name, "ferry/app", "Superseded: app is up to date.", true)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != OutcomeClosed || res.Number != 1 || !res.BranchDeleted || !strings.HasSuffix(res.URL, "/pull/1") {
		t.Fatalf("result %+v", res)
	}
	if w := e.srv.Writes() - before; w != 3 {
		t.Errorf("%d writes, want comment, close, delete", w)
	}
	p := e.pulls()[0]
	if p.State != "closed" || p.Merged || len(p.Comments) != 1 || p.Comments[0].Body != "Superseded: app is up to date." {
		t.Fatalf("pull request %+v", p)
	}
	if _, ok := e.git.Head(repo, "ferry/app"); ok {
		t.Fatal("branch not deleted")
	}

	// Again: nothing open, the branch is gone already; not an error.
	res, err = c.Close(ctx, owner, name, "ferry/app", "again", true)
	if err != nil || res.Outcome != OutcomeUnchanged || res.Number != 0 || res.BranchDeleted {
		t.Fatalf("%+v %v", res, err)
	}

	// Without a comment or branch deletion; duplicates are reported.
	e.git.Commit(repo, "ferry/app")
	ours := seedOurs(t, e, "main", "develop")
	res, err = c.Close(ctx, owner, name, "ferry/app", "", false)
	if err != nil || res.Outcome != OutcomeClosed || res.Number != ours[0] || !slices.Equal(res.Duplicates, ours[1:]) {
		t.Fatalf("%+v %v", res, err)
	}
	if p, _ := e.srv.PullRequest(owner, name, ours[0]); p.State != "closed" || len(p.Comments) != 0 {
		t.Fatalf("closed %+v", p)
	}
	if p, _ := e.srv.PullRequest(owner, name, ours[1]); p.State != "open" {
		t.Fatalf("duplicate %+v", p)
	}
}

func TestBaseURLs(t *testing.T) {
	for _, base := range []string{"", "/", "/api/v3", "/api/v3/"} {
		t.Run("ghe"+base, func(t *testing.T) {
			e := newEnv(t)
			c := e.client(t, func(o *Options) { o.BaseURL = e.srv.URL + base })
			if res, err := c.Ensure(context.Background(), appPR()); err != nil || res.Outcome != OutcomeCreated {
				t.Fatalf("%+v %v", res, err)
			}
		})
	}

	t.Run("github.com", func(t *testing.T) {
		e := newEnv(t)
		target, _ := url.Parse(e.srv.URL)
		var hosts sync.Map
		var authorized atomic.Int64
		c := e.client(t, func(o *Options) {
			o.BaseURL = ""
			o.HTTP = roundTripFunc(func(r *http.Request) (*http.Response, error) {
				hosts.Store(r.URL.Host, true)
				if r.Header.Get("Authorization") != "" {
					authorized.Add(1)
				}
				r = r.Clone(r.Context())
				r.URL.Scheme, r.URL.Host, r.URL.Path = target.Scheme, target.Host, "/api/v3"+r.URL.Path
				r.Host = ""
				return http.DefaultTransport.RoundTrip(r)
			})
		})
		if res, err := c.Ensure(context.Background(), appPR()); err != nil || res.Outcome != OutcomeCreated {
			t.Fatalf("%+v %v", res, err)
		}
		n := 0
		hosts.Range(func(k, _ any) bool {
			n++
			if k != "api.github.com" {
				t.Errorf("request to %v", k)
			}
			return true
		})
		if n != 1 || authorized.Load() != 2 {
			t.Fatalf("%d hosts, %d authorized requests", n, authorized.Load())
		}
	})

	for in, want := range map[string][2]string{
		"":                               {"https://api.github.com/", "https://uploads.github.com/"},
		"https://ghe.example.com":        {"https://ghe.example.com/api/v3/", "https://ghe.example.com/api/uploads/"},
		"https://ghe.example.com/api/v3": {"https://ghe.example.com/api/v3/", "https://ghe.example.com/api/uploads/"},
		"https://api.ghe.example.com/":   {"https://api.ghe.example.com/", "https://api.ghe.example.com/"},
	} {
		b, u, err := apiURLs(in)
		if err != nil || b.String() != want[0] || u.String() != want[1] {
			t.Errorf("apiURLs(%q) = %v, %v, %v; want %v", in, b, u, err, want)
		}
	}
}

func TestCredentialsOnlyToTheAPIHost(t *testing.T) {
	var got []string
	tr := &transport{
		base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			got = append(got, r.URL.Host+"="+r.Header.Get("Authorization"))
			return &http.Response{StatusCode: 200, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
		}),
		creds: staticToken("tok"), apiHost: "ghe.example.com", stats: &counters{}, sleep: retry.Sleep, now: time.Now,
	}
	for _, u := range []string{"https://ghe.example.com/api/v3/x", "https://objects.example.net/blob"} {
		req, _ := http.NewRequest("GET", u, nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if !slices.Equal(got, []string{"ghe.example.com=Bearer tok", "objects.example.net="}) {
		t.Fatalf("sent %v", got)
	}
}

func TestWaitsEndWithTheContext(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, func(o *Options) { o.Sleep = nil }) // real waits
	e.srv.FailNext(1, githubapi.SecondaryRateLimit(10*time.Minute))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Ensure(ctx, appPR())
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("error %v after %v", err, time.Since(start))
	}
}

func TestNormalize(t *testing.T) {
	pr := appPR()
	pr.Title = "  a\n title  "
	pr.Body = strings.Repeat("é", maxBody+10)
	pr.TeamReviewers = []string{"acme/platform", "Platform", "sre"}
	got, err := normalize(pr)
	if err != nil {
		t.Fatal(err)
	}
	if got.Title != "a title" || !slices.Equal(got.TeamReviewers, []string{"platform", "sre"}) {
		t.Fatalf("%+v", got)
	}
	if n := len([]rune(got.Body)); n != maxBody || !strings.HasSuffix(got.Body, "(truncated)") {
		t.Fatalf("body of %d characters", n)
	}
	for _, bad := range []PullRequest{
		{Owner: owner, Repo: name, Base: "main", Head: "main", Title: "t"},
		{Owner: owner, Repo: name, Base: "main", Head: "ferry/app"},
		{Owner: owner, Repo: name, Base: "main", Head: "acme:ferry/app", Title: "t"},
		{Repo: name, Base: "main", Head: "ferry/app", Title: "t"},
		{Owner: owner, Repo: name, Base: "main", Head: "ferry/app", Title: "t", Labels: []string{strings.Repeat("l", 51)}},
	} {
		if _, err := normalize(bad); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
}
