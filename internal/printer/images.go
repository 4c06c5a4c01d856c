package printer

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/ferrygitops/ferry/bot"
	"github.com/ferrygitops/ferry/migrate"
	"github.com/ferrygitops/ferry/promote"
	"github.com/ferrygitops/ferry/updater"
)

// objectName renders "Kind/namespace/name" without its empty parts.
func objectName(o string) string { return OrDash(bot.ObjectName(o)) }

// Scan prints a scan's report: the policies, the references, then what
// went wrong and, with explain, what was not read; and the registry calls
// when counted.
func Scan(w io.Writer, rep *bot.Report, explain bool) {
	tw := table(w)
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
		tw = table(w)
		fmt.Fprintln(tw, "FILE:LINE\tOBJECT\tPOLICY\tCURRENT\tWANTED\tSTATUS")
		for _, p := range rep.Policies {
			for _, r := range p.References {
				wanted := r.Wanted
				if wanted == "" || r.Status == updater.StatusCurrent {
					wanted = "-"
				}
				if wanted != "-" {
					wanted = bot.ShortValue(r.Form, wanted)
				}
				fmt.Fprintf(tw, "%s:%d\t%s\t%s\t%s\t%s\t%s\n", r.File, r.Line, objectName(r.Object), p.Name, bot.ShortValue(r.Form, r.Current), wanted, r.Status)
			}
		}
		tw.Flush()
	}

	Verify(w, rep)
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
	Markers(w, rep.Markers)
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
	if t := rep.Stats; t != nil {
		sigs := ""
		if rep.SignatureCalls != nil {
			sigs = fmt.Sprintf(" (%d for signatures)", *rep.SignatureCalls)
		}
		fmt.Fprintf(w, "\nRegistry calls: %d requests%s, %d retries, %d errors.\n", t.Requests, sigs, t.Retries, t.Errors)
	}
}

// Markers lists the markers that update nothing: errors for names no
// policy has, notes for policies that do not govern the file.
func Markers(w io.Writer, ms []updater.MarkerProblem) {
	for _, m := range ms {
		kind := "error"
		if m.Known {
			kind = "note"
		}
		fmt.Fprintf(w, "\n%s: %s:%d: marker {\"$imagepolicy\": %q}: %s\n", kind, m.File, m.Line, m.Marker, m.Why)
	}
}

