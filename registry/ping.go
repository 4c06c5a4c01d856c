package registry

import (
	"net/http"
	"sync"
	"time"
)

// pingTTL is how long a registry's answer to the ping (GET /v2/) is reused:
// long enough for one scan, listing and digests included, so a scan pings
// each registry once; short enough that a long-running `ferry run` notices
// a registry that changed its authentication.
const pingTTL = 10 * time.Minute

// pingCache remembers registries' answers to the unauthenticated ping that
// go-containerregistry sends before every handshake (transport.Ping, and
// transport.NewWithContext for each batch of scopes), so that a scan pings
// each registry once. Only the challenge matters to the handshake (status
// and WWW-Authenticate), and only 200 and 401 answers are reused; errors
// and other statuses go through every time.
type pingCache struct {
	next http.RoundTripper
	now  func() time.Time

	mu      sync.Mutex
	entries map[string]*pingEntry // by scheme://host
}

type pingEntry struct {
	mu      sync.Mutex // held while the one real ping of the entry is in flight
	status  int
	header  http.Header
	expires time.Time
}

func newPingCache(next http.RoundTripper) *pingCache {
	return &pingCache{next: next, now: time.Now, entries: map[string]*pingEntry{}}
}

func isPing(req *http.Request) bool {
	return req.Method == http.MethodGet && req.URL.Path == "/v2/" && req.URL.RawQuery == "" &&
		req.Header.Get("Authorization") == ""
}

func (c *pingCache) RoundTrip(req *http.Request) (*http.Response, error) {
	if !isPing(req) {
		return c.next.RoundTrip(req)
	}
	key := req.URL.Scheme + "://" + req.URL.Host
	c.mu.Lock()
	e, ok := c.entries[key]
	if !ok {
		e = &pingEntry{}
		c.entries[key] = e
	}
	c.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.status != 0 && c.now().Before(e.expires) {
		return &http.Response{
			Status: http.StatusText(e.status), StatusCode: e.status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: e.header.Clone(), Body: http.NoBody, ContentLength: 0, Request: req,
		}, nil
	}
	resp, err := c.next.RoundTrip(req)
	if err == nil && (resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized) {
		e.status, e.header, e.expires = resp.StatusCode, resp.Header.Clone(), c.now().Add(pingTTL)
	}
	return resp, err
}
