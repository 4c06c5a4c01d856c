package server

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Defaults of Options.
const (
	DefaultAddr            = ":8080"
	DefaultECRTokenHeader  = "X-Ferry-Token"
	DefaultMaxBodyBytes    = 1 << 20
	DefaultShutdownTimeout = 10 * time.Second
)

// Options configure a Server. Only Trigger is needed for the webhooks to do
// anything; every other field has a usable zero value.
type Options struct {
	Addr string // listen address; default ":8080"

	// GitHubSecret is the webhook secret GitHub signs deliveries with
	// (X-Hub-Signature-256). Empty: /webhooks/github is disabled (404).
	GitHubSecret []byte
	// ECRToken is the shared secret an EventBridge API destination sends
	// in the ECRTokenHeader header (an "API key" connection). Empty:
	// /webhooks/ecr is disabled (404).
	ECRToken string
	// ECRTokenHeader names the header carrying ECRToken; default
	// "X-Ferry-Token".
	ECRTokenHeader string
	// RegistryToken is the bearer token a Docker distribution registry
	// sends (notifications.endpoints[].headers: Authorization: [Bearer
	// <token>]). Empty: /webhooks/registry is disabled (404).
	RegistryToken string

	// Filter, if set, decides whether an event concerns this Ferry (a
	// configured repository and branch, a bot branch, an image a policy
	// governs): it returns "" to accept the event, else why it is
	// ignored; the delivery is then answered 202 with that reason and the
	// event is shown as ignored on the status page. Nil accepts every
	// event.
	Filter func(Event) (ignoredBecause string)
	// Standby, if set and true, makes webhooks that carry events answer
	// 503 with Retry-After: this replica does not lead (another one does
	// the work), so senders that retry (EventBridge, registries) reach
	// the leader on a later attempt. Nothing is triggered or recorded as
	// seen.
	Standby func() bool

	// Trigger is called once per accepted, non-duplicate event, on the
	// request's goroutine before the response is written. It must not
	// block: hand the event to a buffered channel or a coalescing
	// scheduler.
	Trigger func(Event)
	// Ready reports readiness for /readyz; nil: always ready.
	Ready func() bool
	// Status returns what the status page shows; nil: an empty snapshot.
	// When the returned Events is nil, the server's EventLog fills it.
	Status func() Snapshot
	// Metrics are served on /metrics and count webhooks; nil: New creates
	// a fresh set (Server.Metrics returns it).
	Metrics *Metrics
	// Events is where accepted webhook events are recorded for the status
	// page; nil: New creates one of DefaultEventLogSize.
	Events *EventLog
	// Routes are more handlers by mux pattern ("/ui/": the web UI).
	Routes map[string]http.Handler

	Log *slog.Logger     // nil: discard
	Now func() time.Time // nil: time.Now

	MaxBodyBytes    int64         // webhook body limit; default 1 MiB (413 beyond)
	DedupSize       int           // delivery IDs remembered; default 4096
	ShutdownTimeout time.Duration // graceful shutdown; default 10s
}

// Server serves Ferry's HTTP endpoints.
type Server struct {
	opts    Options
	log     *slog.Logger
	seen    *seenIDs
	started time.Time
	handler http.Handler
}

// New returns a Server for opts, with defaults filled in.
func New(opts Options) *Server {
	opts.Addr = cmp.Or(opts.Addr, DefaultAddr)
	opts.ECRTokenHeader = cmp.Or(opts.ECRTokenHeader, DefaultECRTokenHeader)
	if opts.Trigger == nil {
		opts.Trigger = func(Event) {}
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics()
	}
	if opts.Events == nil {
		opts.Events = NewEventLog(DefaultEventLogSize)
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = DefaultShutdownTimeout
	}
	s := &Server{opts: opts, log: opts.Log, seen: newSeenIDs(opts.DedupSize), started: opts.Now()}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", opts.Metrics.Handler())
	mux.HandleFunc("GET /{$}", s.statusPage)
	mux.HandleFunc("GET /status.json", s.statusJSON)
	mux.HandleFunc("POST /webhooks/ecr", s.ecr)
	mux.HandleFunc("POST /webhooks/registry", s.registry)
	mux.HandleFunc("POST /webhooks/github", s.github)
	for pattern, h := range opts.Routes {
		mux.Handle(pattern, h)
	}
	s.handler = mux
	return s
}

// Handler is the server's routes, for tests or for mounting elsewhere.
func (s *Server) Handler() http.Handler { return s.handler }

// Metrics returns the metrics the server serves on /metrics.
func (s *Server) Metrics() *Metrics { return s.opts.Metrics }

// Events returns the log of recent events shown on the status page.
func (s *Server) Events() *EventLog { return s.opts.Events }

// ListenAndServe listens on Options.Addr and serves until ctx ends, then
// shuts down gracefully: it stops accepting connections and waits up to
// ShutdownTimeout for requests in flight. It returns nil after a graceful
// shutdown.
func (s *Server) ListenAndServe(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.opts.Addr)
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

// Serve is ListenAndServe on a listener of the caller's; it closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	s.log.Info("http server listening", "addr", ln.Addr().String())

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.ShutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		s.log.Warn("http server shutdown", "error", err)
		hs.Close()
		return err
	}
	s.log.Info("http server stopped")
	return nil
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if s.opts.Ready != nil && !s.opts.Ready() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// writeJSON writes v with the status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}
