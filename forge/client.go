package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/ferrygitops/ferry/internal/retry"
)

// Defaults of Options.
const (
	DefaultMaxRetries = 5
	DefaultMaxWait    = 15 * time.Minute
	DefaultPerPage    = 100
	DefaultUserAgent  = "ferry"
)

// ErrRateLimited is in the chain of errors caused by a GitHub rate limit
// that was not waited out: its wait exceeded Options.MaxWait, or retries ran
// out.
var ErrRateLimited = errors.New("github rate limit exceeded")

// Options configure a Client.
type Options struct {
	// BaseURL is the API base URL: empty for github.com, else a GitHub
	// Enterprise Server's, such as "https://ghe.example.com/api/v3/" (the
	// "/api/v3/" suffix is added if missing).
	BaseURL string
	// Token is a personal access token or any other bearer token (the CLI
	// reads it from GITHUB_TOKEN or a file); surrounding white space is
	// ignored. Exactly one of Token and App must be set.
	Token string
	// App authenticates as a GitHub App installation instead: installation
	// tokens are minted with a JWT and replaced before they expire.
	App *AppAuth
	// HTTP sends the requests (default http.DefaultTransport).
	HTTP http.RoundTripper
	// MaxRetries bounds the retries of one request (default
	// DefaultMaxRetries; negative: none).
	MaxRetries int
	// MaxWait is the longest Ferry waits for a rate limit to lift before one
	// retry (default DefaultMaxWait); a longer wait fails with
	// ErrRateLimited instead.
	MaxWait time.Duration
	// PerPage is the page size of list requests (default and at most 100).
	PerPage int
	// UserAgent is sent with every request (default DefaultUserAgent).
	UserAgent string
	// Sleep waits between retries (default: a timer, ended early by ctx).
	// Tests replace it to record waits.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock for rate limit resets, JWTs and token expiry
	// (default time.Now).
	Now func() time.Time
}

// Stats count what a Client sent. Installation token exchanges are counted
// only in TokenRefreshes.
type Stats struct {
	Requests       int64         // API requests sent, retries included
	Writes         int64         // of which POST, PATCH, PUT and DELETE
	Retries        int64         // of which retries
	Waited         time.Duration // time spent waiting before retries
	TokenRefreshes int64         // installation tokens minted
}

// Client manages Ferry's pull requests on GitHub. It is safe for concurrent
// use.
type Client struct {
	gh      *github.Client
	creds   credentials
	stats   *counters
	minted  atomic.Int64
	token   string
	secrets *secretSet
	perPage int
	maxWait time.Duration
	retries int
	sleep   func(ctx context.Context, d time.Duration) error
	now     func() time.Time
}

// New returns a Client. It does no I/O: credentials are first used (and an
// installation token minted) by the first request.
func New(opts Options) (*Client, error) {
	c := &Client{
		stats:   &counters{},
		secrets: &secretSet{},
		perPage: opts.PerPage,
		maxWait: opts.MaxWait,
		retries: opts.MaxRetries,
		sleep:   opts.Sleep,
		now:     opts.Now,
	}
	if c.perPage <= 0 || c.perPage > 100 {
		c.perPage = DefaultPerPage
	}
	if c.maxWait <= 0 {
		c.maxWait = DefaultMaxWait
	}
	switch {
	case c.retries == 0:
		c.retries = DefaultMaxRetries
	case c.retries < 0:
		c.retries = 0
	}
	if c.sleep == nil {
		c.sleep = retry.Sleep
	}
	if c.now == nil {
		c.now = time.Now
	}
	base := opts.HTTP
	if base == nil {
		base = http.DefaultTransport
	}
	baseURL, uploadURL, err := apiURLs(opts.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("new github client: %w", err)
	}
	apiHost := baseURL.Host

	newTransport := func(creds credentials, stats *counters) *transport {
		return &transport{
			base: base, creds: creds, apiHost: apiHost,
			maxRetries: c.retries, maxWait: c.maxWait, sleep: c.sleep, now: c.now, stats: stats,
		}
	}
	newGitHub := func(rt http.RoundTripper) *github.Client {
		gh := github.NewClient(&http.Client{Transport: rt})
		gh.BaseURL, gh.UploadURL = baseURL, uploadURL
		gh.UserAgent = opts.UserAgent
		if gh.UserAgent == "" {
			gh.UserAgent = DefaultUserAgent
		}
		return gh
	}

	var creds credentials
	token := strings.TrimSpace(opts.Token)
	switch {
	case token != "" && opts.App != nil:
		return nil, errors.New("new github client: both a token and a github app are configured")
	case token != "":
		if strings.ContainsAny(token, " \t\r\n") {
			return nil, errors.New("new github client: token contains white space")
		}
		c.token = token
		creds = staticToken(token)
	case opts.App != nil:
		app := *opts.App
		if app.AppID <= 0 || app.InstallationID <= 0 {
			return nil, errors.New("new github client: github app needs an app id and an installation id")
		}
		key, err := parsePrivateKey(app.PrivateKeyPEM)
		if err != nil {
			return nil, fmt.Errorf("new github client: github app %d private key: %w", app.AppID, err)
		}
		// Token exchanges go through their own go-github client, with the
		// same retries, authenticated by a fresh JWT per request.
		exchanger := newGitHub(newTransport(&jwtCredentials{appID: app.AppID, key: key, now: c.now}, &counters{}))
		creds = &installationCredentials{
			now:     c.now,
			secrets: c.secrets,
			minted:  func() { c.minted.Add(1) },
			exchange: func(ctx context.Context) (string, time.Time, error) {
				tok, _, err := exchanger.Apps.CreateInstallationToken(ctx, app.InstallationID, nil)
				if err != nil {
					return "", time.Time{}, c.redact(fmt.Errorf("mint installation token for github app %d installation %d: %w", app.AppID, app.InstallationID, err))
				}
				if tok.GetToken() == "" {
					return "", time.Time{}, fmt.Errorf("mint installation token for github app %d installation %d: empty token", app.AppID, app.InstallationID)
				}
				exp := tok.GetExpiresAt().Time
				if exp.IsZero() {
					exp = c.now().Add(time.Hour)
				}
				return tok.GetToken(), exp, nil
			},
		}
	default:
		return nil, errors.New("new github client: no credentials: set a token or a github app")
	}
	c.creds = creds
	c.gh = newGitHub(newTransport(creds, c.stats))
	return c, nil
}

