package server

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/ferrygitops/ferry/bot"
	"github.com/ferrygitops/ferry/gitrepo"
	"github.com/ferrygitops/ferry/image"
	"github.com/ferrygitops/ferry/updater"
)

// Snapshot is what the status page and /status.json show: Ferry's state as
// the integrator keeps it. Every field is optional; the page says what is
// not known yet.
type Snapshot struct {
	Version string    `json:"version,omitempty"`
	Started time.Time `json:"started,omitzero"` // when the process started
	Repo    string    `json:"repo,omitempty"`   // the manifest repository (credentials redacted); default Bump.Repo or Scan.Repo
	Branch  string    `json:"branch,omitempty"` // its base branch; default Bump.Base

	LastCycle *CycleInfo `json:"lastCycle,omitempty"`
	NextCycle time.Time  `json:"nextCycle,omitzero"` // when the next scheduled cycle runs

	// Bump is the last bump cycle's result; its Scan is the policies
	// table. Scan is shown instead when set (e.g. a scan-only mode).
	Bump *bot.BumpResult `json:"bump,omitempty"`
	Scan *bot.Report     `json:"scan,omitempty"`

	Apps   []AppStatus   `json:"apps"`
	Events []EventRecord `json:"events"` // newest first; nil: the server's EventLog
}

// CycleInfo describes the last bump cycle.
type CycleInfo struct {
	Time     time.Time     `json:"time"`              // when it started
	Duration time.Duration `json:"-"`                 // how long it took (JSON: durationSeconds)
	Trigger  string        `json:"trigger,omitempty"` // what started it: "schedule", "ecr: pushed …", "startup"
	Error    string        `json:"error,omitempty"`   // why it did not complete
}

// MarshalJSON renders Duration in seconds.
func (c CycleInfo) MarshalJSON() ([]byte, error) {
	type plain CycleInfo
	return json.Marshal(struct {
		plain
		DurationSeconds float64 `json:"durationSeconds"`
	}{plain(c), c.Duration.Seconds()})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (c *CycleInfo) UnmarshalJSON(data []byte) error {
	type plain CycleInfo
	var v struct {
		plain
		DurationSeconds float64 `json:"durationSeconds"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*c = CycleInfo(v.plain)
	c.Duration = time.Duration(v.DurationSeconds * float64(time.Second))
	return nil
}

// AppStatus is the sync state of one app.
type AppStatus struct {
	Name     string    `json:"name"`
	Revision string    `json:"revision,omitempty"` // the git commit last applied
	Result   string    `json:"result"`             // "synced", "failed", "progressing", "drift", ...
	Time     time.Time `json:"time,omitzero"`      // of the last sync
	// Pinned: the app is held at Revision (rolled back or pinned by
	// someone) instead of following the base branch.
	Pinned  bool   `json:"pinned,omitempty"`
	Message string `json:"message,omitempty"`
}

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
	if snap.Repo == "" {
		switch {
		case snap.Bump != nil:
			snap.Repo = snap.Bump.Repo
		case snap.Scan != nil:
			snap.Repo = snap.Scan.Repo
		}
	}
	if snap.Branch == "" && snap.Bump != nil {
		snap.Branch = snap.Bump.Base
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
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	_, _ = w.Write(buf.Bytes())
}

//go:embed status.html
var statusHTML string

var statusTemplate = template.Must(template.New("status").Funcs(template.FuncMap{
	"ts":     formatTime,
	"dur":    formatDuration,
	"tone":   tone,
	"sha":    gitrepo.ShortRevision,
	"digest": image.ShortDigest,
	"value":  func(f updater.Form, v string) string { return bot.ShortValue(f, v) },
	"object": bot.ObjectName,
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
	Now    time.Time
	Report *bot.Report // the policies table

	Policies, References, Pending, Held, OpenPulls, FailingApps int

	CycleResult string // "ok", "failed", "partial failure", or "" before the first cycle
}

func newPage(snap Snapshot, now time.Time) *page {
	p := &page{Snapshot: snap, Now: now, Report: snap.Scan}
	if p.Report == nil && snap.Bump != nil {
		p.Report = snap.Bump.Scan
	}
	if p.Report != nil {
		p.Policies = len(p.Report.Policies)
		for _, pol := range p.Report.Policies {
			for _, r := range pol.References {
				p.References++
				switch r.Status {
				case updater.StatusUpdate:
					p.Pending++
				case bot.StatusHeld:
					p.Held++
				}
			}
		}
	}
	if snap.Bump != nil {
		for _, g := range snap.Bump.Groups {
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
	switch {
	case snap.LastCycle == nil:
	case snap.LastCycle.Error != "":
		p.CycleResult = "failed"
	case snap.Bump != nil && snap.Bump.Failed():
		p.CycleResult = "partial failure"
	default:
		p.CycleResult = "ok"
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
