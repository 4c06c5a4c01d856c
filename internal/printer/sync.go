package printer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/ferrygitops/ferry/deploy"
	"github.com/ferrygitops/ferry/deploy/diff"
	"github.com/ferrygitops/ferry/deploy/render"
)

// Record prints a sync's record: what it did, its counts, the objects
// that changed or are not healthy, and its hooks.
func Record(w io.Writer, rec deploy.Record) {
	what := "synced"
	if rec.DryRun {
		what = "dry run of"
	}
	pinned := ""
	if rec.Pinned {
		pinned = " (pinned)"
	}
	fmt.Fprintf(w, "%s %s at %s%s: %s in %s\n", what, rec.App, Short(rec.Revision), pinned, rec.Result, rec.Finished.Sub(rec.Started).Round(10*time.Millisecond))
	c := rec.Counts
	fmt.Fprintf(w, "%d created, %d configured, %d unchanged, %d pruned, %d skipped, %d failed\n", c.Created, c.Configured, c.Unchanged, c.Pruned, c.Skipped, c.Failed)
	var rows []deploy.ObjectResult
	for _, o := range rec.Objects {
		if o.Action != deploy.ActionUnchanged || (o.Health != "" && o.Health != "Current") {
			rows = append(rows, o)
		}
	}
	if len(rows) > 0 {
		fmt.Fprintln(w)
		tw := table(w)
		fmt.Fprintln(tw, "OBJECT\tACTION\tHEALTH\tMESSAGE")
		for _, o := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", o.ObjectKey, OrDash(string(o.Action)), OrDash(o.Health), OrDash(OneLine(o.Message)))
		}
		tw.Flush()
	}
	Hooks(w, rec.Hooks)
}

