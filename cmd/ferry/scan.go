package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/ferrygitops/ferry/internal/scratch"

	"github.com/spf13/cobra"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/ferrygitops/ferry/bot"
	"github.com/ferrygitops/ferry/gitrepo"
	"github.com/ferrygitops/ferry/updater"
)

type scanFlags struct {
	repo     string
	policies string
	branch   string
	explain  bool
	exitCode bool
	stats    bool
	force    bool
	registry registryFlags
}

func (f *scanFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.repo, "repo", ".", "the manifest repository: a local directory, or (for scan) a clone URL read at --branch (HTTPS with $GITHUB_TOKEN)")
	fs.StringVar(&f.branch, "branch", "main", "the branch to read when --repo is a clone URL")
	fs.StringVar(&f.policies, "policies", "", "directory of policy files (default: REPO/.ferry)")
	fs.BoolVar(&f.explain, "explain", false, "also list the files not read and why, markers that update nothing, and what Ferry reads but does differently")
	fs.BoolVar(&f.exitCode, "exit-code", false, "exit 1 when references would change (for CI gates; a failure still exits 3)")
	fs.BoolVar(&f.stats, "stats", false, "report the registry calls made")
	f.registry.register(cmd)
}

func newScanCmd(g *globals) *cobra.Command {
	var f scanFlags
	cmd := &cobra.Command{
		Use:   "scan",
		Short: "Show, for each policy, the newest allowed tag and where the image is used",
		Long: `Scan loads the policies under REPO/.ferry, lists each image's tags once, picks the
newest tag each policy allows, and reports every place in the repository that
references the image, with the value it would get. It never writes.

A repository without .ferry is read as Flux left it: its ImageRepository,
ImagePolicy and ImageUpdateAutomation objects (image.toolkit.fluxcd.io),
wherever they are, choose the tags Flux would choose and update the references
their markers name; --explain lists what Ferry does differently.

Exit codes: 0 done; 1 references would change (only with --exit-code);
2 invalid documents or flags, a wrong --repo or --policies, no policies;
3 a registry or manifest could not be read, or a marker names no policy (the
rest of the report is still printed).`,
		Example: `  ferry scan --repo ./manifests
  ferry scan --repo ./manifests -o json | jq '.policies[] | {name, tag}'
  ferry scan --repo ./manifests --explain --stats
  ferry scan --repo ./manifests --exit-code   # in CI: exit 1 while updates are pending`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := runScan(cmd, g, &f)
			if err != nil {
				return err
			}
			if g.machine() {
				if err := g.write(rep); err != nil {
					return err
				}
			} else {
				printScan(g.stdout, rep, f.explain)
				if t := rep.Stats; t != nil {
					sigs := ""
					if rep.SignatureCalls != nil {
						sigs = fmt.Sprintf(" (%d for signatures)", *rep.SignatureCalls)
					}
					fmt.Fprintf(g.stdout, "\nRegistry calls: %d requests%s, %d retries, %d errors.\n", t.Requests, sigs, t.Retries, t.Errors)
				}
			}
			if rep.Failed() {
				return &exitError{code: exitFailure}
			}
			if f.exitCode && pending(rep) {
				return &exitError{code: exitDiff}
			}
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

func runScan(cmd *cobra.Command, g *globals, f *scanFlags) (*bot.Report, error) {
	client := f.registry.client()
	dir := f.repo
	if isRemote(f.repo) {
		if cmd.Name() != "scan" {
			return nil, usageError("--repo %s is a clone URL, but %s rewrites a working tree: give a local clone's directory (ferry bump clones, updates and opens pull requests)", gitrepo.RedactURL(f.repo), cmd.Name())
		}
		tmpDir, err := scratch.New("ferry-scan-")
		if err != nil {
			return nil, err
		}
		defer tmpDir.Close()
		tmp := tmpDir.Path
		g.progress("Cloning %s…", gitrepo.RedactURL(f.repo))
		auth := gitrepo.Auth{Username: gitrepo.DefaultUsername, Token: os.Getenv("GITHUB_TOKEN")}
		if _, err := gitrepo.Clone(cmd.Context(), f.repo, f.branch, tmp, auth, 1); err != nil {
			return nil, err
		}
		dir = tmp
	}
	g.log.Info("scanning", "repo", gitrepo.RedactURL(f.repo))
	g.progress("Scanning %s and listing its images' tags…", gitrepo.RedactURL(f.repo))
	rep, err := bot.Scan(cmd.Context(), client, bot.ScanOptions{
		Repo:        dir,
		PoliciesDir: f.policies,
		Now:         g.now(),
		Explain:     f.explain,
		Force:       f.force,
	})
	if err != nil {
		return nil, err
	}
	if dir != f.repo {
		rep.Repo = gitrepo.RedactURL(f.repo)
	}
	if f.stats {
		t := client.Stats().Total()
		rep.Stats = &t
		for _, p := range rep.Policies {
			if p.Verify != nil {
				n := rep.SignatureRequests()
				rep.SignatureCalls = &n
				break
			}
		}
	}
	for _, p := range rep.Policies {
		if p.Error != "" {
			// The report says it too; the log line is for -o json and log collectors.
			g.log.Debug("policy failed", "policy", p.Name, "error", p.Error)
		}
	}
	return rep, nil
}

// write prints v for scripts, as JSON or YAML (-o).
func (g *globals) write(v any) error {
	if g.output == "yaml" {
		data, err := sigsyaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = g.stdout.Write(data)
		return err
	}
	return writeJSON(g.stdout, v)
}

// machine reports whether the output is for scripts (-o json or yaml).
func (g *globals) machine() bool { return g.output == "json" || g.output == "yaml" }

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printScan(w io.Writer, rep *bot.Report, explain bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "POLICY\tIMAGE\tSTRATEGY\tNEWEST\tMATCHED/SEEN")
	for _, p := range rep.Policies {
		newest := p.Tag
		switch {
		case p.Error != "":
			newest = "ERROR"
		case newest == "":
			newest = "(none)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\n", p.Name, p.Image, p.Strategy, newest, p.TagsMatched, p.TagsSeen)
	}
	tw.Flush()

	var refs int
	for _, p := range rep.Policies {
		refs += len(p.References)
	}
	fmt.Fprintln(w)
	if refs == 0 {
		fmt.Fprintln(w, "No references to these images found in the repository.")
	} else {
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "FILE:LINE\tOBJECT\tPOLICY\tCURRENT\tWANTED\tSTATUS")
		for _, p := range rep.Policies {
			for _, r := range p.References {
				wanted := r.Wanted
				if wanted == "" || r.Status == updater.StatusCurrent {
					wanted = "-"
				}
				if wanted != "-" {
					wanted = shortValue(r.Form, wanted)
				}
				fmt.Fprintf(tw, "%s:%d\t%s\t%s\t%s\t%s\t%s\n", r.File, r.Line, objectName(r.Object), p.Name, shortValue(r.Form, r.Current), wanted, r.Status)
			}
		}
		tw.Flush()
	}

	printVerify(w, rep)
	for _, p := range rep.Policies {
		if p.Error != "" {
			fmt.Fprintf(w, "\nerror: policy %s: %s\n", p.Name, p.Error)
		}
		for _, r := range p.Rejected {
			v := r.Tag
			if r.Digest != "" && v == "" {
				v = r.Digest
			}
			fmt.Fprintf(w, "\npolicy %s: %s skipped, rejected: %s (%s)\n", p.Name, v, r.Reason, r.Source)
		}
		if len(p.Skipped) > 0 && explain {
			fmt.Fprintf(w, "\npolicy %s: %d tags matched the pattern but could not be ordered, e.g.:\n", p.Name, len(p.Skipped))
			for _, s := range p.Skipped {
				fmt.Fprintf(w, "  %s: %s\n", s.Tag, s.Reason)
			}
		}
	}
	for _, fe := range rep.FileErrors {
		loc := fe.File
		if fe.Line > 0 {
			loc = fmt.Sprintf("%s:%d", fe.File, fe.Line)
		}
		fmt.Fprintf(w, "\nerror: %s: %s (blocks policies: %s)\n", loc, fe.Error, strings.Join(fe.Policies, ", "))
	}
	for _, d := range rep.Decisions {
		if d.Status == updater.StatusRefused {
			fmt.Fprintf(w, "\nerror: %s:%d: refused: %s\n", d.File, d.Line, d.Why)
		}
	}
	printMarkers(w, rep.Markers)
	if explain && len(rep.Notes) > 0 {
		fmt.Fprintf(w, "\nRead, but done differently by Ferry (%d):\n", len(rep.Notes))
		for _, n := range rep.Notes {
			fmt.Fprintf(w, "  %s\n", n)
		}
	}
	if explain && len(rep.Skipped) > 0 {
		byReason := map[string][]string{}
		for _, s := range rep.Skipped {
			byReason[s.Reason] = append(byReason[s.Reason], s.File)
		}
		reasons := make([]string, 0, len(byReason))
		for r := range byReason {
			reasons = append(reasons, r)
		}
		sort.Strings(reasons)
		fmt.Fprintf(w, "\nFiles not read (%d of %d considered; %d parsed):\n", len(rep.Skipped), rep.Files, rep.Parsed)
		for _, r := range reasons {
			fmt.Fprintf(w, "  %s (%d):\n", r, len(byReason[r]))
			for _, f := range byReason[r] {
				fmt.Fprintf(w, "    %s\n", f)
			}
		}
	}
}

