package service

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/ferrygitops/ferry/internal/testenv/kube"
)

// fastElection makes a lost lease show within a second or two.
var fastElection = Options{LeaseDuration: 2 * time.Second, RenewDeadline: time.Second, RetryPeriod: 200 * time.Millisecond}

// steal makes "thief" the holder of the Lease for d.
func steal(t *testing.T, cs kubernetes.Interface, ns, name string, d time.Duration) {
	t.Helper()
	ctx := context.Background()
	waitFor(t, "a holder of the lease", func() bool {
		l, err := cs.CoordinationV1().Leases(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil || ptr.Deref(l.Spec.HolderIdentity, "") == "" {
			return false
		}
		now := metav1.NewMicroTime(time.Now())
		l.Spec = coordinationv1.LeaseSpec{HolderIdentity: ptr.To("thief"), LeaseDurationSeconds: ptr.To(int32(d / time.Second)),
			AcquireTime: &now, RenewTime: &now, LeaseTransitions: ptr.To(ptr.Deref(l.Spec.LeaseTransitions, 0) + 1)}
		_, err = cs.CoordinationV1().Leases(ns).Update(ctx, l, metav1.UpdateOptions{})
		return err == nil
	})
}

func holder(cs kubernetes.Interface, ns, name string) string {
	l, err := cs.CoordinationV1().Leases(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return ""
	}
	return ptr.Deref(l.Spec.HolderIdentity, "")
}

// gate is a registry proxy that can hold tag listings and counts how many
// are in flight at once.
type gate struct {
	mu               sync.Mutex
	hold             bool
	release          chan struct{}
	inFlight, maxNow int
	*httptest.Server
}

func newGate(t *testing.T, registryHost string) *gate {
	g := &gate{release: make(chan struct{})}
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: registryHost})
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/tags/list") {
			g.mu.Lock()
			g.inFlight++
			g.maxNow = max(g.maxNow, g.inFlight)
			hold, release := g.hold, g.release
			g.mu.Unlock()
			defer func() { g.mu.Lock(); g.inFlight--; g.mu.Unlock() }()
			if hold {
				<-release
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(g.Close)
	t.Cleanup(g.open)
	return g
}

func (g *gate) Host() string { return strings.TrimPrefix(g.URL, "http://") }

func (g *gate) close() { g.mu.Lock(); g.hold = true; g.mu.Unlock() }

func (g *gate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.hold {
		g.hold = false
		close(g.release)
		g.release = make(chan struct{})
	}
}

func (g *gate) counts() (inFlight, max int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.inFlight, g.maxNow
}

// A replica that loses the lease while a cycle runs and could regain it
// within the cycle's grace period does not start a second cycle on the
// same clone before the first one ended.
func TestLeadershipIsNotReentrant(t *testing.T) {
	c := kube.Shared(t)
	cs := kubernetes.NewForConfigOrDie(c.Config())
	ns := c.Namespace(t)
	f := newFixture(t)
	g := newGate(t, f.reg.Host)
	g.close()
	f.repo("one", map[string]string{
		".ferry/policies.yaml": strings.ReplaceAll(apiPolicy, "HOST", g.Host()),
		"apps/api/deploy.yaml": strings.ReplaceAll(apiDeployment, "HOST", g.Host()),
	})
	r := f.start(fmt.Sprintf(`kind: RunConfig
listen: LISTEN
schedule: {interval: 1h, jitter: 0s}
repos: [%s]
leaderElection: {enabled: true, namespace: %s, name: ferry}
sync: {kubeconfig: %s}
`, f.pullRepo("one", "main"), ns, c.Kubeconfig()), fastElection)
	waitFor(t, "the first cycle to list tags", func() bool { n, _ := g.counts(); return n == 1 })
	steal(t, cs, ns, "ferry", time.Second)
	// The thief's lease lapses after a second: the replica could lead
	// again at once, while its first cycle still waits in the registry.
	time.Sleep(6 * time.Second)
	if _, most := g.counts(); most != 1 {
		t.Fatalf("%d tag listings at once: a second term started while the first term's cycle ran", most)
	}
	g.open()
	waitFor(t, "the replica to lead again", func() bool { h := holder(cs, ns, "ferry"); return h != "thief" && h != "" })
	r.waitReady()
	waitFor(t, "the pull request", func() bool { return len(f.gh.PullRequests("acme", "one")) == 1 })
	if _, most := g.counts(); most != 1 {
		t.Errorf("%d tag listings at once", most)
	}
}

// A replica that lost the lease triggers nothing from webhooks: neither
// cycles nor syncs.
func TestFormerLeaderTriggersNothing(t *testing.T) {
	c := kube.Shared(t)
	cs := kubernetes.NewForConfigOrDie(c.Config())
	ns := c.Namespace(t)
	f := newFixture(t)
	f.repo("one", map[string]string{".ferry/apps.yaml": appDoc("former", "app", ns), "app/cm.yaml": configMap("cm", "v1")})
	r := f.start(fmt.Sprintf(`kind: RunConfig
listen: LISTEN
schedule: {interval: 1h, jitter: 0s}
repos: [%s]
webhooks: {githubSecretFile: %s}
leaderElection: {enabled: true, namespace: %s, name: ferry}
sync: {enabled: true, kubeconfig: %s, interval: 1h}
`, f.pullRepo("one", "main"), f.file("gh-secret", "hook-secret"), ns, c.Kubeconfig()), fastElection)
	waitFor(t, "the first sync", func() bool { return cmValue(cs, ns, "cm") == "v1" })
	r.waitReady()

	steal(t, cs, ns, "ferry", time.Hour)
	time.Sleep(3 * time.Second) // the renewal deadline passes: the replica steps down
	head := f.git.Commit("one", "main", "v2", map[string]string{"app/cm.yaml": configMap("cm", "v2")})
	if code := r.githubPush("hook-secret", "acme/one", "main", head); code == http.StatusOK {
		t.Errorf("a replica that does not lead accepted a push webhook")
	}
	time.Sleep(5 * time.Second)
	if v := cmValue(cs, ns, "cm"); v != "v1" {
		t.Errorf("ConfigMap = %q: a replica that does not lead synced", v)
	}
}
