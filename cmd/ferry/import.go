package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ferrygitops/ferry/bot"
	"github.com/ferrygitops/ferry/document"
	"github.com/ferrygitops/ferry/dotferry"
	"github.com/ferrygitops/ferry/migrate"
	"github.com/ferrygitops/ferry/updater"
)

// importedFile is where ferry import writes the converted policies.
const importedFile = "argocd-image-updater.yaml"

type importResult struct {
	DryRun  bool          `json:"dryRun"`
	Plan    *migrate.Plan `json:"plan"`
	Written []string      `json:"written"`
	Diff    string        `json:"diff,omitempty"`
}

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
			// A value that cannot carry a marker (a flow mapping, a
			// line with another comment) is listed, not fatal.
			plan.CheckMarks(func(m updater.Mark) error {
				_, _, err := updater.AddMarkers(cmd.Context(), repo, []updater.Mark{m}, true)
				var me *updater.MarkError
				if errors.As(err, &me) {
					return me.Err
				}
				return err
			})
			res := importResult{DryRun: dryRun, Plan: plan, Written: []string{}}
			if len(plan.Policies) > 0 {
				written, diff, err := writeImport(cmd, repo, plan, dryRun)
				if err != nil {
					return err
				}
				res.Written, res.Diff = append(res.Written, written...), diff
			}
			if g.machine() {
				return g.write(res)
			}
			printImport(g.stdout, &res)
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

// writeImport writes the policies file, then the markers; if the markers
// cannot be written, the policies file is removed again.
func writeImport(cmd *cobra.Command, repo string, plan *migrate.Plan, dryRun bool) ([]string, string, error) {
	data := plan.YAML()
	rel := filepath.ToSlash(filepath.Join(dotferry.Dir, importedFile))
	if _, err := dotferry.Parse(rel, data); err != nil {
		return nil, "", fmt.Errorf("the converted policies do not read back (a Ferry bug; please report it): %w", err)
	}
	target := filepath.Join(repo, dotferry.Dir, importedFile)
	old, err := os.ReadFile(target)
	existed := err == nil
	switch {
	case existed && !bytes.Equal(old, data):
		return nil, "", &exitError{code: exitConfig, err: fmt.Errorf("%s exists and differs from this import: remove it (or import into a clean checkout) to convert again", target)}
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, "", err
	}
	if dryRun {
		_, diff, err := updater.AddMarkers(cmd.Context(), repo, plan.Marks, true)
		if err != nil {
			return nil, "", err
		}
		return nil, "--- /dev/null\n+++ b/" + rel + "\n" + addLines(data) + diff, nil
	}
	var written []string
	if !existed {
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return nil, "", err
		}
		if err := atomicCreate(target, data); err != nil {
			return nil, "", err
		}
		written = append(written, rel)
	}
	marked, _, err := updater.AddMarkers(cmd.Context(), repo, plan.Marks, false)
	if err != nil {
		if !existed {
			os.Remove(target)
		}
		return nil, "", err
	}
	return append(written, marked...), "", nil
}

// atomicCreate writes a new file that must not exist yet, atomically.
func atomicCreate(target string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".ferry-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// Link fails if the target appeared meanwhile: never overwrite.
		err = os.Link(f.Name(), target)
	}
	os.Remove(f.Name())
	return err
}

func addLines(data []byte) string {
	var b bytes.Buffer
	for _, l := range bytes.SplitAfter(data, []byte("\n")) {
		if len(l) > 0 {
			b.WriteString("+")
			b.Write(l)
		}
	}
	return b.String()
}

func printImport(w io.Writer, res *importResult) {
	p := res.Plan
	verb := "Wrote"
	if res.DryRun {
		verb = "Would write"
	}
	fmt.Fprintf(w, "%s %d policies and %d markers.\n", verb, len(p.Policies), len(p.Marks))
	if len(p.Mapped) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "APP\tALIAS\tSETTING\tVALUE\tFERRY")
		for _, m := range p.Mapped {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", orDash(m.App), orDash(m.Alias), m.Setting, orDash(m.Value), m.Result)
		}
		tw.Flush()
	}
	if len(p.Unmapped) > 0 {
		fmt.Fprintf(w, "\nNot mapped (%d):\n", len(p.Unmapped))
		for _, m := range p.Unmapped {
			fmt.Fprintf(w, "  %s: %s %s %s=%q: %s\n", m.Source, orDash(m.App), orDash(m.Alias), m.Setting, m.Value, m.Result)
		}
	}
	if res.Diff != "" {
		fmt.Fprintln(w)
		fmt.Fprint(w, res.Diff)
	}
}