// printMarkers lists the markers that update nothing: errors for names no
// policy has, notes for policies that do not govern the file.
func printMarkers(w io.Writer, ms []updater.MarkerProblem) {
	for _, m := range ms {
		kind := "error"
		if m.Known {
			kind = "note"
		}
		fmt.Fprintf(w, "\n%s: %s:%d: marker {\"$imagepolicy\": %q}: %s\n", kind, m.File, m.Line, m.Marker, m.Why)
	}
}

// pending reports whether a scan's plan would change any reference.
func pending(rep *bot.Report) bool { return len(rep.Changes()) > 0 }

// printVerify reports, per policy with spec.verify, the verified tag chosen
// and every newer candidate skipped for its signature, with the reason.
func printVerify(w io.Writer, rep *bot.Report) {
	for _, p := range rep.Policies {
		v := p.Verify
		if v == nil {
			continue
		}
		fmt.Fprintln(w)
		if v.Tag != "" {
			fmt.Fprintf(w, "policy %s: %s verified: signed by %s (%s)\n", p.Name, v.Tag, v.Signer, v.Scheme)
		} else {
			fmt.Fprintf(w, "policy %s: %s\n", p.Name, v.Note)
		}
		for _, r := range v.Rejected {
			fmt.Fprintf(w, "  skipped %s: %s: %s\n", r.Tag, r.Reason, r.Detail)
		}
	}
}

// objectName renders "Kind/namespace/name" without its empty parts.
func objectName(o string) string { return orDash(bot.ObjectName(o)) }

// shortValue shows what changes in a whole-image value.
func shortValue(form updater.Form, v string) string { return bot.ShortValue(form, v) }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
