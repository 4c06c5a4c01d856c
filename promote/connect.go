package promote

import (
	"context"
	"log/slog"

	"k8s.io/client-go/kubernetes"

	"github.com/ferrygitops/ferry/cluster"
	"github.com/ferrygitops/ferry/deploy"
)

// KubeconfigConnect is an Options.Connect that reaches staging's cluster
// through a kubeconfig (`ferry promote`): the context staging's App names
// (or its server), found as cluster.Resolve finds it with aliases, its
// records read from inventoryNamespace ("" for the App's own).
func KubeconfigConnect(kubeconfig string, aliases map[string]string, inventoryNamespace string, log *slog.Logger) func(context.Context, deploy.App) (Staging, kubernetes.Interface, func(), error) {
	return func(_ context.Context, app deploy.App) (Staging, kubernetes.Interface, func(), error) {
		cfg, _, err := cluster.Resolve(cluster.Options{Kubeconfig: kubeconfig, Aliases: aliases}, cluster.Destination{Context: app.Context, Server: app.Server})
		if err != nil {
			return nil, nil, nil, err
		}
		s, err := deploy.New(cfg, deploy.Options{Namespace: inventoryNamespace, Log: log})
		if err != nil {
			return nil, nil, nil, err
		}
		kc, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			_ = s.Close()
			return nil, nil, nil, err
		}
		return s, kc, func() { _ = s.Close() }, nil
	}
}
