package main

import (
	"bytes"
	"fmt"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/ferrygitops/ferry/deploy/diff"
	"github.com/ferrygitops/ferry/deploy/render"
)

func newRenderCmd(g *globals) *cobra.Command {
	var f syncFlags
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

Secret values (data, stringData) are replaced by *** unless --show-secrets.

Exit codes: 0 rendered; 3 the manifests could not be fetched, read or built; 2 invalid
flags or App documents.`,
		Example: `  # What a sync of web-staging would apply
  ferry render web-staging --repo https://github.com/acme/manifests

  # At an earlier commit, as JSON (a v1 List)
  ferry render web-staging --repo https://github.com/acme/manifests --revision 3f2a9c1 -o json

  # An ad-hoc app from a path
  ferry render demo --repo https://github.com/acme/manifests --app-path apps/demo --namespace demo`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRender(cmd, g, &f, args[0])
		},
	}
	f.registerSource(cmd)
	fs := cmd.Flags()
	fs.StringVar(&f.revision, "revision", "", "the commit to render (a full or abbreviated hash; default: the branch head)")
	fs.BoolVar(&f.showSecrets, "show-secrets", false, "print Secret values instead of ***")
	return cmd
}

func runRender(cmd *cobra.Command, g *globals, f *syncFlags, name string) error {
	res, err := f.resolve(cmd, g, name, true, nil)
	if err != nil {
		return err
	}
	defer res.cleanup()
	clones := render.NewClones(res.opts.WorkDir, res.opts.GitCredentials, res.opts.GitDepth)
	r, err := render.App(cmd.Context(), clones, res.app, f.revision, nil)
	if err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	objs := make([]map[string]any, len(r.Manifests))
	for i, m := range r.Manifests {
		if m.ScopeUnknown {
			g.log.Warn("kind unknown without a cluster: its namespace is left as written", "object", m.Key.String(), "source", m.Source)
		}
		objs[i] = m.Object.Object
		if !f.showSecrets {
			objs[i] = diff.Mask(m.Key, objs[i])
		}
	}
	if g.output == "json" {
		return writeJSON(g.stdout, map[string]any{"apiVersion": "v1", "kind": "List", "items": objs})
	}
	var b bytes.Buffer
	for i, o := range objs {
		y, err := yaml.Marshal(o)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "---\n# Source: %s\n%s", r.Manifests[i].Source, y)
	}
	_, err = g.stdout.Write(b.Bytes())
	return err
}
