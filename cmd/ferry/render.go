package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/ferrygitops/ferry/deploy/render"
	"github.com/ferrygitops/ferry/internal/printer"
)

func newRenderCmd(g *globals) *cobra.Command {
	var f syncFlags
	var kubeVersion string
	var apiVersions []string
	cmd := &cobra.Command{
		Use:   "render APP --repo URL [--revision REV]",
		Short: "Print what a sync of an app would apply, without a cluster",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			caps := render.DefaultCapabilities(apiVersions...)
			caps.KubeVersion = kubeVersion
			if err := render.CheckKubeVersion(kubeVersion); err != nil {
				return usageError("--kube-version: %v", err)
			}
			return runRender(cmd, g, &f, args[0], caps)
		},
	}
	f.registerSource(cmd)
	fs := cmd.Flags()
	fs.StringVar(&f.revision, "revision", "", "the commit to render (a full or abbreviated hash; default: the branch head)")
	fs.BoolVar(&f.showSecrets, "show-secrets", false, "print Secret values instead of ***")
	fs.StringVar(&kubeVersion, "kube-version", render.DefaultKubeVersion, "the Kubernetes version Helm charts see as .Capabilities.KubeVersion")
	fs.StringSliceVar(&apiVersions, "api-versions", nil, "API versions Helm charts see in .Capabilities.APIVersions besides the built-in ones (GROUP/VERSION or GROUP/VERSION/KIND; repeatable)")
	return cmd
}

func runRender(cmd *cobra.Command, g *globals, f *syncFlags, name string, caps render.Capabilities) error {
	res, err := f.resolve(cmd, g, name, true, nil)
	if err != nil {
		return err
	}
	defer res.Close()
	clones := render.NewClones(res.Options.WorkDir, res.Options.GitCredentials, res.Options.GitDepth)
	r, err := render.App(cmd.Context(), clones, res.App, f.revision, render.Env{
		Capabilities: func(context.Context) (render.Capabilities, error) { return caps, nil },
	})
	if err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	for _, m := range r.Manifests {
		if m.ScopeUnknown {
			g.log.Warn("kind unknown without a cluster: its namespace is left as written", "object", m.Key.String(), "source", m.Source)
		}
	}
	return printer.Manifests(g.stdout, g.output, r.Manifests, f.showSecrets)
}
