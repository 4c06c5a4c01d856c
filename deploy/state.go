package deploy

import (
	"context"

	"github.com/ferrygitops/ferry/deploy/inventory"
)

func (s *Syncer) readState(ctx context.Context, app App) (*inventory.State, error) {
	return s.store.ReadState(ctx, s.inventoryNamespace(app), app.Name)
}

func (s *Syncer) updateState(ctx context.Context, app App, mutate func(st *inventory.State) bool) error {
	return s.store.UpdateState(ctx, s.inventoryNamespace(app), app.Name, mutate)
}

func (s *Syncer) readInventory(ctx context.Context, app App) (inventory.Inventory, error) {
	return s.store.ReadInventory(ctx, s.inventoryNamespace(app), app.Name)
}

func (s *Syncer) writeInventory(ctx context.Context, app App, inv inventory.Inventory) error {
	return s.store.WriteInventory(ctx, s.inventoryNamespace(app), app.Name, inv)
}
