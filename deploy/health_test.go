package deploy

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/ferrygitops/ferry/deploy/health"
)

// requestLog records the requests a Syncer sends: method, path and
// query, through the rest.Config's transport.
type requestLog struct {
	mu   sync.Mutex
	reqs []string
}

func (l *requestLog) wrap(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			l.mu.Lock()
			l.reqs = append(l.reqs, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
			l.mu.Unlock()
			return rt.RoundTrip(r)
		})
	})
	return cfg
}

// count returns how many requests since from (an earlier len) match all
// of parts.
func (l *requestLog) count(from int, parts ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
next:
	for _, r := range l.reqs[from:] {
		for _, p := range parts {
			if !strings.Contains(r, p) {
				continue next
			}
		}
		n++
	}
	return n
}

func (l *requestLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.reqs)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// slowController marks every Deployment of the env's namespace rolled
// out delay after it first sees it not rolled out, until the test ends:
// a rollout that takes a while.
func slowController(e *env, delay time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	e.t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		seen := map[string]time.Time{}
		for ctx.Err() == nil {
			l, err := e.cs.AppsV1().Deployments(e.ns).List(ctx, metav1.ListOptions{})
			if err == nil {
				for i := range l.Items {
					d := &l.Items[i]
					key := fmt.Sprintf("%s/%d", d.Name, d.Generation)
					if d.Status.ObservedGeneration == d.Generation {
						continue
					}
					if first, ok := seen[key]; !ok {
						seen[key] = time.Now()
					} else if time.Since(first) >= delay {
						markReady(ctx, e.cs, d)
					}
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
}

func deployments(n int, image string) map[string]string {
	files := map[string]string{}
	for i := range n {
		files[fmt.Sprintf("app/d%d.yaml", i)] = deploymentYAML(fmt.Sprintf("d%d", i), image)
	}
	return files
}

// TestHealthWaitWatches: the health wait lists each resource once, then
// watches it, ending when the last object is rolled out rather than at
// the next poll; a change to a few objects watches just them from their
// apply, listing nothing; the wait ends Current either way.
func TestHealthWaitWatches(t *testing.T) {
	e := newEnv(t, deployments(6, "nginx:1.0"))
	var log requestLog
	e.s = syncerFor(t, log.wrap(e.c.Config()), Options{Namespace: e.ns})
	slowController(e, 1500*time.Millisecond)
	app := e.app("web", "app")

	from := log.len()
	rec := e.sync(app, SyncOptions{Timeout: time.Minute})
	if rec.Result != Succeeded || rec.Counts.Created != 6 {
		t.Fatalf("first sync: %s %+v", rec.Result, rec.Counts)
	}
	for _, o := range rec.Objects {
		if o.Health != health.Current {
			t.Errorf("%s/%s: health %s, want Current", o.Kind, o.Name, o.Health)
		}
	}
	lists := log.count(from, "GET /apis/apps/v1/namespaces/"+e.ns+"/deployments?", "labelSelector=")
	watches := log.count(from, "GET /apis/apps/v1/namespaces/"+e.ns+"/deployments?", "watch=true")
	// Polling (250 ms, then doubling) would list four times within the
	// 1.5 s rollout; one List for the plan, one for the wait, one watch.
	if watches != 1 || lists-watches != 2 {
		t.Errorf("first sync: %d Lists and %d watches of the Deployments, want 2 and 1", lists-watches, watches)
	}

	e.commit("one image", map[string]string{"app/d3.yaml": deploymentYAML("d3", "nginx:1.1")})
	from = log.len()
	rec = e.sync(app, SyncOptions{Timeout: time.Minute})
	if rec.Result != Succeeded || rec.Counts.Configured != 1 {
		t.Fatalf("one-image sync: %s %+v", rec.Result, rec.Counts)
	}
	for _, o := range rec.Objects {
		if o.Name == "d3" && o.Health != health.Current {
			t.Errorf("d3: health %s, want Current", o.Health)
		}
	}
	one := log.count(from, "/deployments?", "watch=true", "fieldSelector=metadata.name%3Dd3")
	all := log.count(from, "/deployments?", "watch=true")
	if one != 1 || all != 1 {
		t.Errorf("one-image sync: %d watches of d3, %d in all; want 1 and 1", one, all)
	}
}

// TestHealthWaitPollsWithoutWatch: with RBAC that grants no watch (as an
// older install/ did), the wait polls with Lists and still ends Current;
// the refused watch is asked once per resource, not once per poll.
func TestHealthWaitPollsWithoutWatch(t *testing.T) {
	e := newEnv(t, deployments(5, "nginx:1.0"))
	user := "ferry-no-watch"
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: user}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get", "list", "create", "patch", "delete"}},
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "create", "update"}},
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "create", "update"}},
		{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get"}},
	}}
	if _, err := e.cs.RbacV1().Roles(e.ns).Create(e.ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cs.RbacV1().RoleBindings(e.ns).Create(e.ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: user},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: user},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: user}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var log requestLog
	e.s = syncerFor(t, log.wrap(e.c.ConfigFor(user)), Options{Namespace: e.ns})
	slowController(e, time.Second)
	app := e.app("web", "app")
	// RBAC takes a moment to apply: the first attempts may be refused.
	var rec Record
	for deadline := time.Now().Add(10 * time.Second); ; {
		var err error
		rec, err = e.s.Sync(e.ctx, app, SyncOptions{Timeout: time.Minute})
		if err == nil || time.Now().After(deadline) {
			if err != nil {
				t.Fatal(err)
			}
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, o := range rec.Objects {
		if o.Health != health.Current {
			t.Errorf("%s/%s: health %s, want Current", o.Kind, o.Name, o.Health)
		}
	}
	if n := log.count(0, "/deployments?", "watch=true"); n != 1 {
		t.Errorf("%d watches asked for, want 1 (refused, then polling)", n)
	}
	if n := log.count(0, "/deployments?", "labelSelector=") - log.count(0, "/deployments?", "watch=true"); n < 3 {
		t.Errorf("%d Lists, want the plan's and at least two polls", n)
	}
}
