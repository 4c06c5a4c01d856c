package inventory

import (
	"errors"
	"time"

	"github.com/ferrygitops/ferry/deploy/health"
	"github.com/ferrygitops/ferry/deploy/render"
)

// Result is the outcome of a sync.
type Result string

// The results of a sync.
const (
	// Succeeded: every object applied (and pruned) and Current.
	Succeeded Result = "Succeeded"
	// Degraded: every object applied, but not every one became Current
	// before the timeout, or one Failed (kstatus).
	Degraded Result = "Degraded"
	// Failed: the sync stopped on an error.
	Failed Result = "Failed"
)

// Reason says why a sync did not succeed.
type Reason string

// The reasons.
const (
	// RenderFailed: the revision could not be fetched, read, parsed or
	// built, or names a kind the cluster does not serve.
	RenderFailed Reason = "RenderFailed"
	// Rejected: the API server rejected an object's dry-run; nothing was
	// changed.
	Rejected Reason = "Rejected"
	// PruneAllRefused: a pruning sync rendered nothing while the
	// inventory holds objects.
	PruneAllRefused Reason = "PruneAllRefused"
	// ApplyFailed: an apply failed (or the sync lost its lease) after
	// validation; what was applied stays, tracked by the inventory.
	ApplyFailed Reason = "ApplyFailed"
	// PruneFailed: an object could not be deleted.
	PruneFailed Reason = "PruneFailed"
	// ClusterError: the cluster could not be read (the inventory, the
	// live objects).
	ClusterError Reason = "ClusterError"
	// HealthTimeout: applied, but not every object was Current when the
	// timeout passed (Degraded).
	HealthTimeout Reason = "HealthTimeout"
	// Unhealthy: applied, but an object is Failed (Degraded).
	Unhealthy Reason = "Unhealthy"
	// HookFailed: a hook failed or did not finish before the timeout. A
	// PreSync or Sync hook stops the sync (Failed); a PostSync hook runs
	// after everything was applied and healthy (Degraded).
	HookFailed Reason = "HookFailed"
	// WaveUnhealthy: the objects of a sync wave were not all Current
	// before the timeout, so the later waves were not applied (Failed).
	WaveUnhealthy Reason = "WaveUnhealthy"
)

// HookOutcome is how a hook ended.
type HookOutcome string

// The outcomes of a hook.
const (
	HookRunSucceeded HookOutcome = "Succeeded"
	HookRunFailed    HookOutcome = "Failed"
	// HookNotRun: the hook was not created (a dry run, or the sync
	// stopped or ended unhealthy before its phase).
	HookNotRun HookOutcome = "NotRun"
)

// HookResult is one run of a hook object in a sync.
type HookResult struct {
	// ObjectKey names the object; Name is the name it was created with
	// (generated, for a hook with metadata.generateName).
	render.ObjectKey
	Phase   string      `json:"phase"`
	Wave    int         `json:"wave"`
	Result  HookOutcome `json:"result"`
	Message string      `json:"message,omitempty"`
	// Deleted: removed after it finished, by its delete policy.
	Deleted bool `json:"deleted,omitempty"`
}

// Action is what a sync did (or, dry, would do) to an object.
type Action string

// The actions.
const (
	ActionCreated    Action = "created"
	ActionConfigured Action = "configured"
	ActionUnchanged  Action = "unchanged"
	ActionPruned     Action = "pruned"
	// ActionSkipped: a prune candidate kept (annotation ferry.dev/prune:
	// disabled, or the live object is not labelled as the app's).
	ActionSkipped Action = "skipped"
	ActionFailed  Action = "failed"
	// ActionRemoved: a Namespace or CRD the sync created so that the
	// objects in it could be validated, deleted again because one of
	// them was rejected.
	ActionRemoved Action = "removed"
)

// ObjectResult is one object's action and health in a sync.
type ObjectResult struct {
	render.ObjectKey
	APIVersion string `json:"apiVersion,omitempty"`
	Action     Action `json:"action,omitempty"`
	// Health is the kstatus status: Current, InProgress, Failed,
	// Terminating, NotFound or Unknown.
	Health  string `json:"health,omitempty"`
	Message string `json:"message,omitempty"`
}

// Counts sums a sync's actions.
type Counts struct {
	Created    int `json:"created"`
	Configured int `json:"configured"`
	Unchanged  int `json:"unchanged"`
	Pruned     int `json:"pruned"`
	Skipped    int `json:"skipped"`
	Failed     int `json:"failed"`
}

// Add counts one action.
func (c *Counts) Add(a Action) {
	switch a {
	case ActionCreated:
		c.Created++
	case ActionConfigured:
		c.Configured++
	case ActionUnchanged:
		c.Unchanged++
	case ActionPruned:
		c.Pruned++
	case ActionSkipped:
		c.Skipped++
	case ActionFailed:
		c.Failed++
	}
}

