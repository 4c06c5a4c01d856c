// Package printer prints the results of ferry's commands the same way for
// every command: as tables and lines for people, or as JSON or YAML for
// scripts (-o json|yaml).
package printer

import (
	"encoding/json"
	"io"
	"strings"
	"text/tabwriter"

	sigsyaml "sigs.k8s.io/yaml"

	"github.com/ferrygitops/ferry/gitrepo"
)

// Machine reports whether the output format is for scripts (json, yaml).
func Machine(format string) bool { return format == "json" || format == "yaml" }

// Write prints v for scripts: as YAML when format is yaml, else as JSON.
func Write(w io.Writer, format string, v any) error {
	if format == "yaml" {
		data, err := sigsyaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	}
	return JSON(w, v)
}

// JSON prints v as indented JSON.
func JSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table is a tabwriter aligning columns two spaces apart.
func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }

// OrDash is s, or "-" for "".
func OrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Short is a revision's short form, or "-".
func Short(rev string) string { return OrDash(gitrepo.ShortRevision(rev)) }

// OneLine puts s on one line of at most 200 bytes.
func OneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", "; ")
	if len(s) > 200 {
		s = s[:197] + "..."
	}
	return s
}
