package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ferrygitops/ferry/gitrepo"
)

// FieldManager is the server-side apply field manager of every write.
const FieldManager = "ferry"

// Labels and annotations Ferry reads and writes.
const (
	// LabelApp marks every object a sync applies with the app's name.
	LabelApp = "ferry.dev/app"
	// AnnotationAppliedHash holds a hash of the object as rendered; a
	// sync skips objects whose hash and live fields are unchanged.
	AnnotationAppliedHash = "ferry.dev/applied-hash"
	// AnnotationPrune set to "disabled" keeps an object from being pruned.
	AnnotationPrune = "ferry.dev/prune"
)

// Defaults of Options and SyncOptions.
const (
	DefaultTimeout       = 5 * time.Minute
	DefaultLeaseDuration = 30 * time.Second
	DefaultLockTimeout   = 2 * time.Minute
	DefaultConcurrency   = 16
	DefaultHistory       = 10
	DefaultRetryTimeout  = time.Minute
)

// Options configure a Syncer.
type Options struct {
	// WorkDir keeps one clone per repository and branch (and kustomize
	// trees) between renders; "" means a temporary directory that Close
	// removes. Two Syncers (or ReadApps) must not use one WorkDir at the
	// same time.
	WorkDir string
	// GitAuth authenticates every clone and fetch.
	GitAuth gitrepo.Auth
	// GitDepth limits clones to that many commits; 0 clones the whole
	// history, which Rollback to old revisions needs.
	GitDepth int

	// Namespace holds the inventory, record and sync lease of every app
	// that names no spec.destination.inventoryNamespace: Ferry's own
	// namespace, so one Role there covers its bookkeeping. Default
	// DefaultNamespace(): the namespace of the pod Ferry runs in, else
	// DefaultInventoryNamespace.
	Namespace string

	// Identity is the lease holder identity; default HOSTNAME-PID. Every
	// acquisition adds a random suffix, so two syncs of one process
	// exclude each other too.
	Identity string
	// LeaseDuration is how long a sync's lease lasts without renewal
	// (renewed every third of it); default DefaultLeaseDuration.
	LeaseDuration time.Duration
	// LockTimeout bounds the wait for another sync of the same app to
	// finish; default DefaultLockTimeout; negative: do not wait.
	LockTimeout time.Duration

	// Concurrency is the number of parallel dry-runs, applies and
	// deletes; default DefaultConcurrency.
	Concurrency int
	// History is the number of sync records kept per app; default
	// DefaultHistory.
	History int
	// RetryTimeout bounds the retries of one API request on transient
	// errors (connection refused or reset, 429, 5xx, timeouts); default
	// DefaultRetryTimeout; negative: no retries.
	RetryTimeout time.Duration

	// Log receives progress and drift reports; default discards.
	Log *slog.Logger
	// Now stamps records; default time.Now. Leases always use the real
	// clock.
	Now func() time.Time
	// OnTick, if set, is called after every Watch tick.
	OnTick func(Tick)
	// RevertPR opens a revert pull request for Syncer.RevertPR; nil means
	// the build has no forge integration (ErrNoRevertPR).
	RevertPR RevertPRFunc
}

// Syncer renders, diffs, applies, prunes and records apps on one cluster.
// It is safe for concurrent use; syncs of one app exclude each other
// through a Lease in the cluster, across processes too.
type Syncer struct {
	opts    Options
	log     *slog.Logger
	dyn     dynamic.Interface
	core    kubernetes.Interface
	disc    discovery.CachedDiscoveryInterface
	mapper  *restmapper.DeferredDiscoveryRESTMapper
	calls   *callCounter
	git     *gitCache
	tempDir string

	resetMu   sync.Mutex
	lastReset time.Time

	// forbiddenLists holds the cluster-scoped resources (GVRs) RBAC does
	// not let the Syncer list; their objects are read one by one.
	forbiddenLists sync.Map
}

// New returns a Syncer talking to the cluster of cfg. A cfg without a rate
// limit (QPS 0) gets QPS 100, burst 200 instead of client-go's 5 and 10.
func New(cfg *rest.Config, opts Options) (*Syncer, error) {
	if cfg == nil {
		return nil, errors.New("deploy: nil rest.Config")
	}
	if opts.LeaseDuration <= 0 {
		opts.LeaseDuration = DefaultLeaseDuration
	}
	if opts.LockTimeout == 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.History <= 0 {
		opts.History = DefaultHistory
	}
	if opts.RetryTimeout == 0 {
		opts.RetryTimeout = DefaultRetryTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace()
	} else if len(validation.IsDNS1123Label(opts.Namespace)) > 0 {
		return nil, fmt.Errorf("deploy: invalid namespace %q: want a DNS label", opts.Namespace)
	}
	if opts.Identity == "" {
		host, _ := os.Hostname()
		if host == "" {
			host = "ferry"
		}
		opts.Identity = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Syncer{opts: opts, log: log, calls: newCallCounter()}

	cfg = rest.CopyConfig(cfg)
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = 100, 200
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "ferry"
	}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &countingTransport{next: rt, c: s.calls} })
	var err error
	if s.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		return nil, fmt.Errorf("deploy: dynamic client: %w", err)
	}
	if s.core, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, fmt.Errorf("deploy: clientset: %w", err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("deploy: discovery client: %w", err)
	}
	s.disc = memory.NewMemCacheClient(dc)
	s.mapper = restmapper.NewDeferredDiscoveryRESTMapper(s.disc)

	dir := opts.WorkDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "ferry-deploy-"); err != nil {
			return nil, fmt.Errorf("deploy: %w", err)
		}
		s.tempDir = dir
	}
	s.git = newGitCache(dir, opts.GitAuth, opts.GitDepth)
	return s, nil
}

