package deploy

import (
	"time"

	"github.com/ferrygitops/ferry/dotferry"
)

// DefaultInterval is the Watch interval of an app that names none.
const DefaultInterval = time.Minute

// DefaultInventoryNamespace holds the inventory, record and lease of an app
// without a destination namespace.
const DefaultInventoryNamespace = dotferry.DefaultInventoryNamespace

// App is what a sync applies: a path of a branch of a git repository, a
// destination and a sync policy, read from an App document by package
// dotferry or built from flags.
type App = dotferry.App
