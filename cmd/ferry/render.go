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
		Long: `Render prints the objects a sync of APP would apply, as YAML, in apply order: the app's
path at the branch head (or --revision) built with kustomize or read as plain manifests,
with the destination namespace given to namespaced objects that name none, the label
ferry.dev/app and the annotation ferry.dev/applied-hash set, as 'ferry sync' does. It
needs no cluster: whether a kind is namespaced comes from the kinds Kubernetes serves
and the CRDs of the render; an object of any other kind keeps the namespace it was
written with (a warning says so).

The source path is rendered as Argo CD would: a directory holding Chart.yaml with Helm
(templates only; .Capabilities from --kube-version and --api-versions, else Ferry's
default, since there is no cluster to ask), one holding a kustomization with kustomize,
one holding *.jsonnet files with jsonnet, any other as plain YAML and JSON manifests.
The App document's spec.source.helm and spec.source.jsonnet settings apply.

Secret values (data, stringData) are replaced by *** unless --show-secrets.

Exit codes: 0 rendered; 3 the manifests could not be fetched, read or built; 2 invalid
flags or App documents.`,
		Example: `  # What a sync of web-staging would apply
  ferry render web-staging --repo https://github.com/acme/manifests

  # At an earlier commit, as JSON (a v1 List)
  ferry render web-staging --repo https://github.com/acme/manifests --revision 3f2a9c1 -o json

  # A Helm app as a Kubernetes 1.30 cluster serving a CRD's API would see it
  ferry render web-helm --repo https://github.com/acme/manifests --kube-version 1.30.2 --api-versions monitoring.coreos.com/v1

  # An ad-hoc app from a path
  ferry render demo --repo https://github.com/acme/manifests --app-path apps/demo --namespace demo`,
		Args: cobra.ExactArgs(1),
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
