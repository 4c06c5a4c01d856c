package server

import (
	"encoding/json"
	"time"
)

// Snapshot is what the status page and /status.json show: the state of a
// Ferry service, as plain values the integrator fills in (package service
// builds it from the results of the loop's steps), so that the page and the
// loop can change apart. Every field is optional; the page says what is
// not known yet.
type Snapshot struct {
	Version string    `json:"version,omitempty"`
	Started time.Time `json:"started,omitzero"` // when the process started
	// Standby: leader election is on and another replica leads; this one
	// serves health and metrics and takes over when the leader goes.
	Standby bool `json:"standby,omitempty"`

	// LastCycle is the most recent bump cycle of any repository.
	LastCycle *CycleInfo `json:"lastCycle,omitempty"`

	Repos  []RepoStatus  `json:"repos"`
	Apps   []AppStatus   `json:"apps"`
	Events []EventRecord `json:"events"` // newest first; nil: the server's EventLog
}

// CycleInfo describes a bump cycle.
type CycleInfo struct {
	Time     time.Time     `json:"time"`              // when it started
	Duration time.Duration `json:"-"`                 // how long it took (JSON: durationSeconds)
	Trigger  string        `json:"trigger,omitempty"` // what started it: "schedule", "ecr: pushed …", "start"
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

// RepoStatus is one manifest repository: its last cycle, its policies and
// its pull requests.
type RepoStatus struct {
	URL        string     `json:"url"` // credentials removed
	Branch     string     `json:"branch"`
	Mode       string     `json:"mode,omitempty"` // pull-request, branch or push
	DryRun     bool       `json:"dryRun,omitempty"`
	BaseCommit string     `json:"baseCommit,omitempty"` // the base branch's head the last cycle saw
	LastCycle  *CycleInfo `json:"lastCycle,omitempty"`
	NextCycle  time.Time  `json:"nextCycle,omitzero"` // when the next scheduled cycle runs
	// Failed: the last cycle completed, but a policy, a file or a group
	// failed.
	Failed bool `json:"failed,omitempty"`
	// Scan is the last completed cycle's scan; nil before the first.
	Scan *ScanStatus `json:"scan,omitempty"`
	// Groups are the pull-request groups of the last completed cycle; nil
	// before the first.
	Groups []GroupStatus `json:"groups"`
}

// ScanStatus is what a scan found: per policy the newest allowed tag and
// every reference of its image.
type ScanStatus struct {
	Files      int               `json:"files"`  // files scanned
	Parsed     int               `json:"parsed"` // files that held a governed reference and parsed
	Policies   []PolicyStatus    `json:"policies"`
	FileErrors []FileErrorStatus `json:"fileErrors,omitempty"`
}

// PolicyStatus is one policy of a scan.
type PolicyStatus struct {
	Name        string    `json:"name"`
	Image       string    `json:"image"`
	Strategy    string    `json:"strategy"`
	Tag         string    `json:"tag,omitempty"` // the newest tag the policy allows
	Digest      string    `json:"digest,omitempty"`
	PushedAt    time.Time `json:"pushedAt,omitzero"`
	TagsSeen    int       `json:"tagsSeen"`
	TagsMatched int       `json:"tagsMatched"`
	Error       string    `json:"error,omitempty"`
	// Skipped are newer tags the policy passed over, each with why (for
	// example a missing or wrong signature under spec.verify).
	Skipped    []SkippedTag      `json:"skipped,omitempty"`
	References []ReferenceStatus `json:"references"`
}

// SkippedTag is a candidate tag a policy passed over.
type SkippedTag struct {
	Tag    string `json:"tag"`
	Reason string `json:"reason"`
}

// ReferenceStatus is one place in the repository naming a policy's image.
type ReferenceStatus struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Object string `json:"object,omitempty"` // "Deployment/prod/web"
	// Current and Wanted are the values as shown: for a whole image
	// reference its tag and digest, else the value itself.
	Current string `json:"current"`
	Wanted  string `json:"wanted,omitempty"`
	// Status: update, current, ahead, unmanaged, no-target, blocked, held.
	Status string `json:"status"`
	Why    string `json:"why,omitempty"`
}

// FileErrorStatus is a manifest that did not parse; its policies are
// blocked.
type FileErrorStatus struct {
	File     string   `json:"file"`
	Line     int      `json:"line,omitempty"`
	Error    string   `json:"error"`
	Policies []string `json:"policies"`
}

// GroupStatus is one pull-request group of a cycle.
type GroupStatus struct {
	Group  string `json:"group"`
	Branch string `json:"branch"`
	Commit string `json:"commit,omitempty"`
	// Action: created, updated, unchanged, closed, pushed, up-to-date,
	// skipped, declined, or would-… in a dry run.
	Action     string         `json:"action"`
	Took       time.Duration  `json:"-"`
	PullNumber int            `json:"pullNumber,omitempty"`
	PullURL    string         `json:"pullURL,omitempty"`
	Title      string         `json:"title,omitempty"`
	Changes    []ChangeStatus `json:"changes"`
	Holds      []HoldStatus   `json:"holds,omitempty"`
	Error      string         `json:"error,omitempty"`
}

// MarshalJSON renders Took in seconds.
func (g GroupStatus) MarshalJSON() ([]byte, error) {
	type plain GroupStatus
	return json.Marshal(struct {
		plain
		TookSeconds float64 `json:"tookSeconds,omitempty"`
	}{plain(g), g.Took.Seconds()})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (g *GroupStatus) UnmarshalJSON(data []byte) error {
	type plain GroupStatus
	var v struct {
		plain
		TookSeconds float64 `json:"tookSeconds"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*g = GroupStatus(v.plain)
	g.Took = time.Duration(v.TookSeconds * float64(time.Second))
	return nil
}

// ChangeStatus is one rewritten value; From and To as shown.
type ChangeStatus struct {
	File string `json:"file"`
	Line int    `json:"line"`
	From string `json:"from"`
	To   string `json:"to"`
}

// HoldStatus is a reference held back because people rolled it back.
type HoldStatus struct {
	File string `json:"file"`
	Tag  string `json:"tag"` // only tags newer than this are proposed
	By   string `json:"by"`
}

// AppStatus is the sync state of one app.
type AppStatus struct {
	Name     string `json:"name"`
	Repo     string `json:"repo,omitempty"`     // the manifest repository it was read from (credentials removed)
	Revision string `json:"revision,omitempty"` // the git commit last applied
	Result   string `json:"result"`             // "Succeeded", "Failed", "pending", ...
	// Reason says why the last sync Failed or is Degraded: RenderFailed,
	// Rejected, ApplyFailed, HealthTimeout, ...
	Reason string `json:"reason,omitempty"`
	// Synced is the newest revision whose sync applied everything: a
	// failed sync leaves it where it was.
	Synced string    `json:"synced,omitempty"`
	Time   time.Time `json:"time,omitzero"` // of the last sync
	// Pinned: the app is held at Revision (rolled back or pinned by
	// someone) instead of following the base branch.
	Pinned  bool   `json:"pinned,omitempty"`
	Message string `json:"message,omitempty"`
}