// Hooks lists a sync's hook runs.
func Hooks(w io.Writer, hs []deploy.HookResult) {
	if len(hs) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := table(w)
	fmt.Fprintln(tw, "HOOK\tPHASE\tWAVE\tRESULT\tMESSAGE")
	for _, h := range hs {
		msg := h.Message
		if h.Deleted {
			msg = strings.TrimPrefix(msg+"; deleted", "; ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", h.ObjectKey, h.Phase, h.Wave, h.Result, OrDash(OneLine(msg)))
	}
	tw.Flush()
}

// Tick prints a round of sync --watch: a YAML document or a JSON line for
// scripts; for people, a line when something changed or failed.
func Tick(w io.Writer, format string, t deploy.Tick) {
	if format == "yaml" {
		fmt.Fprintln(w, "---")
		_ = Write(w, format, t)
		return
	}
	if Machine(format) {
		b, err := json.Marshal(t)
		if err == nil {
			fmt.Fprintln(w, string(b))
		}
		return
	}
	r := t.Record
	if t.Err == nil && !r.Counts.Changed() && len(t.Drifted) == 0 {
		return // quiet round
	}
	line := fmt.Sprintf("%s  %s  %s  %s  %d created, %d configured, %d pruned", t.Time.Format(time.RFC3339), r.App, Short(r.Revision), r.Result, r.Counts.Created, r.Counts.Configured, r.Counts.Pruned)
	if r.DryRun {
		line += " (not applied: automated or selfHeal off)"
	}
	for _, d := range t.Drifted {
		line += fmt.Sprintf("; drifted %s %s", d.ObjectKey, strings.Join(d.Paths, ","))
	}
	if t.Err != nil {
		line += "; error: " + OneLine(t.Err.Error())
	}
	fmt.Fprintln(w, line)
}

// Diff prints a diff's changed objects, each with its unified diff, and
// whether the app is in sync.
func Diff(w io.Writer, res deploy.DiffResult, note string) {
	if note != "" {
		fmt.Fprintln(w, note)
	}
	changed := res.Changed()
	for _, o := range changed {
		head := fmt.Sprintf("# %s: %s", o.ObjectKey, o.Action)
		if o.Drifted {
			head += " (drifted: changed in the cluster since Ferry applied it)"
		}
		if o.Source != "" {
			head += " from " + o.Source
		}
		fmt.Fprintln(w, head)
		if o.Error != "" {
			fmt.Fprintf(w, "error: %s\n", o.Error)
		}
		fmt.Fprint(w, o.Diff)
		fmt.Fprintln(w)
	}
	if res.InSync {
		fmt.Fprintf(w, "%s at %s is in sync (%d objects)\n", res.App, Short(res.Revision), len(res.Objects))
		return
	}
	fmt.Fprintf(w, "%s at %s: %d of %d objects differ\n", res.App, Short(res.Revision), len(changed), len(res.Objects))
}

// Status prints an app's status: where it is, its last syncs and hooks,
// its pin (release is the command that releases it) and its objects'
// health.
func Status(w io.Writer, st deploy.AppStatus, release string) {
	tw := table(w)
	fmt.Fprintln(tw, "APP\tSYNCED\tLAST SYNC\tRESULT\tREASON\tPIN\tLOCK")
	result, reason, last := "-", "-", "-"
	if st.Last != nil {
		result, reason = string(st.Last.Result), OrDash(string(st.Last.Reason))
		last = fmt.Sprintf("%s at %s", Short(st.Last.Revision), st.Last.Finished.Format(time.RFC3339))
	}
	pin, lock := "-", "-"
	if st.Pin != nil {
		pin = fmt.Sprintf("%s (from %s, %s)", Short(st.Pin.Revision), Short(st.Pin.From), st.Pin.Time.Format(time.RFC3339))
	}
	if st.Lock != nil {
		lock = fmt.Sprintf("%s until %s", st.Lock.Holder, st.Lock.Until.Format(time.RFC3339))
	}
	fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", st.App, Short(st.Revision), last, result, reason, pin, lock)
	tw.Flush()
	if st.Last != nil && st.Last.Result == deploy.Failed && st.Revision != "" {
		fmt.Fprintf(w, "\nThe last sync (%s) failed: the cluster is still at %s.\n", Short(st.Last.Revision), Short(st.Revision))
	}
	if st.Last != nil && len(st.Last.Hooks) > 0 {
		fmt.Fprintf(w, "\nHooks of the last sync (%s):\n", Short(st.Last.Revision))
		Hooks(w, st.Last.Hooks)
	}
	if st.Pin != nil {
		fmt.Fprintf(w, "\nPinned by a rollback: syncs keep %s until `%s`.\n", Short(st.Pin.Revision), release)
	}
	if len(st.History) > 0 {
		fmt.Fprintln(w)
		tw = table(w)
		fmt.Fprintln(tw, "FINISHED\tREVISION\tTRIGGER\tRESULT\tREASON\tCREATED\tCONFIGURED\tPRUNED\tFAILED\tERROR")
		for _, r := range st.History {
			rev := Short(r.Revision)
			if r.Pinned {
				rev += " (pinned)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", r.Finished.Format(time.RFC3339), rev, r.Trigger, r.Result, OrDash(string(r.Reason)),
				r.Counts.Created, r.Counts.Configured, r.Counts.Pruned, r.Counts.Failed, OrDash(OneLine(r.Error)))
		}
		tw.Flush()
	}
	healthy := 0
	var bad []deploy.ObjectResult
	for _, o := range st.Objects {
		if o.Health == "Current" {
			healthy++
		} else {
			bad = append(bad, o)
		}
	}
	fmt.Fprintf(w, "\n%d of %d objects healthy\n", healthy, len(st.Objects))
	if len(bad) > 0 {
		tw = table(w)
		fmt.Fprintln(tw, "OBJECT\tHEALTH\tMESSAGE")
		for _, o := range bad {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", o.ObjectKey, o.Health, OrDash(o.Message))
		}
		tw.Flush()
	}
}

// Manifests prints rendered objects, their Secret values masked unless
// showSecrets: a v1 List for -o json, else YAML documents, each headed by
// its source.
func Manifests(w io.Writer, format string, ms []render.Manifest, showSecrets bool) error {
	objs := make([]map[string]any, len(ms))
	for i, m := range ms {
		objs[i] = m.Object.Object
		if !showSecrets {
			objs[i] = diff.Mask(m.Key, objs[i])
		}
	}
	if format == "json" {
		return JSON(w, map[string]any{"apiVersion": "v1", "kind": "List", "items": objs})
	}
	var b bytes.Buffer
	for i, o := range objs {
		y, err := yaml.Marshal(o)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "---\n# Source: %s\n%s", ms[i].Source, y)
	}
	_, err := w.Write(b.Bytes())
	return err
}
