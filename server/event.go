package server

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ferrygitops/ferry/gitrepo"
	"github.com/ferrygitops/ferry/image"
)

// Sources of Events.
const (
	SourceECR      = "ecr"      // Amazon EventBridge, ECR image pushes
	SourceRegistry = "registry" // Docker distribution notifications
	SourceGitHub   = "github"   // GitHub webhooks
)

// Kinds of Events.
const (
	// KindImage: a tag was pushed to Repository. A bump cycle may now find
	// a newer image.
	KindImage = "image"
	// KindPush: Branch of Repo moved to Commit. When it is a configured
	// base branch, its apps should sync it, and open pull requests may have
	// become stale.
	KindPush = "push"
	// KindMerged: a pull request from Branch was merged into Base as
	// Commit; when Branch is one of Ferry's bot branches, one of its pull
	// requests was merged.
	KindMerged = "merged"
)

// Event is one accepted, non-duplicate webhook delivery (or, for the
// registry, one event of a delivery), handed to Options.Trigger.
type Event struct {
	Source   string    `json:"source"`       // SourceECR, SourceRegistry or SourceGitHub
	Kind     string    `json:"kind"`         // KindImage, KindPush or KindMerged
	ID       string    `json:"id,omitempty"` // the delivery or event ID used to drop duplicates
	Received time.Time `json:"received"`

	// Image events (KindImage).
	Repository string `json:"repository,omitempty"` // host/path, as manifests name the image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/myapp"
	Tag        string `json:"tag,omitempty"`
	Digest     string `json:"digest,omitempty"`

	// GitHub events (KindPush, KindMerged).
	Repo       string `json:"repo,omitempty"`       // the GitHub repository, "owner/name"
	Branch     string `json:"branch,omitempty"`     // KindPush: the branch pushed to; KindMerged: the pull request's head branch
	Base       string `json:"base,omitempty"`       // KindMerged: the branch merged into
	Commit     string `json:"commit,omitempty"`     // KindPush: the new head; KindMerged: the merge commit
	PullNumber int    `json:"pullNumber,omitempty"` // KindMerged
}

// Summary is a one-line description of the event for logs and the status
// page: "pushed registry.example.com/acme/web:1.2.3".
func (e Event) Summary() string {
	switch e.Kind {
	case KindImage:
		s := "pushed " + e.Repository + ":" + e.Tag
		if e.Digest != "" {
			s += " (" + image.ShortDigest(e.Digest) + ")"
		}
		return s
	case KindPush:
		s := "push to "
		if e.Repo != "" {
			s += e.Repo + " "
		}
		s += e.Branch
		if e.Commit != "" {
			s += " at " + gitrepo.ShortRevision(e.Commit)
		}
		return s
	case KindMerged:
		s := fmt.Sprintf("pull request #%d (%s) merged", e.PullNumber, e.Branch)
		if e.Repo != "" {
			s = e.Repo + " " + s
		}
		if e.Commit != "" {
			s += " as " + gitrepo.ShortRevision(e.Commit)
		}
		return s
	}
	return e.Source + " " + e.Kind
}

// EventRecord is one line of the status page's recent events: a webhook, a
// cycle, a sync, anything worth seeing.
type EventRecord struct {
	Time    time.Time `json:"time"`
	Source  string    `json:"source"` // "ecr", "registry", "github", "cycle", "sync", ...
	Summary string    `json:"summary"`
	Error   bool      `json:"error,omitempty"` // shown as a failure
}

// EventLog keeps the most recent EventRecords, for the status page. It is
// safe for concurrent use. The server records every webhook event it
// accepts; the integrator may record its own (cycle results, syncs).
type EventLog struct {
	mu   sync.Mutex
	buf  []EventRecord // ring
	next int           // where the next record goes
	full bool
	now  func() time.Time
}

// DefaultEventLogSize is the capacity New gives the log it creates.
const DefaultEventLogSize = 100

// NewEventLog returns a log keeping the last size records (at least 1).
// The zero EventLog keeps DefaultEventLogSize.
func NewEventLog(size int) *EventLog {
	return &EventLog{buf: make([]EventRecord, max(size, 1)), now: time.Now}
}

// Record appends r; a zero Time is set to now.
func (l *EventLog) Record(r EventRecord) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) == 0 { // the zero EventLog
		l.buf = make([]EventRecord, DefaultEventLogSize)
	}
	if r.Time.IsZero() {
		if l.now != nil {
			r.Time = l.now()
		} else {
			r.Time = time.Now()
		}
	}
	l.buf[l.next] = r
	l.next = (l.next + 1) % len(l.buf)
	if l.next == 0 {
		l.full = true
	}
}

// Add records a summary from source at the current time.
func (l *EventLog) Add(source, summary string, failed bool) {
	l.Record(EventRecord{Source: source, Summary: summary, Error: failed})
}

// Recent returns the records, newest first.
func (l *EventLog) Recent() []EventRecord {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]EventRecord, 0, len(l.buf))
	if l.full {
		out = append(out, l.buf[l.next:]...)
	}
	out = append(out, l.buf[:l.next]...)
	slices.Reverse(out)
	return out
}
