package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ferrygitops/ferry/bot"
	"github.com/ferrygitops/ferry/updater"
)

type updateResult struct {
	DryRun  bool             `json:"dryRun"`
	Changes []updater.Change `json:"changes"`
	Held    []heldRef        `json:"held,omitempty"`
	Written []string         `json:"written"`
	Diff    string           `json:"diff,omitempty"`
	Report  *bot.Report      `json:"scan"`
}

// heldRef is a reference left alone on purpose (ahead, unmanaged, blocked).
type heldRef struct {
	File    string         `json:"file"`
	Line    int            `json:"line"`
	Policy  string         `json:"policy"`
	Current string         `json:"current"`
	Status  updater.Status `json:"status"`
	Why     string         `json:"why,omitempty"`
}

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
			res := updateResult{DryRun: dryRun, Changes: rep.Changes(), Written: []string{}, Report: rep}
			if res.Changes == nil {
				res.Changes = []updater.Change{}
			}
			for _, d := range rep.Decisions {
				switch d.Status {
				case updater.StatusAhead, updater.StatusUnmanaged, updater.StatusBlocked, updater.StatusRefused:
					res.Held = append(res.Held, heldRef{File: d.File, Line: d.Line, Policy: d.Policy, Current: d.Current, Status: d.Status, Why: d.Why})
				}
			}
			if dryRun {
				res.Diff, err = updater.Diff(f.repo, res.Changes)
				if err != nil {
					return &exitError{code: exitFailure, err: err}
				}
			} else if len(res.Changes) > 0 {
				written, err := updater.Apply(cmd.Context(), f.repo, res.Changes)
				if err != nil {
					return &exitError{code: exitFailure, err: fmt.Errorf("nothing was written: %w", err)}
				}
				res.Written = written
				g.log.Info("updated", "files", len(written), "changes", len(res.Changes))
			}
			if g.machine() {
				if err := g.write(res); err != nil {
					return err
				}
			} else {
				printUpdate(g.stdout, &res)
				for _, p := range rep.Policies {
					if p.Error != "" {
						fmt.Fprintf(g.stdout, "\nerror: policy %s: %s\n", p.Name, p.Error)
					}
				}
				for _, fe := range rep.FileErrors {
					fmt.Fprintf(g.stdout, "\nerror: %s:%d: %s\n", fe.File, fe.Line, fe.Error)
				}
				printMarkers(g.stdout, rep.Markers)
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

func printUpdate(w io.Writer, res *updateResult) {
	switch {
	case len(res.Changes) == 0 && res.Report.Failed():
		fmt.Fprintln(w, "No reference was updated, and some could not be checked (the errors are below).")
	case len(res.Changes) == 0:
		fmt.Fprintln(w, "Everything is up to date.")
	default:
		verb := "Updated"
		if res.DryRun {
			verb = "Would update"
		}
		fmt.Fprintf(w, "%s %d reference(s):\n", verb, len(res.Changes))
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "FILE:LINE\tOBJECT\tFIELD\tOLD\t\tNEW")
		for _, c := range res.Changes {
			fmt.Fprintf(tw, "%s:%d\t%s\t%s\t%s\t→\t%s\n", c.File, c.Line, objectName(c.Object), c.FieldPath, shortValue(c.Form, c.From), shortValue(c.Form, c.To))
		}
		tw.Flush()
	}
	if len(res.Held) > 0 {
		fmt.Fprintln(w, "\nLeft alone:")
		for _, h := range res.Held {
			fmt.Fprintf(w, "  %s:%d %s (%s): %s\n", h.File, h.Line, h.Current, h.Status, h.Why)
		}
	}
	if res.DryRun && res.Diff != "" {
		fmt.Fprintln(w)
		fmt.Fprint(w, res.Diff)
	}
}
