package deploy

import (
	"context"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/ferrygitops/ferry/dotferry"
)

// AppStatus is what the cluster knows about an app: its sync history,
// rollback pin, lock and the health of the objects of its inventory.
type AppStatus struct {
	App                string `json:"app"`
	InventoryNamespace string `json:"inventoryNamespace"`
	// Revision is the revision of the newest sync that applied
	// everything (Succeeded or Degraded); "" before the first.
	Revision string `json:"revision,omitempty"`
	Pin      *Pin   `json:"pin,omitempty"`
	// Lock is the holder of the app's lease while a sync runs.
	Lock *LockInfo `json:"lock,omitempty"`
	// Last is History[0].
	Last      *Record          `json:"last,omitempty"`
	History   []Record         `json:"history"`
	Succeeded []RevisionRecord `json:"succeeded,omitempty"`
	// Objects is every inventory object with its live health (NotFound
	// when missing); Action is empty.
	Objects []ObjectResult `json:"objects"`
}

// Status reads the app's record, lease and inventory, and the live health
// of the inventory objects (one List per resource and namespace). It
// needs no git access.
func (s *Syncer) Status(ctx context.Context, app App) (AppStatus, error) {
	if err := dotferry.CheckAppName(app.Name); err != nil {
		return AppStatus{}, err
	}
	out := AppStatus{App: app.Name, InventoryNamespace: s.inventoryNamespace(app)}
	if err := s.reachable(ctx); err != nil {
		return out, err
	}
	st, err := s.readState(ctx, app)
	if err != nil {
		return out, err
	}
	out.Revision, out.Pin, out.History, out.Succeeded = st.LastRevision(), st.Pin, st.History, st.Succeeded
	if out.History == nil {
		out.History = []Record{}
	}
	if len(st.History) > 0 {
		out.Last = &st.History[0]
	}
	if out.Lock, err = s.lockInfo(ctx, app); err != nil {
		return out, fmt.Errorf("reading the lease of app %s: %w", app.Name, err)
	}
	inv, err := s.readInventory(ctx, app)
	if err != nil {
		return out, err
	}
	keys := listKeys{}
	for k, av := range inv {
		gv, err := schema.ParseGroupVersion(av)
		if err != nil {
			continue
		}
		if m, err := s.mapping(gv.WithKind(k.Kind)); err == nil {
			keys.add(m, k)
		}
	}
	live, err := s.listLive(ctx, app, keys)
	if err != nil {
		return out, fmt.Errorf("reading the objects of app %s: %w", app.Name, err)
	}
	out.Objects = []ObjectResult{}
	for k, av := range inv {
		h, msg := Health(live.get(k))
		out.Objects = append(out.Objects, ObjectResult{ObjectKey: k, APIVersion: av, Health: h, Message: msg})
	}
	slices.SortFunc(out.Objects, func(a, b ObjectResult) int { return a.ObjectKey.Compare(b.ObjectKey) })
	return out, nil
}