// Verify reports, per policy with spec.verify, the verified tag chosen
// and every newer candidate skipped for its signature, with the reason.
func Verify(w io.Writer, rep *bot.Report) {
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

// Update prints what an update changed (or would), what it left alone,
// the diff of a dry run, and the scan's errors.
func Update(w io.Writer, res *bot.UpdateResult) {
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
		tw := table(w)
		fmt.Fprintln(tw, "FILE:LINE\tOBJECT\tFIELD\tOLD\t\tNEW")
		for _, c := range res.Changes {
			fmt.Fprintf(tw, "%s:%d\t%s\t%s\t%s\t→\t%s\n", c.File, c.Line, objectName(c.Object), c.FieldPath, bot.ShortValue(c.Form, c.From), bot.ShortValue(c.Form, c.To))
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
	rep := res.Report
	for _, p := range rep.Policies {
		if p.Error != "" {
			fmt.Fprintf(w, "\nerror: policy %s: %s\n", p.Name, p.Error)
		}
	}
	for _, fe := range rep.FileErrors {
		fmt.Fprintf(w, "\nerror: %s:%d: %s\n", fe.File, fe.Line, fe.Error)
	}
	Markers(w, rep.Markers)
}

// Bump prints a bump cycle: a line per group, then errors, holds and, for
// a dry run, the pull requests Ferry would open.
func Bump(w io.Writer, res *bot.BumpResult) {
	dry := ""
	if res.DryRun {
		dry = " (dry run: nothing was written)"
	}
	fmt.Fprintf(w, "%s on %s at %.12s, mode %s%s\n\n", res.Repo, res.Base, res.BaseCommit, res.Mode, dry)
	tw := table(w)
	fmt.Fprintln(tw, "GROUP\tBRANCH\tCHANGES\tACTION\tPULL REQUEST")
	for _, g := range res.Groups {
		pr := "-"
		if g.PullURL != "" {
			pr = fmt.Sprintf("#%d %s", g.PullNumber, g.PullURL)
		}
		action := g.Action
		if g.Error != "" {
			action = "error"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", g.Group, g.Branch, len(g.Changes), action, pr)
	}
	tw.Flush()
	if res.Scan != nil {
		Verify(w, res.Scan)
	}
	for _, g := range res.Groups {
		if g.Error != "" {
			fmt.Fprintf(w, "\nerror: group %s: %s\n", g.Group, g.Error)
		}
		for _, h := range g.Holds {
			fmt.Fprintf(w, "\nheld: %s %s: %s was rolled back by %s (%.12s); only newer tags are proposed\n", h.File, h.FieldPath, h.Tag, h.By, h.Commit)
		}
		if res.DryRun && len(g.Changes) > 0 {
			fmt.Fprintf(w, "\n--- %s → %s\nTitle: %s\n\n%s\n%s", g.Group, g.Branch, g.Title, g.Body, g.Diff)
		}
	}
}

// Promote prints the promotions run: a line each, then their gates.
func Promote(w io.Writer, results []promote.Result, dry bool) {
	tw := table(w)
	fmt.Fprintln(tw, "PROMOTION\tFROM\tTO\tREVISION\tACTION\tPULL REQUEST")
	for _, r := range results {
		pr := "-"
		if r.PullURL != "" {
			pr = fmt.Sprintf("#%d %s", r.PullNumber, r.PullURL)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Promotion, r.From, r.To, Short(r.Revision), r.Action, pr)
	}
	tw.Flush()
	for _, r := range results {
		fmt.Fprintf(w, "\n%s:\n", r.Promotion)
		for _, gt := range r.Gates {
			fmt.Fprintf(w, "  %-12s %-7s %s\n", gt.Name, gt.State, gt.Detail)
		}
		for _, s := range r.Skipped {
			fmt.Fprintf(w, "  left alone: %s:%d: %s\n", s.File, s.Line, s.Why)
		}
		if r.Error != "" {
			fmt.Fprintf(w, "  error: %s\n", r.Error)
		}
		if dry && r.Diff != "" {
			fmt.Fprintf(w, "\nTitle: %s\n\n%s", r.Title, r.Diff)
		}
	}
}

// Reject prints what a rejection (or its undo) did, and the diff of a dry
// run.
func Reject(w io.Writer, res *promote.RejectResult, dry bool) {
	what := "rejected"
	if res.Undo {
		what = "rejection lifted"
	}
	fmt.Fprintf(w, "%s: %s (%s", res.Version, what, res.Action)
	if res.PullURL != "" {
		fmt.Fprintf(w, ", #%d %s", res.PullNumber, res.PullURL)
	} else if res.Branch != "" {
		fmt.Fprintf(w, ", branch %s", res.Branch)
	}
	fmt.Fprintln(w, ")")
	if dry {
		fmt.Fprint(w, res.Diff)
	}
}

// Import prints what an import wrote (or would): the counts, the settings
// mapped and not, and the diff of a dry run.
func Import(w io.Writer, res *migrate.ImportResult) {
	p := res.Plan
	verb := "Wrote"
	if res.DryRun {
		verb = "Would write"
	}
	fmt.Fprintf(w, "%s %d policies and %d markers.\n", verb, len(p.Policies), len(p.Marks))
	if len(p.Mapped) > 0 {
		fmt.Fprintln(w)
		tw := table(w)
		fmt.Fprintln(tw, "APP\tALIAS\tSETTING\tVALUE\tFERRY")
		for _, m := range p.Mapped {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", OrDash(m.App), OrDash(m.Alias), m.Setting, OrDash(m.Value), m.Result)
		}
		tw.Flush()
	}
	if len(p.Unmapped) > 0 {
		fmt.Fprintf(w, "\nNot mapped (%d):\n", len(p.Unmapped))
		for _, m := range p.Unmapped {
			fmt.Fprintf(w, "  %s: %s %s %s=%q: %s\n", m.Source, OrDash(m.App), OrDash(m.Alias), m.Setting, m.Value, m.Result)
		}
	}
	if res.Diff != "" {
		fmt.Fprintln(w)
		fmt.Fprint(w, res.Diff)
	}
}
