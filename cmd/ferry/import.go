package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/ferrygitops/ferry/bot"
	"github.com/ferrygitops/ferry/document"
	"github.com/ferrygitops/ferry/internal/printer"
	"github.com/ferrygitops/ferry/migrate"
	"github.com/ferrygitops/ferry/updater"
)

// importResult is what `ferry import -o json` prints.
type importResult = migrate.ImportResult

func newImportCmd(g *globals) *cobra.Command {
	var repo string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "import argocd-image-updater [FILE...]",
		Short: "Convert Argo CD Image Updater's configuration into .ferry/ policies and markers",
		Long: `Import reads Argo CD Image Updater's configuration — Argo CD Applications annotated
with argocd-image-updater.argoproj.io/* (v0.x) and ImageUpdater resources (v1.x) — from
the FILEs given, or from every file of the repository that mentions it, and writes:

  .ferry/argocd-image-updater.yaml   one ImagePolicy per image and app (APP-ALIAS)
  markers                            {"$imagepolicy": ...} comments on the values Argo CD
                                     Image Updater wrote: Helm values or parameters
                                     (helm.image-name/-tag/-spec), kustomization images:
                                     entries (kustomize.image-name)

Only comments are added to existing files; every write is atomic, all or nothing, and a
second run changes nothing. Settings without a Ferry counterpart are listed with what
Ferry does instead. The paths of the Applications are read relative to --repo.

Exit codes: 0 converted (unmapped settings are listed, not errors); 2 invalid flags,
no configuration found, or an existing .ferry/argocd-image-updater.yaml that differs;
3 a file could not be read or written.`,
		Example: `  ferry import argocd-image-updater --repo ./manifests --dry-run
  ferry import argocd-image-updater --repo ./manifests apps/argocd/*.yaml
  ferry scan --repo ./manifests      # the tags the imported policies choose`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] != "argocd-image-updater" {
				return &exitError{code: exitConfig, err: fmt.Errorf("unknown source %q: ferry import reads argocd-image-updater (Flux's objects need no import: ferry scan reads them as they are)", args[0])}
			}
			if info, err := os.Stat(repo); err != nil || !info.IsDir() {
				return &bot.NotFoundError{What: "repository", Path: repo, Err: cmpErr(err, errors.New("not a directory"))}
			}
			files, err := importFiles(cmd, repo, args[1:])
			if err != nil {
				return err
			}
			if len(files) == 0 {
				return &exitError{code: exitConfig, err: fmt.Errorf("no Argo CD Image Updater configuration (%s) found in %s", migrate.ArgoGroup, repo)}
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

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// importFiles reads the files named, or finds the repository's.
func importFiles(cmd *cobra.Command, repo string, names []string) ([]document.File, error) {
	if len(names) == 0 {
		return updater.FindFiles(cmd.Context(), repo, []byte(migrate.ArgoGroup), updater.Options{})
	}
	var files []document.File
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			return nil, &bot.NotFoundError{What: "file", Path: n, Err: err}
		}
		files = append(files, document.File{Name: n, Data: data})
	}
	return files, nil
}
