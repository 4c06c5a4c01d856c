package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/ferrygitops/ferry/internal/printer"
	"github.com/ferrygitops/ferry/migrate"
)

// importResult is what `ferry import -o json` prints.
type importResult = migrate.ImportResult

func newImportCmd(g *globals) *cobra.Command {
	var repo string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "import argocd-image-updater [FILE...]",
		Short: "Convert Argo CD Image Updater's configuration into .ferry/ policies and markers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] != "argocd-image-updater" {
				return &exitError{code: exitConfig, err: fmt.Errorf("unknown source %q: ferry import reads argocd-image-updater (Flux's objects need no import: ferry scan reads them as they are)", args[0])}
			}
			files, err := migrate.ReadFiles(cmd.Context(), repo, args[1:])
			if err != nil {
				return err
			}
			plan, err := migrate.ArgoCDImageUpdater(files, os.DirFS(repo))
			if err != nil {
				return &exitError{code: exitConfig, err: err}
			}
			res, err := migrate.Import(cmd.Context(), repo, plan, dryRun)
			var ee *migrate.ExistsError
			if errors.As(err, &ee) {
				return &exitError{code: exitConfig, err: err}
			}
			if err != nil {
				return err
			}
			if g.machine() {
				return g.write(res)
			}
			printer.Import(g.stdout, res)
			return nil
		},
	}
	cmd.Flags().StringVar(&repo, "repo", ".", "the manifest repository's root directory")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "write nothing; print the policies and the diff of the markers")
	return cmd
}
