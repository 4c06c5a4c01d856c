package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ferrygitops/ferry/internal/retry"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// mapping returns the REST mapping of gvk, refreshing discovery once when
// the kind is unknown (a CRD installed since).
func (s *Syncer) mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	m, err := s.lookupMapping(gvk)
	if err != nil && meta.IsNoMatchError(err) {
		// Reset now, or see the reset another caller made in the last
		// second (resetMapper waits for one under way).
		s.resetMapper(false)
		m, err = s.lookupMapping(gvk)
	}
	return m, err
}

// mappingCache remembers the RESTMappings found since the discovery was
// last reset: the deferred mapper searches every group's resources on each
// call, and a sync of 4,000 objects asks for a handful of kinds thousands
// of times.
type mappingCache struct {
	mu  sync.Mutex
	gen uint64 // resets so far
	m   map[schema.GroupVersionKind]*meta.RESTMapping
}

// lookupMapping is the mapper's RESTMapping of gvk, remembered until the
// next reset. Callers must not change the mapping.
func (s *Syncer) lookupMapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	c := &s.mappings
	c.mu.Lock()
	m, gen := c.m[gvk], c.gen
	c.mu.Unlock()
	if m != nil {
		return m, nil
	}
	m, err := s.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.gen == gen { // not found before a reset
		if c.m == nil {
			c.m = map[schema.GroupVersionKind]*meta.RESTMapping{}
		}
		c.m[gvk] = m
	}
	c.mu.Unlock()
	return m, nil
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
	s.mappings.mu.Lock()
	s.mappings.gen++
	s.mappings.m = nil
	s.mappings.mu.Unlock()
	return true
}

func (s *Syncer) resource(m *meta.RESTMapping, namespace string) dynamic.ResourceInterface {
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return s.dyn.Resource(m.Resource).Namespace(namespace)
	}
	return s.dyn.Resource(m.Resource)
}

// retry runs fn until it succeeds, fails for good, or the retry budget
// (Options.RetryTimeout) is spent; transient failures (the API server
// restarting, overloaded, or timing out) are retried with capped, jittered
// exponential backoff (internal/retry, as for registries and GitHub),
// waiting at least as long as a 429's Retry-After asks. It returns fn's last
// error.
func (s *Syncer) retry(ctx context.Context, fn func() error) error {
	p := retry.Policy{Base: 100 * time.Millisecond, Cap: 2 * time.Second, MaxRetries: -1, MaxElapsed: s.opts.RetryTimeout}
	if s.opts.RetryTimeout <= 0 {
		p.MaxRetries = 0
	}
	var err error
	_ = p.Do(ctx, func(attempt int) retry.Verdict {
		err = fn()
		again, limited := transient(err)
		// A 500 may be an etcd hiccup or a real failure (a full service
		// IP range): worth three tries, not the whole budget.
		if !again || limited && attempt >= 2 {
			return retry.Stop()
		}
		if d, ok := apierrors.SuggestsClientDelay(err); ok {
			return retry.AtLeast(time.Duration(d) * time.Second)
		}
		return retry.Again()
	})
	return err
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

// scoper resolves the scope of the kinds a render does not know through
// the cluster's RESTMapper.
type scoper struct{ s *Syncer }

func (sc scoper) Namespaced(gvk schema.GroupVersionKind) (bool, error) {
	m, err := sc.s.mapping(gvk)
	if meta.IsNoMatchError(err) {
		return false, fmt.Errorf("the cluster has no kind %s in %s (is its CRD installed?)", gvk.Kind, gvk.GroupVersion())
	}
	if err != nil {
		return false, err
	}
	return m.Scope.Name() == meta.RESTScopeNameNamespace, nil
}

func scopedNamespace(m *meta.RESTMapping, ns string) string {
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return ns
	}
	return ""
}

// ErrUnreachable is returned (wrapped, naming the server) when the API
// server does not answer within Options.ConnectTimeout.
var ErrUnreachable = errors.New("cannot reach the Kubernetes API server")

// recentAnswer is how recent an answer of the API server must be for an
// operation to skip the reachability probe.
const recentAnswer = 10 * time.Second

// reachable probes the API server (GET /version) unless it answered in the
// last few seconds, retrying for up to Options.ConnectTimeout while it
// does not answer at all; any HTTP answer, an error status included,
// means it is there.
func (s *Syncer) reachable(ctx context.Context) error {
	if time.Since(time.Unix(0, s.lastAnswer.Load())) < recentAnswer {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.ConnectTimeout)
	defer cancel()
	wait := 100 * time.Millisecond
	for {
		err := s.disco.Get().AbsPath("/version").Do(ctx).Error()
		var st apierrors.APIStatus
		if err == nil || errors.As(err, &st) && st.Status().Code != 0 {
			return nil
		}
		s.log.Debug("the API server does not answer; retrying", "server", s.host, "error", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			if parent := context.Cause(ctx); parent != nil && !errors.Is(parent, context.DeadlineExceeded) {
				return parent
			}
			return fmt.Errorf("%w at %s (tried for %s): %w", ErrUnreachable, s.host, s.opts.ConnectTimeout, rootCause(err))
		case <-t.C:
		}
		wait = min(wait*2, time.Second)
	}
}

// rootCause strips the URL-and-method wrapping of a transport error, which
// repeats the server's address.
func rootCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
