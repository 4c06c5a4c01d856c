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
		Long: `Update runs the scan of 'ferry scan' and rewrites every reference whose wanted value
differs from the current one, in place. Only the bytes of each image value change:
comments, quoting, indentation and line endings are kept. Files are written
atomically, all or nothing.

It never downgrades: a reference whose tag is newer than the chosen one is left
alone ("ahead"), and one whose tag the policy cannot order is left alone
("unmanaged") unless --force. It never writes a broken reference: a rewrite
whose result is not a valid image reference, or that would change the
repository of a whole-image value, is refused with its file and line.

Exit codes: 0 done (or nothing to do); 1 --dry-run --exit-code and references
would change; 2 invalid documents or flags, a wrong --repo, no policies; 3 a
registry or manifest could not be read (nothing else is held back: the other
references are still updated).`,
		Example: `  ferry update --repo ./manifests --dry-run
  ferry update --repo ./manifests --dry-run --exit-code   # CI gate: exit 1 while updates are pending
  ferry update --repo ./manifests
  ferry update --repo ./manifests -o json`,
		Args: cobra.NoArgs,
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
