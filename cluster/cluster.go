// Package cluster resolves the cluster an app's destination names into a
// rest.Config: a kubeconfig context by its name or an alias, the context
// the cloud tools derive from that name (EKS's
// arn:aws:eks:REGION:ACCOUNT:cluster/NAME, GKE's gke_PROJECT_ZONE_NAME,
// eksctl's USER@NAME.REGION.eksctl.io, kind's kind-NAME), a cluster by its
// API server URL (as Argo CD's destination.server), or the cluster Ferry
// runs in.
package cluster

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// InClusterServer is the API server URL of the cluster Ferry runs in, as
// Argo CD writes it.
const InClusterServer = "https://kubernetes.default.svc"

// Destination names a cluster: a context name, or a server URL, or
// neither (the current context, or in-cluster).
type Destination struct {
	Context string
	Server  string
}

// Options tune Resolve.
type Options struct {
	// Kubeconfig is the kubeconfig file; "" means $KUBECONFIG or
	// ~/.kube/config, and in-cluster in a pod when no destination is named.
	Kubeconfig string
	// Aliases map a destination's context name to a kubeconfig context
	// (--context-map staging=arn:aws:eks:...:cluster/staging).
	Aliases map[string]string
}

// Resolved says which context a destination resolved to, for messages.
type Resolved struct {
	Context string `json:"context,omitempty"` // "" for in-cluster
	Server  string `json:"server"`
	How     string `json:"how"` // "in-cluster", "current context", "context", "alias", "EKS/GKE/eksctl/kind name", "server URL"
}

// Resolve returns the rest.Config of a destination.
func Resolve(opts Options, d Destination) (*rest.Config, Resolved, error) {
	inPod := os.Getenv("KUBERNETES_SERVICE_HOST") != ""
	if opts.Kubeconfig == "" && inPod && (d.Context == "" && (d.Server == "" || d.Server == InClusterServer)) {
		if cfg, err := rest.InClusterConfig(); err == nil {
			return cfg, Resolved{Server: cfg.Host, How: "in-cluster"}, nil
		}
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if opts.Kubeconfig != "" {
		rules.ExplicitPath = opts.Kubeconfig
	}
	raw, err := rules.Load()
	if err != nil {
		return nil, Resolved{}, fmt.Errorf("reading the kubeconfig: %w", err)
	}
	name, how, err := pick(raw, opts, d)
	if err != nil {
		return nil, Resolved{}, err
	}
	cfg, err := clientcmd.NewNonInteractiveClientConfig(*raw, name, &clientcmd.ConfigOverrides{}, rules).ClientConfig()
	if err != nil {
		if name == "" {
			return nil, Resolved{}, fmt.Errorf("kubeconfig: %w", err)
		}
		return nil, Resolved{}, fmt.Errorf("kubeconfig context %q: %w", name, err)
	}
	if name == "" {
		name = raw.CurrentContext
	}
	return cfg, Resolved{Context: name, Server: cfg.Host, How: how}, nil
}

// pick chooses the kubeconfig context of a destination.
func pick(raw *clientcmdapi.Config, opts Options, d Destination) (name, how string, err error) {
	contexts := slices.Sorted(func(yield func(string) bool) {
		for n := range raw.Contexts {
			if !yield(n) {
				return
			}
		}
	})
	switch {
	case d.Context != "":
		if alias, ok := opts.Aliases[d.Context]; ok {
			if _, ok := raw.Contexts[alias]; !ok {
				return "", "", fmt.Errorf("context %q maps to %q, which the kubeconfig does not have (contexts: %s)", d.Context, alias, list(contexts))
			}
			return alias, "alias", nil
		}
		if _, ok := raw.Contexts[d.Context]; ok {
			return d.Context, "context", nil
		}
		var found []string
		for _, n := range contexts {
			if derived(n, d.Context) {
				found = append(found, n)
			}
		}
		switch len(found) {
		case 1:
			return found[0], "EKS/GKE/eksctl/kind name", nil
		case 0:
			return "", "", fmt.Errorf("no kubeconfig context %q (contexts: %s); map it with --context-map %s=CONTEXT", d.Context, list(contexts), d.Context)
		default:
			return "", "", fmt.Errorf("context %q matches %d kubeconfig contexts (%s); choose one with --context-map %s=CONTEXT", d.Context, len(found), list(found), d.Context)
		}
	case d.Server != "":
		want := strings.TrimSuffix(d.Server, "/")
		var found []string
		for _, n := range contexts {
			c := raw.Contexts[n]
			if cl, ok := raw.Clusters[c.Cluster]; ok && strings.TrimSuffix(cl.Server, "/") == want {
				found = append(found, n)
			}
		}
		switch len(found) {
		case 1:
			return found[0], "server URL", nil
		case 0:
			return "", "", fmt.Errorf("no kubeconfig context talks to %s", d.Server)
		default:
			return "", "", fmt.Errorf("%d kubeconfig contexts talk to %s (%s); name one with spec.destination.context or --context", len(found), d.Server, list(found))
		}
	}
	if raw.CurrentContext == "" && len(contexts) == 0 {
		return "", "", errors.New("no kubeconfig (and not running in a cluster): give --kubeconfig or set $KUBECONFIG")
	}
	return "", "current context", nil
}

// derived reports whether context is the name a cloud tool gives the
// cluster named name.
func derived(context, name string) bool {
	switch {
	case strings.HasPrefix(context, "arn:aws:eks:") && strings.HasSuffix(context, ":cluster/"+name):
		return true
	case strings.HasPrefix(context, "gke_") && strings.HasSuffix(context, "_"+name):
		return true
	case strings.HasSuffix(context, ".eksctl.io"):
		_, host, ok := strings.Cut(context, "@")
		return ok && strings.HasPrefix(host, name+".")
	case context == "kind-"+name:
		return true
	}
	return false
}

func list(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// ParseAliases reads NAME=CONTEXT pairs (--context-map).
func ParseAliases(pairs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("--context-map %q: want NAME=CONTEXT", p)
		}
		out[k] = v
	}
	return out, nil
}