// Close removes the temporary work directory, if New made one.
func (s *Syncer) Close() error {
	if s.tempDir == "" {
		return nil
	}
	return os.RemoveAll(s.tempDir)
}

// serviceAccountNamespaceFile holds the namespace of the pod, mounted with
// the service account token.
const serviceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// DefaultNamespace returns the namespace Ferry keeps its bookkeeping in
// when Options.Namespace names none: the namespace of the pod it runs in
// (from the service account mount), else DefaultInventoryNamespace.
func DefaultNamespace() string { return namespaceFrom(serviceAccountNamespaceFile) }

func namespaceFrom(file string) string {
	if b, err := os.ReadFile(file); err == nil {
		if ns := strings.TrimSpace(string(b)); len(validation.IsDNS1123Label(ns)) == 0 {
			return ns
		}
	}
	return DefaultInventoryNamespace
}

// RESTConfig returns the rest.Config of a kubeconfig context: the
// in-cluster config when kubeconfig and context are empty and the process
// runs in a pod; otherwise the kubeconfig file (default $KUBECONFIG or
// ~/.kube/config) with context (default its current context).
func RESTConfig(kubeconfig, context string) (*rest.Config, error) {
	if kubeconfig == "" && context == "" && os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		cfg, err := rest.InClusterConfig()
		if err == nil {
			return cfg, nil
		}
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context})
	cfg, err := cc.ClientConfig()
	if err != nil {
		if context != "" {
			return nil, fmt.Errorf("kubeconfig context %q: %w", context, err)
		}
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return cfg, nil
}

// Stats counts the API requests a Syncer made, discovery included.
type Stats struct {
	Requests int64            `json:"requests"`
	Errors   int64            `json:"errors"` // transport errors and 5xx/429 answers
	ByMethod map[string]int64 `json:"byMethod"`
}

// Sub returns s minus an earlier snapshot.
func (s Stats) Sub(before Stats) Stats {
	out := Stats{Requests: s.Requests - before.Requests, Errors: s.Errors - before.Errors, ByMethod: map[string]int64{}}
	for m, n := range s.ByMethod {
		if d := n - before.ByMethod[m]; d != 0 {
			out.ByMethod[m] = d
		}
	}
	return out
}

// Stats returns the API requests made so far.
func (s *Syncer) Stats() Stats { return s.calls.snapshot() }

type callCounter struct {
	requests, errors atomic.Int64
	mu               sync.Mutex
	byMethod         map[string]int64
}

func newCallCounter() *callCounter { return &callCounter{byMethod: map[string]int64{}} }

func (c *callCounter) snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := Stats{Requests: c.requests.Load(), Errors: c.errors.Load(), ByMethod: make(map[string]int64, len(c.byMethod))}
	for k, v := range c.byMethod {
		st.ByMethod[k] = v
	}
	return st
}

type countingTransport struct {
	next http.RoundTripper
	c    *callCounter
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.c.requests.Add(1)
	m := req.Method
	if m == http.MethodPatch && strings.Contains(req.URL.RawQuery, "dryRun=") {
		m = "PATCH(dry-run)"
	}
	t.c.mu.Lock()
	t.c.byMethod[m]++
	t.c.mu.Unlock()
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		t.c.errors.Add(1)
	}
	return resp, err
}

// mapping returns the REST mapping of gvk, refreshing discovery once when
// the kind is unknown (a CRD installed since).
func (s *Syncer) mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	m, err := s.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil && meta.IsNoMatchError(err) && s.resetMapper(false) {
		m, err = s.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	return m, err
}

// resetMapper drops the cached discovery, at most once a second unless
// forced; it reports whether it did.
func (s *Syncer) resetMapper(force bool) bool {
	s.resetMu.Lock()
	defer s.resetMu.Unlock()
	if !force && time.Since(s.lastReset) < time.Second {
		return false
	}
	s.lastReset = time.Now()
	s.mapper.Reset()
	return true
}

func (s *Syncer) resource(m *meta.RESTMapping, namespace string) dynamic.ResourceInterface {
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return s.dyn.Resource(m.Resource).Namespace(namespace)
	}
	return s.dyn.Resource(m.Resource)
}

// retry runs fn until it succeeds, fails for good, or the retry budget is
// spent; transient failures (the API server restarting, overloaded, or
// timing out) are retried with backoff.
func (s *Syncer) retry(ctx context.Context, fn func() error) error {
	deadline := time.Now().Add(s.opts.RetryTimeout)
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || ctx.Err() != nil || s.opts.RetryTimeout < 0 || time.Now().Add(wait).After(deadline) {
			return err
		}
		// A 500 may be an etcd hiccup or a real failure (a full service
		// IP range): worth three tries, not the whole budget.
		if retry, limited := transient(err); !retry || limited && attempt >= 3 {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		if wait *= 2; wait > 2*time.Second {
			wait = 2 * time.Second
		}
	}
}

// transient reports whether err is worth retrying, and whether only a few
// times (limited).
func transient(err error) (retry, limited bool) {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false, false
	}
	if apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err) ||
		apierrors.IsServiceUnavailable(err) {
		return true, false
	}
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		return st.Status().Code >= 500, true
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.EPIPE) {
		return true, false
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true, false
	}
	msg := err.Error()
	for _, s := range []string{"connection refused", "connection reset", "http2: client connection lost", "http2: server sent GOAWAY", "use of closed network connection", "TLS handshake", "EOF"} {
		if strings.Contains(msg, s) {
			return true, false
		}
	}
	return false, false
}
