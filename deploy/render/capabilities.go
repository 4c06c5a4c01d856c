package render

import (
	"context"
	"fmt"
	"path"
	"slices"

	"k8s.io/client-go/discovery"
)

// DiscoveryCapabilities returns the capabilities of the cluster dc talks
// to, as Helm reads them: the server's version, and every group version
// it serves with each of its kinds (GROUP/VERSION/KIND). A group whose
// discovery fails is left out, as Helm leaves it. The answer is read once
// per call of the returned function, only when a Helm chart is rendered.
func DiscoveryCapabilities(dc discovery.DiscoveryInterface) CapabilitiesFunc {
	return func(ctx context.Context) (Capabilities, error) {
		v, err := dc.ServerVersion()
		if err != nil {
			return Capabilities{}, fmt.Errorf("reading the server version: %w", err)
		}
		groups, resources, err := dc.ServerGroupsAndResources()
		if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
			return Capabilities{}, fmt.Errorf("reading the server's API versions: %w", err)
		}
		seen := map[string]bool{}
		for _, g := range groups {
			for _, gv := range g.Versions {
				seen[gv.GroupVersion] = true
			}
		}
		for _, r := range resources {
			for _, res := range r.APIResources {
				seen[path.Join(r.GroupVersion, res.Kind)] = true
			}
		}
		out := make([]string, 0, len(seen))
		for k := range seen {
			out = append(out, k)
		}
		slices.Sort(out)
		return Capabilities{KubeVersion: v.GitVersion, APIVersions: out}, nil
	}
}
