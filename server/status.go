package server

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/ferrygitops/ferry/gitrepo"
	"github.com/ferrygitops/ferry/image"
)

// snapshot is the current Snapshot with the server's defaults filled in.
func (s *Server) snapshot() Snapshot {
	var snap Snapshot
	if s.opts.Status != nil {
		snap = s.opts.Status()
	}
	if snap.Started.IsZero() {
		snap.Started = s.started
	}
	if snap.Events == nil {
		snap.Events = s.opts.Events.Recent()
	}
	if snap.Events == nil {
		snap.Events = []EventRecord{}
	}
	if snap.Apps == nil {
		snap.Apps = []AppStatus{}
	}
	if snap.Repos == nil {
		snap.Repos = []RepoStatus{}
	}
	return snap
}

func (s *Server) statusJSON(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.snapshot())
}

func (s *Server) statusPage(w http.ResponseWriter, _ *http.Request) {
	var buf bytes.Buffer
	if err := statusTemplate.Execute(&buf, newPage(s.snapshot(), s.opts.Now())); err != nil {
		s.log.Error("rendering the status page", "error", err)
		http.Error(w, "rendering the status page failed", http.StatusInternalServerError)
		return
	}
	WriteHTML(w, http.StatusOK, "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'", buf.Bytes())
}

// WriteHTML writes an HTML page with code, never cached, under the
// Content-Security-Policy csp, with no MIME sniffing and no referrer.
func WriteHTML(w http.ResponseWriter, code int, csp string, page []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(code)
	_, _ = w.Write(page)
}

//go:embed status.html
var statusHTML string

var statusTemplate = template.Must(template.New("status").Funcs(template.FuncMap{
	"ts":     formatTime,
	"dur":    formatDuration,
	"tone":   tone,
	"sha":    gitrepo.ShortRevision,
	"digest": image.ShortDigest,
	"plural": func(n int, one, many string) string {
		if n == 1 {
			return fmt.Sprintf("%d %s", n, one)
		}
		return fmt.Sprintf("%d %s", n, many)
	},
}).Parse(statusHTML))

// page is the status template's data: the snapshot and what the page
// derives from it.
type page struct {
	Snapshot
	Now   time.Time
	Repos []repoPage

	Policies, References, Pending, Held, OpenPulls, FailingApps int
}

// repoPage is one repository's section of the page.
type repoPage struct {
	RepoStatus
	// CycleResult: "ok", "failed", "partial failure", or "" before the
	// first cycle.
	CycleResult string
}

func newPage(snap Snapshot, now time.Time) *page {
	p := &page{Snapshot: snap, Now: now}
	for _, r := range snap.Repos {
		rp := repoPage{RepoStatus: r}
		switch {
		case r.LastCycle == nil:
		case r.LastCycle.Error != "":
			rp.CycleResult = "failed"
		case r.Failed:
			rp.CycleResult = "partial failure"
		default:
			rp.CycleResult = "ok"
		}
		p.Repos = append(p.Repos, rp)
		if r.Scan != nil {
			p.Policies += len(r.Scan.Policies)
			for _, pol := range r.Scan.Policies {
				for _, ref := range pol.References {
					p.References++
					switch ref.Status {
					case "update":
						p.Pending++
					case "held":
						p.Held++
					}
				}
			}
		}
		for _, g := range r.Groups {
			if g.PullNumber != 0 && g.Action != "closed" && g.Action != "would-close" {
				p.OpenPulls++
			}
		}
	}
	for _, a := range snap.Apps {
		if tone(a.Result) == "err" {
			p.FailingApps++
		}
	}
	return p
}

// Ago renders how long before the page t was: "3m ago", "in 2m".
func (p *page) Ago(v any) string {
	t, ok := asTime(v)
	if !ok {
		return ""
	}
	d := p.Now.Sub(t)
	if d < 0 {
		return "in " + roughly(-d)
	}
	if d < 5*time.Second {
		return "just now"
	}
	return roughly(d) + " ago"
}

func roughly(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func asTime(v any) (time.Time, bool) {
	switch t := v.(type) {
	case time.Time:
		return t, !t.IsZero()
	case *time.Time:
		if t != nil {
			return *t, !t.IsZero()
		}
	}
	return time.Time{}, false
}

func formatTime(v any) string {
	t, ok := asTime(v)
	if !ok {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func formatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return ""
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// tone classifies a status word for its colour: ok, info, warn, err or
// muted.
func tone(s any) string {
	switch strings.ToLower(fmt.Sprint(s)) {
	case "ok", "success", "succeeded", "synced", "healthy", "current", "created", "updated", "pushed", "merged":
		return "ok"
	case "update", "progressing", "running", "syncing", "unchanged", "up-to-date",
		"would-create", "would-update", "would-push", "would-close":
		return "info"
	case "ahead", "held", "skipped", "unmanaged", "no-target", "drift", "drifted", "out-of-sync", "outofsync",
		"pinned", "partial failure", "unknown", "pending":
		return "warn"
	case "failed", "failure", "error", "blocked", "degraded":
		return "err"
	}
	return "muted"
}
