package promote

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/ferrygitops/ferry/deploy"
	"github.com/ferrygitops/ferry/deploy/health"
	"github.com/ferrygitops/ferry/dotferry"
)

// Gate states.
const (
	Passed  = "passed"
	Pending = "pending"
	Failed  = "failed"
)

// Gate is one check of a promotion and its outcome.
type Gate struct {
	Name   string `json:"name"` // synced, healthy, soak, verification, rejected
	State  string `json:"state"`
	Detail string `json:"detail"`
}

// Label keys on verification Jobs.
const (
	LabelPromotion = "ferry.dev/promotion"
	LabelRevision  = "ferry.dev/revision"
)

// syncedGates checks that staging's newest sync Succeeded and that every
// object is Current now; it returns the gates and the revision.
func syncedGates(st deploy.AppStatus) ([]Gate, string) {
	rev := st.Revision
	var last *deploy.Record
	for i := range st.History {
		if !st.History[i].DryRun {
			last = &st.History[i]
			break
		}
	}
	switch {
	case rev == "" || last == nil:
		return []Gate{{Name: "synced", State: Pending, Detail: "staging has not been synced yet"}}, ""
	case last.Result != deploy.Succeeded:
		detail := fmt.Sprintf("staging's last sync (%s) ended %s", short(last.Revision), last.Result)
		if last.Reason != "" {
			detail += " (" + string(last.Reason) + ")"
		}
		return []Gate{{Name: "synced", State: Failed, Detail: detail}}, last.Revision
	case !last.Healthy():
		return []Gate{{Name: "synced", State: Failed, Detail: fmt.Sprintf("staging's last sync (%s) did not end with every object Current", short(last.Revision))}}, rev
	}
	gates := []Gate{{Name: "synced", State: Passed, Detail: "staging is at " + short(rev)}}
	var unhealthy []string
	for _, o := range st.Objects {
		if o.Health != health.Current {
			msg := o.ObjectKey.String() + " " + o.Health
			if o.Message != "" {
				msg += ": " + o.Message
			}
			unhealthy = append(unhealthy, msg)
		}
	}
	if len(unhealthy) > 0 {
		if len(unhealthy) > 3 {
			unhealthy = append(unhealthy[:3], fmt.Sprintf("and %d more", len(unhealthy)-3))
		}
		return append(gates, Gate{Name: "healthy", State: Failed, Detail: "not healthy now: " + strings.Join(unhealthy, "; ")}), rev
	}
	return gates, rev
}

// healthySince is the end of the oldest sync of the unbroken run, newest
// first, of healthy successful syncs whose revision runs the same versions
// (same(rev) says; commits that change nothing staging runs do not restart
// the soak).
func healthySince(st deploy.AppStatus, same func(rev string) bool) time.Time {
	var since time.Time
	for _, r := range st.History {
		if r.DryRun {
			continue
		}
		if r.Result != deploy.Succeeded || !r.Healthy() || !same(r.Revision) {
			break
		}
		since = r.Finished
	}
	return since
}

// soakGate checks the soak; its detail does not change with the clock once
// passed (it is part of the pull request's body).
func soakGate(since time.Time, soak time.Duration, now time.Time) Gate {
	if left := soak - now.Sub(since); left > 0 {
		return Gate{Name: "soak", State: Pending, Detail: fmt.Sprintf("healthy since %s; soaking, %s of %s left", since.UTC().Format(time.RFC3339), left.Round(time.Second), soak)}
	}
	return Gate{Name: "soak", State: Passed, Detail: fmt.Sprintf("healthy since %s, longer than the soak of %s", since.UTC().Format(time.RFC3339), soak)}
}

// JobName is the verification Job of promotion name for the versions
// staging runs (VersionKey): one Job per version, whatever the commit.
func JobName(name, key string) string {
	n := "ferry-verify-" + name + "-" + short(key)
	if len(n) > 63 {
		sum := sha256.Sum256([]byte(n))
		n = n[:50] + "-" + hex.EncodeToString(sum[:])[:12]
	}
	return n
}

