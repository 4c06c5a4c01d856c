package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ferrygitops/ferry/internal/buildinfo"
)

// Set with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = ""
	commit  = ""
)

// versionInfo is what `ferry version -o json` prints.
type versionInfo = buildinfo.Info

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print Ferry's version",
		Example: "  ferry version\n  ferry version -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := buildinfo.Read(version, commit)
			if g.machine() {
				return g.write(v)
			}
			fmt.Fprintf(g.stdout, "ferry %s (commit %s) %s %s\n", v.Version, v.Commit, v.GoVersion, v.Platform)
			return nil
		},
	}
}

// newDemoCmd is what is left of `ferry demo`: the demo's servers are test
// servers (an ECR emulator, a GitHub emulator, a git server, registries),
// which the ferry binary does not carry. The demo is its own command.
func newDemoCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "demo",
		Short:  "Moved: run `make demo` (the demo is cmd/ferry-demo)",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return &exitError{code: exitConfig, err: errors.New("the demo is its own command, so that this binary carries no test servers: from a clone of the repository run `make demo` (or `go run ./cmd/ferry-demo --ferry $(command -v ferry)`)")}
		},
	}
}
