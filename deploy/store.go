package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Names of the objects Ferry keeps per app in its inventory namespace.
const (
	InventoryPrefix = "ferry-inventory-" // ConfigMap: the objects of the last syncs
	RecordPrefix    = "ferry-app-"       // ConfigMap: sync history and rollback pin
	LeasePrefix     = "ferry-sync-"      // Lease: the sync lock
)

// labelOwner marks Ferry's own bookkeeping objects (not LabelApp: they are
// not part of the app).
const labelOwner = "ferry.dev/owner-app"

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
)

// ObjectResult is one object's action and health in a sync.
type ObjectResult struct {
	ObjectKey
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

func (c *Counts) add(a Action) {
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
	Error    string    `json:"error,omitempty"`
	Counts   Counts    `json:"counts"`
	// Objects lists every object in a returned record; in the stored
	// history only those not unchanged, at most storedObjects of them
	// (ObjectsOmitted counts the rest).
	Objects        []ObjectResult `json:"objects,omitempty"`
	ObjectsOmitted int            `json:"objectsOmitted,omitempty"`
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

// storedObjects caps the objects kept per stored record, so the history
// of a large app fits a ConfigMap.
const storedObjects = 100

// maxSucceeded is how many distinct successful revisions are kept for
// rollback.
const maxSucceeded = 20

// appState is the record ConfigMap's content.
type appState struct {
	History   []Record         `json:"history"`
	Pin       *Pin             `json:"pin,omitempty"`
	Succeeded []RevisionRecord `json:"succeeded,omitempty"`
	rv        string
}

// lastRevision is the revision of the newest sync that applied
// everything (Succeeded or Degraded).
func (st *appState) lastRevision() string {
	for _, r := range st.History {
		if r.Result != Failed && !r.DryRun {
			return r.Revision
		}
	}
	return ""
}

func (s *Syncer) readState(ctx context.Context, app App) (*appState, error) {
	st := &appState{}
	var cm *corev1.ConfigMap
	err := s.retry(ctx, func() (err error) {
		cm, err = s.core.CoreV1().ConfigMaps(s.inventoryNamespace(app)).Get(ctx, RecordPrefix+app.Name, metav1.GetOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the record of app %s: %w", app.Name, err)
	}
	if err := decodeState(cm, st); err != nil {
		return nil, fmt.Errorf("reading the record of app %s: %w", app.Name, err)
	}
	return st, nil
}

func decodeState(cm *corev1.ConfigMap, st *appState) error {
	st.rv = cm.ResourceVersion
	if h := cm.Data["history"]; h != "" {
		if err := json.Unmarshal([]byte(h), &st.History); err != nil {
			return fmt.Errorf("history: %w", err)
		}
	}
	if p := cm.Data["pin"]; p != "" {
		st.Pin = &Pin{}
		if err := json.Unmarshal([]byte(p), st.Pin); err != nil {
			return fmt.Errorf("pin: %w", err)
		}
	}
	if sr := cm.Data["succeeded"]; sr != "" {
		if err := json.Unmarshal([]byte(sr), &st.Succeeded); err != nil {
			return fmt.Errorf("succeeded: %w", err)
		}
	}
	return nil
}

func encodeState(st *appState) (map[string]string, error) {
	data := map[string]string{}
	h, err := json.MarshalIndent(st.History, "", " ")
	if err != nil {
		return nil, err
	}
	data["history"] = string(h)
	if st.Pin != nil {
		p, err := json.Marshal(st.Pin)
		if err != nil {
			return nil, err
		}
		data["pin"] = string(p)
	}
	if len(st.Succeeded) > 0 {
		sr, err := json.Marshal(st.Succeeded)
		if err != nil {
			return nil, err
		}
		data["succeeded"] = string(sr)
	}
	return data, nil
}

// updateState read-modify-writes the record ConfigMap; mutate reports
// whether it changed anything.
func (s *Syncer) updateState(ctx context.Context, app App, mutate func(st *appState) bool) error {
	return s.updateConfigMap(ctx, app, RecordPrefix+app.Name, func(cm *corev1.ConfigMap) (bool, error) {
		st := &appState{}
		if err := decodeState(cm, st); err != nil {
			return false, err
		}
		if !mutate(st) {
			return false, nil
		}
		data, err := encodeState(st)
		if err != nil {
			return false, err
		}
		cm.Data = data
		return true, nil
	})
}

// storedRecord trims a record for the history.
func storedRecord(r Record) Record {
	var keep []ObjectResult
	omitted := 0
	for _, o := range r.Objects {
		if o.Action == ActionUnchanged && (o.Health == "" || o.Health == "Current") {
			continue
		}
		if len(keep) == storedObjects {
			omitted++
			continue
		}
		keep = append(keep, o)
	}
	r.Objects, r.ObjectsOmitted = keep, r.ObjectsOmitted+omitted
	return r
}

// appendRecord adds rec to the history (newest first, at most limit) and,
// when it succeeded, to the successful revisions.
func appendRecord(st *appState, rec Record, limit int) {
	for _, r := range st.History {
		if r.ID == rec.ID {
			return // a retried write that had landed
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

// inventory is the set of objects Ferry applied for an app and has not
// pruned: key → apiVersion.
type inventory map[ObjectKey]string

func (s *Syncer) readInventory(ctx context.Context, app App) (inventory, error) {
	var cm *corev1.ConfigMap
	err := s.retry(ctx, func() (err error) {
		cm, err = s.core.CoreV1().ConfigMaps(s.inventoryNamespace(app)).Get(ctx, InventoryPrefix+app.Name, metav1.GetOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		return inventory{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the inventory of app %s: %w", app.Name, err)
	}
	inv, err := decodeInventory(cm)
	if err != nil {
		return nil, fmt.Errorf("reading the inventory of app %s: %w", app.Name, err)
	}
	return inv, nil
}

func decodeInventory(cm *corev1.ConfigMap) (inventory, error) {
	inv := inventory{}
	raw := cm.Data["objects"]
	if raw == "" {
		return inv, nil
	}
	var rows [][4]string
	if err := json.Unmarshal([]byte(raw), &rows); err != nil {
		return nil, err
	}
	for _, r := range rows {
		gv, err := schema.ParseGroupVersion(r[0])
		if err != nil {
			return nil, err
		}
		inv[ObjectKey{Group: gv.Group, Kind: r[1], Namespace: r[2], Name: r[3]}] = r[0]
	}
	return inv, nil
}

// encode writes one [apiVersion, kind, namespace, name] row per line,
// in apply order.
func (inv inventory) encode() string {
	keys := slices.SortedFunc(maps.Keys(inv), ObjectKey.compare)
	var b strings.Builder
	b.WriteString("[")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(",")
		}
		row, _ := json.Marshal([4]string{inv[k], k.Kind, k.Namespace, k.Name})
		b.WriteString("\n")
		b.Write(row)
	}
	b.WriteString("\n]\n")
	return b.String()
}

func (s *Syncer) writeInventory(ctx context.Context, app App, inv inventory) error {
	want := inv.encode()
	return s.updateConfigMap(ctx, app, InventoryPrefix+app.Name, func(cm *corev1.ConfigMap) (bool, error) {
		if cm.Data["objects"] == want {
			return false, nil
		}
		cm.Data = map[string]string{"objects": want}
		return true, nil
	})
}

// updateConfigMap gets (or starts) the ConfigMap name in the app's
// inventory namespace, lets mutate change it and writes it back, retrying
// on conflicts and transient errors.
func (s *Syncer) updateConfigMap(ctx context.Context, app App, name string, mutate func(cm *corev1.ConfigMap) (bool, error)) error {
	ns := s.inventoryNamespace(app)
	cms := s.core.CoreV1().ConfigMaps(ns)
	for attempt := 0; ; attempt++ {
		var cm *corev1.ConfigMap
		err := s.retry(ctx, func() (err error) {
			cm, err = cms.Get(ctx, name, metav1.GetOptions{})
			return err
		})
		exists := err == nil
		switch {
		case apierrors.IsNotFound(err):
			cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
		case err != nil:
			return fmt.Errorf("reading ConfigMap %s/%s: %w", ns, name, err)
		}
		changed, err := mutate(cm)
		if err != nil {
			return fmt.Errorf("ConfigMap %s/%s: %w", ns, name, err)
		}
		if !changed {
			return nil
		}
		if cm.Labels == nil {
			cm.Labels = map[string]string{}
		}
		cm.Labels["app.kubernetes.io/managed-by"] = "ferry"
		cm.Labels[labelOwner] = app.Name
		err = s.retry(ctx, func() error {
			var err error
			if exists {
				_, err = cms.Update(ctx, cm, metav1.UpdateOptions{FieldManager: FieldManager})
			} else {
				_, err = cms.Create(ctx, cm, metav1.CreateOptions{FieldManager: FieldManager})
			}
			return err
		})
		if (apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err)) && attempt < 5 {
			continue
		}
		if err != nil {
			return fmt.Errorf("writing ConfigMap %s/%s: %w", ns, name, err)
		}
		return nil
	}
}
