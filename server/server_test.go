package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var testNow = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// triggers records the events a server hands to Trigger.
type triggers struct {
	mu     sync.Mutex
	events []Event
}

func (tr *triggers) trigger(e Event) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.events = append(tr.events, e)
}

func (tr *triggers) got() []Event {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]Event(nil), tr.events...)
}

// newTestServer returns a server with every webhook enabled, as changed by
// mutate, and what it triggers.
func newTestServer(t *testing.T, mutate func(*Options)) (*Server, *triggers) {
	t.Helper()
	tr := &triggers{}
	opts := Options{
		GitHubSecret:  []byte("gh-secret"),
		ECRToken:      "ecr-token",
		RegistryToken: "registry-token",
		Trigger:       tr.trigger,
		Now:           func() time.Time { return testNow },
	}
	if mutate != nil {
		mutate(&opts)
	}
	return New(opts), tr
}

// request is one HTTP request in a table.
type request struct {
	method, path string
	body         []byte
	header       map[string]string
	chunked      bool // send without Content-Length
}

func serve(t *testing.T, h http.Handler, rq request) *httptest.ResponseRecorder {
	t.Helper()
	if rq.method == "" {
		rq.method = http.MethodPost
	}
	req := httptest.NewRequest(rq.method, rq.path, bytes.NewReader(rq.body))
	if rq.chunked {
		req.ContentLength = -1
	}
	for k, v := range rq.header {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func decodeResponse(t *testing.T, w *httptest.ResponseRecorder) webhookResponse {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q, want application/json; body %s", ct, w.Body)
	}
	var r webhookResponse
	if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
		t.Fatalf("response %q: %v", w.Body, err)
	}
	return r
}

func TestHealthz(t *testing.T) {
	s, _ := newTestServer(t, nil)
	w := serve(t, s.Handler(), request{method: http.MethodGet, path: "/healthz"})
	if w.Code != http.StatusOK || strings.TrimSpace(w.Body.String()) != "ok" {
		t.Fatalf("GET /healthz = %d %q", w.Code, w.Body)
	}
}

func TestReadyzFollowsReady(t *testing.T) {
	var ready atomic.Bool
	s, _ := newTestServer(t, func(o *Options) { o.Ready = ready.Load })
	for _, tc := range []struct {
		ready bool
		want  int
	}{{false, http.StatusServiceUnavailable}, {true, http.StatusOK}, {false, http.StatusServiceUnavailable}} {
		ready.Store(tc.ready)
		if w := serve(t, s.Handler(), request{method: http.MethodGet, path: "/readyz"}); w.Code != tc.want {
			t.Errorf("ready=%v: GET /readyz = %d, want %d", tc.ready, w.Code, tc.want)
		}
	}
	// Without a Ready func the server is ready.
	s, _ = newTestServer(t, nil)
	if w := serve(t, s.Handler(), request{method: http.MethodGet, path: "/readyz"}); w.Code != http.StatusOK {
		t.Errorf("no Ready func: GET /readyz = %d", w.Code)
	}
}

func TestRoutes(t *testing.T) {
	s, _ := newTestServer(t, nil)
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/webhooks/github", http.StatusMethodNotAllowed},
		{http.MethodPost, "/healthz", http.StatusMethodNotAllowed},
		{http.MethodGet, "/nope", http.StatusNotFound},
		{http.MethodHead, "/healthz", http.StatusOK},
	} {
		if w := serve(t, s.Handler(), request{method: tc.method, path: tc.path}); w.Code != tc.want {
			t.Errorf("%s %s = %d, want %d", tc.method, tc.path, w.Code, tc.want)
		}
	}
}

func TestServeShutsDownWhenContextEnds(t *testing.T) {
	s, _ := newTestServer(t, func(o *Options) { o.ShutdownTimeout = 5 * time.Second })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()

	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "ok" {
		t.Fatalf("GET /healthz = %d %q", resp.StatusCode, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve = %v after the context ended, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the context ended")
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		t.Fatal("the server still answers after shutdown")
	}
}

func TestListenAndServeReportsListenErrors(t *testing.T) {
	s, _ := newTestServer(t, func(o *Options) { o.Addr = "256.0.0.1:bad" })
	if err := s.ListenAndServe(context.Background()); err == nil {
		t.Fatal("ListenAndServe on a bad address returned nil")
	}
}

func TestSeenIDsIsBounded(t *testing.T) {
	s := newSeenIDs(2)
	for _, id := range []string{"a", "b"} {
		if !s.add(id) {
			t.Fatalf("add(%q) first time = false", id)
		}
	}
	if s.add("a") {
		t.Fatal("add(a) again = true")
	}
	s.add("c") // evicts b, the least recently seen
	if !s.add("b") {
		t.Fatal("b was not evicted")
	}
	if s.add("c") {
		t.Fatal("c was evicted")
	}
	s.forget("c")
	if !s.add("c") {
		t.Fatal("c was not forgotten")
	}
}

func TestEventLogKeepsTheNewest(t *testing.T) {
	l := NewEventLog(3)
	for i, s := range []string{"one", "two", "three", "four"} {
		l.Record(EventRecord{Time: testNow.Add(time.Duration(i) * time.Second), Source: "test", Summary: s})
	}
	var got []string
	for _, r := range l.Recent() {
		got = append(got, r.Summary)
	}
	if strings.Join(got, ",") != "four,three,two" {
		t.Fatalf("Recent = %v, want four,three,two", got)
	}
	var zero EventLog
	zero.Add("cycle", "ran", false)
	if r := zero.Recent(); len(r) != 1 || r[0].Time.IsZero() {
		t.Fatalf("zero EventLog: Recent = %+v", r)
	}
}

func TestEventSummary(t *testing.T) {
	for _, tc := range []struct {
		ev   Event
		want string
	}{
		{Event{Kind: KindImage, Repository: "r.example.com/acme/web", Tag: "1.2.3", Digest: "sha256:0123456789abcdef0123"}, "pushed r.example.com/acme/web:1.2.3 (sha256:0123456789ab)"},
		{Event{Kind: KindPush, Branch: "main", Commit: "0123456789abcdef0123456789abcdef01234567"}, "push to main at 0123456789ab"},
		{Event{Kind: KindMerged, Branch: "ferry/web", PullNumber: 7}, "pull request #7 (ferry/web) merged"},
	} {
		if got := tc.ev.Summary(); got != tc.want {
			t.Errorf("Summary = %q, want %q", got, tc.want)
		}
	}
}