// Changed reports whether the sync wrote to any app object.
func (c Counts) Changed() bool { return c.Created+c.Configured+c.Pruned > 0 }

// Record is one sync of an app.
type Record struct {
	ID       string `json:"id"`
	App      string `json:"app"`
	Revision string `json:"revision"`
	// BranchHead is the branch head when the sync rendered.
	BranchHead string `json:"branchHead,omitempty"`
	// Trigger is "sync", "watch", "rollback" or what SyncOptions said.
	Trigger  string    `json:"trigger"`
	DryRun   bool      `json:"dryRun,omitempty"`
	Pinned   bool      `json:"pinned,omitempty"` // the revision was a rollback pin
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Result   Result    `json:"result"`
	// Reason says why a sync is Failed or Degraded.
	Reason Reason `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
	Counts Counts `json:"counts"`
	// Objects lists every object in a returned record; in the stored
	// history only those not unchanged, at most StoredObjects of them
	// (ObjectsOmitted counts the rest).
	Objects        []ObjectResult `json:"objects,omitempty"`
	ObjectsOmitted int            `json:"objectsOmitted,omitempty"`
	// Hooks are the hook runs of the sync, in the order they ran
	// (package hooks): hooks run only when the sync changes something or
	// applies a new revision.
	Hooks []HookResult `json:"hooks,omitempty"`
}

// Healthy reports whether every applied object is Current (or of unknown
// health).
func (r *Record) Healthy() bool {
	for _, o := range r.Objects {
		if o.Action != ActionPruned && o.Action != ActionSkipped && o.Action != ActionRemoved && o.Health != "" && o.Health != health.Current {
			return false
		}
	}
	return true
}

// Pin holds an app at a revision after a rollback.
type Pin struct {
	Revision string `json:"revision"`
	// BranchHead was the branch head when the app was pinned; with
	// releasePinOnNewCommit a different head releases the pin.
	BranchHead string    `json:"branchHead"`
	From       string    `json:"from,omitempty"` // the revision rolled back from
	Time       time.Time `json:"time"`
}

// RevisionRecord is a revision that synced successfully, and when.
type RevisionRecord struct {
	Revision string    `json:"revision"`
	Time     time.Time `json:"time"`
}

// StoredObjects caps the objects kept per stored record, so the history
// of a large app fits a ConfigMap.
const StoredObjects = 100

// maxSucceeded is how many distinct successful revisions are kept for
// rollback.
const maxSucceeded = 20

// State is the record ConfigMap's content.
type State struct {
	History   []Record         `json:"history"`
	Pin       *Pin             `json:"pin,omitempty"`
	Succeeded []RevisionRecord `json:"succeeded,omitempty"`
}

// LastRevision is the revision of the newest sync that applied
// everything (Succeeded or Degraded).
func (st *State) LastRevision() string {
	for _, r := range st.History {
		if r.Result != Failed && !r.DryRun {
			return r.Revision
		}
	}
	return ""
}

// ErrNoPreviousRevision is returned by PreviousRevision when the record
// holds no successful revision other than the current one.
var ErrNoPreviousRevision = errors.New("no earlier successful revision to roll back to")

// PreviousRevision is the newest successful revision other than current.
func (st *State) PreviousRevision(current string) (string, error) {
	for _, r := range st.Succeeded {
		if r.Revision != current {
			return r.Revision, nil
		}
	}
	return "", ErrNoPreviousRevision
}

// storedRecord trims a record for the history.
func storedRecord(r Record) Record {
	var keep []ObjectResult
	omitted := 0
	for _, o := range r.Objects {
		if o.Action == ActionUnchanged && (o.Health == "" || o.Health == health.Current) {
			continue
		}
		if len(keep) == StoredObjects {
			omitted++
			continue
		}
		keep = append(keep, o)
	}
	r.Objects, r.ObjectsOmitted = keep, r.ObjectsOmitted+omitted
	return r
}

// Append adds rec to the history (newest first, at most limit) and, when
// it applied everything, to the successful revisions. A record already
// there (a retried write that had landed) is not added twice.
func (st *State) Append(rec Record, limit int) {
	for _, r := range st.History {
		if r.ID == rec.ID {
			return
		}
	}
	st.History = append([]Record{storedRecord(rec)}, st.History...)
	if len(st.History) > limit {
		st.History = st.History[:limit]
	}
	if rec.Result == Succeeded || rec.Result == Degraded {
		if len(st.Succeeded) == 0 || st.Succeeded[0].Revision != rec.Revision {
			st.Succeeded = append([]RevisionRecord{{Revision: rec.Revision, Time: rec.Finished}}, st.Succeeded...)
		} else {
			st.Succeeded[0].Time = rec.Finished
		}
		if len(st.Succeeded) > maxSucceeded {
			st.Succeeded = st.Succeeded[:maxSucceeded]
		}
	}
}
