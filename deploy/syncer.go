package deploy

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferrygitops/ferry/internal/scratch"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/flowcontrol"

	"github.com/ferrygitops/ferry/deploy/inventory"
	"github.com/ferrygitops/ferry/deploy/render"
	"github.com/ferrygitops/ferry/gitrepo"
)

// FieldManager is the server-side apply field manager of every write.
const FieldManager = "ferry"

// Defaults of Options and SyncOptions.
const (
	DefaultTimeout       = 5 * time.Minute
	DefaultLeaseDuration = 30 * time.Second
	DefaultLockTimeout   = 2 * time.Minute
	DefaultConcurrency   = 16
	// DefaultQPS and DefaultBurst are the client-side rate limit of a
	// rest.Config that sets none: none (a negative QPS). A sync's load is
	// bounded by Concurrency, requests in flight, and the API server's
	// priority and fairness queues and sheds beyond that (429s are
	// retried after their Retry-After). A fixed rate made a first sync
	// of 4,000 objects wait on the client: at 500 per second it took
	// 17 s, without it 9 s (BENCHMARKS.md). client-go's own default, 5
	// per second, would take half an hour.
	DefaultQPS          = -1
	DefaultBurst        = 0
	DefaultHistory      = 10
	DefaultRetryTimeout = time.Minute
	// DefaultConnectTimeout bounds the wait for an API server that does
	// not answer at all.
	DefaultConnectTimeout = 5 * time.Second
)

// Options configure a Syncer.
type Options struct {
	// WorkDir keeps one clone per repository and branch (and kustomize
	// trees) between renders; "" means a temporary directory that Close
	// removes. Two Syncers (or ReadApps) must not use one WorkDir at the
	// same time.
	WorkDir string
	// ParseCache keeps the parsed manifest files in WorkDir/parsed for
	// later renders, of this process or of another with the same WorkDir
	// (render.ParseCache): worth it where renders repeat (`ferry run`,
	// `ferry sync --workdir`), a cost where a temporary WorkDir sees one.
	ParseCache bool
	// GitCredentials authenticate clones and fetches, each repository
	// with the credentials of its host only (an App naming another host
	// is cloned without any, and a failure says why).
	GitCredentials *gitrepo.Credentials
	// Namespace holds the inventory, record and sync lease of every app
	// that names no spec.destination.inventoryNamespace: Ferry's own
	// namespace, so one Role there covers its bookkeeping. Default
	// DefaultNamespace(): the namespace of the pod Ferry runs in, else
	// DefaultInventoryNamespace.
	Namespace string

	// GitDepth limits clones to that many commits; 0 clones the whole
	// history, which Rollback to old revisions needs.
	GitDepth int

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

	// Concurrency is the number of parallel lists, dry-runs, applies and
	// deletes; default DefaultConcurrency.
	Concurrency int
	// QPS and Burst override the rest.Config's client-side rate limit;
	// when both are 0 and the rest.Config sets none, DefaultQPS and
	// DefaultBurst apply. A negative QPS turns the limit off.
	QPS   float32
	Burst int
	// History is the number of sync records kept per app; default
	// DefaultHistory.
	History int
	// RetryTimeout bounds the retries of one API request on transient
	// errors (connection refused or reset, 429, 5xx, timeouts); default
	// DefaultRetryTimeout; negative: no retries.
	RetryTimeout time.Duration

	// ConnectTimeout bounds how long an operation tries to reach an API
	// server that has not answered lately (connection refused, no route,
	// TLS handshake, DNS) before failing with ErrUnreachable, naming the
	// server; default DefaultConnectTimeout. Once it answers, an outage in
	// the middle of a sync is ridden out for RetryTimeout instead.
	ConnectTimeout time.Duration

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

	// Secrets configures SOPS decryption and AWS Secrets Manager
	// references (secrets.go).
	Secrets SecretsOptions
}

