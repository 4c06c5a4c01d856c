package deploy

import (
	"cmp"
	"time"

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

// inventoryNamespace is where the app's inventory, record and lease live:
// the app's InventoryNamespace, else the Syncer's namespace.
func (s *Syncer) inventoryNamespace(app App) string {
	return cmp.Or(app.InventoryNamespace, s.opts.Namespace)
}