// verifyJob runs (or finds) the verification Job of the revision.
func verifyJob(ctx context.Context, opts Options, p dotferry.Promotion, staging dotferry.App, rev, key string, template []byte) Gate {
	g := Gate{Name: "verification"}
	if opts.Kube == nil {
		g.State, g.Detail = Failed, "the promotion asks for a verification Job but Ferry has no client for staging's cluster"
		return g
	}
	var job batchv1.Job
	if err := yaml.UnmarshalStrict(template, &job); err != nil {
		g.State, g.Detail = Failed, fmt.Sprintf("reading the Job template %s: %v", p.Job, err)
		return g
	}
	if job.Kind != "Job" || job.APIVersion != "batch/v1" {
		g.State, g.Detail = Failed, fmt.Sprintf("the Job template %s must be one batch/v1 Job, got %s %s", p.Job, job.APIVersion, job.Kind)
		return g
	}
	ns := job.Namespace
	if ns == "" {
		ns = staging.Namespace
	}
	if ns == "" {
		ns = "default"
	}
	name := JobName(p.Name, key)
	jobs := opts.Kube.BatchV1().Jobs(ns)
	live, err := jobs.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if opts.DryRun {
			g.State, g.Detail = Pending, fmt.Sprintf("would start Job %s/%s", ns, name)
			return g
		}
		job.Name, job.Namespace, job.GenerateName = name, ns, ""
		if job.Labels == nil {
			job.Labels = map[string]string{}
		}
		job.Labels[LabelPromotion] = p.Name
		job.Labels[LabelRevision] = short(rev)
		if p.JobTimeout > 0 {
			secs := int64(p.JobTimeout / time.Second)
			job.Spec.ActiveDeadlineSeconds = &secs
		}
		if job.Spec.Template.Spec.RestartPolicy == "" {
			job.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
		}
		live, err = jobs.Create(ctx, &job, metav1.CreateOptions{FieldManager: "ferry"})
		if apierrors.IsAlreadyExists(err) {
			live, err = jobs.Get(ctx, name, metav1.GetOptions{})
		}
	}
	switch {
	case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
		g.State, g.Detail = Failed, fmt.Sprintf("the Job template %s is refused by the API server: %v", p.Job, err)
		return g
	case err != nil:
		g.State, g.Detail = Pending, fmt.Sprintf("verification Job %s/%s: %v", ns, name, err)
		return g
	}
	for _, c := range live.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			g.State, g.Detail = Passed, fmt.Sprintf("Job %s/%s completed", ns, name)
			return g
		case batchv1.JobFailed:
			g.State, g.Detail = Failed, fmt.Sprintf("Job %s/%s failed: %s %s", ns, name, c.Reason, c.Message)
			return g
		}
	}
	g.State, g.Detail = Pending, fmt.Sprintf("Job %s/%s is running", ns, name)
	return g
}

// verifyHTTP makes the HTTP check. Details name the URL without its
// userinfo and query, which may hold credentials.
func verifyHTTP(ctx context.Context, client *http.Client, p dotferry.Promotion) Gate {
	g := Gate{Name: "verification"}
	shown := p.HTTP
	if u, err := url.Parse(p.HTTP); err == nil {
		u.User, u.RawQuery, u.Fragment = nil, "", ""
		shown = u.String()
	}
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.HTTP, nil)
	if err != nil {
		g.State, g.Detail = Failed, fmt.Sprintf("GET %s: invalid request", shown)
		return g
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue interface{ Timeout() bool }
		if errors.As(err, &ue) && ue.Timeout() {
			g.State, g.Detail = Failed, fmt.Sprintf("GET %s timed out", shown)
			return g
		}
		var ue2 *url.Error
		if errors.As(err, &ue2) {
			err = ue2.Err // its message repeats the whole URL
		}
		g.State, g.Detail = Failed, fmt.Sprintf("GET %s: %v", shown, err)
		return g
	}
	resp.Body.Close()
	if resp.StatusCode != p.Status {
		g.State, g.Detail = Failed, fmt.Sprintf("GET %s answered %d, want %d", shown, resp.StatusCode, p.Status)
		return g
	}
	g.State, g.Detail = Passed, fmt.Sprintf("GET %s answered %d", shown, resp.StatusCode)
	return g
}

func short(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}