// Syncer renders, diffs, applies, prunes and records apps on one cluster.
// It is safe for concurrent use; syncs of one app exclude each other
// through a Lease in the cluster, across processes too.
type Syncer struct {
	opts   Options
	log    *slog.Logger
	dyn    dynamic.Interface
	raw    rest.Interface // Lists (decodeList)
	core   kubernetes.Interface
	disc   discovery.CachedDiscoveryInterface
	mapper *restmapper.DeferredDiscoveryRESTMapper
	// mappings caches the mapper's answers (lookupMapping).
	mappings mappingCache
	calls    *callCounter
	clones   *render.Clones
	// parseCache keeps parsed manifest files in WorkDir; nil: none.
	parseCache *render.ParseCache
	store      inventory.Store
	tempDir    *scratch.Dir

	resetMu   sync.Mutex
	lastReset time.Time

	host       string       // the API server's URL, for errors
	lastAnswer atomic.Int64 // unix nanoseconds of the last HTTP answer
	disco      rest.Interface

	// forbiddenLists holds the cluster-scoped resources (GVRs) RBAC does
	// not let the Syncer list; their objects are read one by one.
	forbiddenLists sync.Map
	// forbiddenWatches holds the resources RBAC does not let the Syncer
	// watch; health waits poll them.
	forbiddenWatches sync.Map

	secrets secretsState // secrets.go
}

// New returns a Syncer talking to the cluster of cfg, with the rate limit
// of Options.QPS and Burst, else cfg's, else DefaultQPS and DefaultBurst.
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
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = DefaultConnectTimeout
	}
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace()
	} else if errs := validation.IsDNS1123Label(opts.Namespace); len(errs) > 0 {
		return nil, fmt.Errorf("deploy: invalid namespace %q: %s", opts.Namespace, strings.Join(errs, "; "))
	}
	if opts.Now == nil {
		opts.Now = time.Now
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
	switch {
	case opts.QPS != 0:
		cfg.QPS, cfg.Burst = opts.QPS, max(opts.Burst, int(opts.QPS))
	case cfg.QPS == 0:
		cfg.QPS, cfg.Burst = DefaultQPS, DefaultBurst
	}
	if opts.Burst > 0 {
		cfg.Burst = opts.Burst
	}
	if cfg.QPS > 0 && cfg.RateLimiter == nil {
		// One bucket for the dynamic, typed and discovery clients: each
		// would otherwise make its own, and --kube-qps 5 would let three
		// times 5 requests a second through.
		cfg.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(cfg.QPS, cfg.Burst)
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "ferry"
	}
	s.host = cfg.Host
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return &countingTransport{next: rt, c: s.calls, answered: &s.lastAnswer}
	})
	// The dynamic client and the raw client of Lists share one connection
	// pool.
	dcfg := dynamic.ConfigFor(cfg)
	dcfg.AcceptContentTypes = "application/json" // decodeList reads JSON
	hc, err := rest.HTTPClientFor(dcfg)
	if err != nil {
		return nil, fmt.Errorf("deploy: HTTP client: %w", err)
	}
	if s.dyn, err = dynamic.NewForConfigAndClient(cfg, hc); err != nil {
		return nil, fmt.Errorf("deploy: dynamic client: %w", err)
	}
	if s.raw, err = rest.UnversionedRESTClientForConfigAndClient(dcfg, hc); err != nil {
		return nil, fmt.Errorf("deploy: REST client: %w", err)
	}
	if s.core, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, fmt.Errorf("deploy: clientset: %w", err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("deploy: discovery client: %w", err)
	}
	s.disc = memory.NewMemCacheClient(dc)
	s.disco = dc.RESTClient()
	s.mapper = restmapper.NewDeferredDiscoveryRESTMapper(s.disc)

	dir := opts.WorkDir
	if dir == "" {
		if s.tempDir, err = scratch.New("ferry-deploy-"); err != nil {
			return nil, fmt.Errorf("deploy: %w", err)
		}
		dir = s.tempDir.Path
	}
	s.clones = render.NewClones(dir, opts.GitCredentials, opts.GitDepth)
	if opts.ParseCache {
		if s.parseCache, err = render.NewParseCache(filepath.Join(dir, "parsed")); err != nil {
			log.Warn("no parse cache; rendering parses every file", "dir", filepath.Join(dir, "parsed"), "error", err)
		}
	}
	s.store = inventory.Store{Client: s.core.CoreV1(), Retry: s.retry, FieldManager: FieldManager}
	return s, nil
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

// Close removes the temporary work directory, if New made one.
func (s *Syncer) Close() error {
	return s.tempDir.Close() // nil-safe
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
	next     http.RoundTripper
	c        *callCounter
	answered *atomic.Int64
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
	if err == nil {
		t.answered.Store(time.Now().UnixNano())
	}
	if err != nil || resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		t.c.errors.Add(1)
	}
	return resp, err
}
