package main

import (
	"context"
	"os"

	"github.com/ferrygitops/ferry/bot"
	"github.com/ferrygitops/ferry/deploy"
)

func init() { revertPRHook = openRevertPR }

// openRevertPR is `ferry rollback APP --pr`: bot.OpenRevertPR, with the
// credentials from the environment.
func openRevertPR(ctx context.Context, req deploy.RevertRequest) (string, error) {
	return bot.OpenRevertPR(ctx, bot.RevertPR{RepoURL: req.App.RepoURL, Branch: req.App.Branch, App: req.App.Name,
		Files: req.Files, Deleted: req.Deleted, Title: req.Title, Body: req.Body}, os.Getenv)
}
