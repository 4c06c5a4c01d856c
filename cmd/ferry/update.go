package main

import (
	"github.com/spf13/cobra"

	"github.com/ferrygitops/ferry/bot"
	"github.com/ferrygitops/ferry/internal/printer"
)

// updateResult is what `ferry update -o json` prints.
type updateResult = bot.UpdateResult

func newUpdateCmd(g *globals) *cobra.Command {
	var f scanFlags
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "update",
		Short: "Rewrite the image references in the manifest repository to the newest allowed tags",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := runScan(cmd, g, &f)
			if err != nil {
				return err
			}
			res, err := bot.Update(cmd.Context(), f.repo, rep, dryRun)
			if err != nil {
				return &exitError{code: exitFailure, err: err}
			}
			if !dryRun && len(res.Changes) > 0 {
				g.log.Info("updated", "files", len(res.Written), "changes", len(res.Changes))
			}
			if g.machine() {
				if err := g.write(res); err != nil {
					return err
				}
			} else {
				printer.Update(g.stdout, res)
			}
			if rep.Failed() {
				return &exitError{code: exitFailure}
			}
			if f.exitCode && dryRun && len(res.Changes) > 0 {
				return &exitError{code: exitDiff}
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "write nothing; print a unified diff of what would change")
	cmd.Flags().BoolVar(&f.force, "force", false, "also rewrite references whose current tag the policy cannot order")
	return cmd
}
