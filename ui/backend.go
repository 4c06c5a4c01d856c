package ui

import (
	"context"
	"errors"

	"github.com/ferrygitops/ferry/deploy"
	"github.com/ferrygitops/ferry/server"
)

// ErrNoApp is returned (wrapped) by a Backend for an app it does not know.
var ErrNoApp = errors.New("no such app")

// ErrNotAvailable is returned (wrapped) by a Backend for an action it does
// not offer (Scan in `ferry ui`, say).
var ErrNotAvailable = errors.New("not available here")

// Backend is what the UI shows and does, computed by the code that already
// does it: package service implements it for `ferry run` with its loop's
// results and its Syncers; the UI re-implements neither sync nor diff.
type Backend interface {
	// Snapshot is the state the status page shows: apps, repositories
	// with their last scan and pull requests, events.
	Snapshot() server.Snapshot
	// Apps are the apps as read from git (for their paths and branches).
	Apps() []deploy.App
	// AppStatus is what the cluster knows of the app (deploy.Syncer.Status).
	AppStatus(ctx context.Context, app string) (deploy.AppStatus, error)
	// Diff compares the app's render (at its pin, if any) with the
	// cluster (deploy.Syncer.Diff; Secret values masked).
	Diff(ctx context.Context, app string) (deploy.DiffResult, error)
	// Sync syncs the app now, obeying its pin.
	Sync(ctx context.Context, app string) (deploy.Record, error)
	// Rollback syncs revision ("" the previous good one) and pins it.
	Rollback(ctx context.Context, app, revision string) (deploy.Record, error)
	// Release removes the app's pin; it reports whether there was one.
	Release(ctx context.Context, app string) (bool, error)
	// Scan starts a bump cycle of every repository now.
	Scan(ctx context.Context) error
}
