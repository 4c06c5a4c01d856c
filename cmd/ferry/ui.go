package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferrygitops/ferry/deploy"
	"github.com/ferrygitops/ferry/ui"
)

type uiFlags struct {
	kubeconfig, kubeContext string
	repo, branch, listen    string
	namespace               string
	interval                time.Duration
}

func newUICmd(g *globals) *cobra.Command {
	var f uiFlags
	cmd := &cobra.Command{
		Use:   "ui --repo URL",
		Short: "Serve the web UI of one repository's apps on this machine, with your kubeconfig",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := deploy.RESTConfig(f.kubeconfig, f.kubeContext)
			if err != nil {
				return &exitError{code: exitConfig, err: err}
			}
			return ui.ServeLocal(cmd.Context(), ui.LocalOptions{
				Config: cfg, RepoURL: f.repo, Branch: f.branch, Listen: f.listen, Interval: f.interval, Namespace: f.namespace, Log: g.log,
				Ready: func(addr string) { fmt.Fprintf(g.stderr, "ferry: the UI of %s is at http://%s/ui/\n", f.repo, addr) },
			})
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.repo, "repo", "", "the manifest repository whose .ferry apps to show")
	fs.StringVar(&f.branch, "branch", "main", "its branch")
	fs.StringVar(&f.listen, "listen", "127.0.0.1:8081", "HTTP listen address")
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
	fs.StringVar(&f.kubeContext, "context", "", "kubeconfig context (default: the current context)")
	fs.StringVar(&f.namespace, "namespace", "", "Ferry's namespace: the apps' records and the UI's RoleBindings (default ferry-system)")
	fs.DurationVar(&f.interval, "interval", 10*time.Second, "how often the apps and their state are read again")
	_ = cmd.MarkFlagRequired("repo")
	return cmd
}
