package deploy

import (
	"cmp"
	"time"

	"github.com/ferrygitops/ferry/deploy/health"
	"github.com/ferrygitops/ferry/deploy/inventory"
	"github.com/ferrygitops/ferry/deploy/render"
	"github.com/ferrygitops/ferry/dotferry"
)

// DefaultInterval is the Watch interval of an app that names none.
const DefaultInterval = time.Minute

// DefaultInventoryNamespace holds the inventories, records and sync leases
// of the apps of a Syncer that runs outside a pod and names no namespace
// of its own (Options.Namespace).
const DefaultInventoryNamespace = dotferry.DefaultInventoryNamespace

// App is what a sync applies: a path of a branch of a git repository, a
// destination and a sync policy, read from an App document by package
// dotferry or built from flags.
type App = dotferry.App

// The engine's vocabulary, defined by the packages that own it.
type (
	ObjectKey      = render.ObjectKey
	Manifest       = render.Manifest
	Rendered       = render.Rendered
	Record         = inventory.Record
	Result         = inventory.Result
	Reason         = inventory.Reason
	Action         = inventory.Action
	ObjectResult   = inventory.ObjectResult
	HookResult     = inventory.HookResult
	Counts         = inventory.Counts
	Pin            = inventory.Pin
	RevisionRecord = inventory.RevisionRecord
)

// Labels and annotations Ferry reads and writes.
const (
	// LabelApp marks every object a sync applies with the app's name.
	LabelApp = render.LabelApp
	// AnnotationAppliedHash holds a hash of the object as rendered; a
	// sync skips objects whose hash and live fields are unchanged.
	AnnotationAppliedHash = render.AnnotationAppliedHash
	// AnnotationPrune set to "disabled" keeps an object from being pruned.
	AnnotationPrune = "ferry.dev/prune"
)

// Names of the objects Ferry keeps per app in its inventory namespace.
const (
	InventoryPrefix = inventory.InventoryPrefix // ConfigMap: the objects of the last syncs
	RecordPrefix    = inventory.RecordPrefix    // ConfigMap: sync history and rollback pin
	LeasePrefix     = "ferry-sync-"             // Lease: the sync lock
)

// The results of a sync.
const (
	Succeeded = inventory.Succeeded
	Degraded  = inventory.Degraded
	Failed    = inventory.Failed
)

// The actions.
const (
	ActionCreated    = inventory.ActionCreated
	ActionConfigured = inventory.ActionConfigured
	ActionUnchanged  = inventory.ActionUnchanged
	ActionPruned     = inventory.ActionPruned
	ActionSkipped    = inventory.ActionSkipped
	ActionFailed     = inventory.ActionFailed
	ActionRemoved    = inventory.ActionRemoved
)

// KeyOf returns the key of an object.
var KeyOf = render.KeyOf

// Health returns the kstatus status of a live object and, unless Current,
// kstatus's message (package health).
var Health = health.Of

// ErrNoPreviousRevision is returned by Rollback without a target when the
// record holds no earlier successful revision.
var ErrNoPreviousRevision = inventory.ErrNoPreviousRevision

// inventoryNamespace is where the app's inventory, record and lease live:
// the app's InventoryNamespace, else the Syncer's namespace.
func (s *Syncer) inventoryNamespace(app App) string {
	return cmp.Or(app.InventoryNamespace, s.opts.Namespace)
}