// GitToken returns a token that git over HTTPS accepts for the repository
// (with username "x-access-token"): the configured token, or a GitHub
// App's current installation token, minted or refreshed as needed — so one
// App authenticates both the API and the pushes.
func (c *Client) GitToken(ctx context.Context) (string, error) {
	h, err := c.creds.header(ctx)
	if err != nil {
		return "", err
	}
	for _, p := range []string{"Bearer ", "token "} {
		if t, ok := strings.CutPrefix(h, p); ok {
			return t, nil
		}
	}
	return "", errors.New("github credentials give no token for git")
}

// apiURLs returns go-github's base and upload URLs for an API base URL.
func apiURLs(base string) (*url.URL, *url.URL, error) {
	if base == "" {
		base = "https://api.github.com/"
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return nil, nil, fmt.Errorf("invalid base url %q: want https://host/api/v3/", base)
	}
	gh, err := github.NewClient(nil).WithEnterpriseURLs(u.String(), u.String())
	if err != nil {
		return nil, nil, fmt.Errorf("invalid base url %q: %w", base, err)
	}
	upload := *gh.BaseURL
	if strings.HasSuffix(upload.Path, "/api/v3/") {
		upload.Path = strings.TrimSuffix(upload.Path, "/api/v3/") + "/api/uploads/"
	} else {
		upload = *gh.UploadURL
		if upload.Host == "api.github.com" {
			upload.Host, upload.Path = "uploads.github.com", "/"
		}
	}
	return gh.BaseURL, &upload, nil
}

// Stats returns what the client sent so far.
func (c *Client) Stats() Stats {
	return Stats{
		Requests:       c.stats.requests.Load(),
		Writes:         c.stats.writes.Load(),
		Retries:        c.stats.retries.Load(),
		Waited:         time.Duration(c.stats.waited.Load()),
		TokenRefreshes: c.minted.Load(),
	}
}

// do runs one go-github call. go-github refuses calls locally while the last
// answer it saw left no requests in the primary rate limit window; do then
// waits for the reset (if within MaxWait), refreshes go-github's view with
// GET /rate_limit, which does not count against the limit, and calls again.
// Rate limit errors wrap ErrRateLimited.
func (c *Client) do(ctx context.Context, call func() (*github.Response, error)) error {
	var err, refreshErr error
	policy := retry.Policy{Base: backoffBase, Cap: backoffCap, MaxRetries: 2, Sleep: c.sleep,
		Notify: func(_ int, wait time.Duration) { c.stats.waited.Add(int64(wait)) }}
	derr := policy.Do(ctx, func(attempt int) retry.Verdict {
		if attempt > 0 {
			if _, _, refreshErr = c.gh.RateLimit.Get(ctx); refreshErr != nil {
				return retry.Stop()
			}
		}
		_, err = call()
		var rle *github.RateLimitError
		if err == nil || !errors.As(err, &rle) || !refusedLocally(rle.Response) {
			return retry.Stop()
		}
		wait := rle.Rate.Reset.Time.Sub(c.now()) + time.Second
		switch {
		case wait > c.maxWait:
			return retry.Stop()
		case wait <= 0:
			return retry.Now()
		}
		return retry.AtLeast(wait)
	})
	switch {
	case derr != nil:
		return derr
	case refreshErr != nil:
		return fmt.Errorf("refresh rate limit: %w", refreshErr)
	case err == nil:
		return nil
	}
	var (
		rle *github.RateLimitError
		are *github.AbuseRateLimitError
	)
	if errors.As(err, &rle) || errors.As(err, &are) {
		return fmt.Errorf("%w: %w", ErrRateLimited, err)
	}
	return err
}

// refusedLocally reports whether go-github answered a rate limit error
// itself, without a request: its made-up response has no rate headers.
func refusedLocally(resp *http.Response) bool {
	return resp != nil && resp.Header.Get("X-RateLimit-Limit") == ""
}

// redact replaces the credentials in err's message; the chain stays
// available to errors.Is and errors.As.
func (c *Client) redact(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	redacted := msg
	secrets := c.secrets.all()
	if c.token != "" {
		secrets = append(secrets, c.token)
	}
	for _, s := range secrets {
		redacted = strings.ReplaceAll(redacted, s, "[REDACTED]")
	}
	if redacted == msg {
		return err
	}
	return &redactedError{msg: redacted, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
