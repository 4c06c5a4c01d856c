package promote

import (
	"log/slog"
	"testing"

	"github.com/ferrygitops/ferry/deploy"

	"github.com/ferrygitops/ferry/internal/testenv"
)

// KubeconfigConnect finds staging's context through the aliases, and
// fails on a context the kubeconfig does not have.
func TestKubeconfigConnect(t *testing.T) {
	kubeconfig := testenv.Kubeconfig(t, "https://127.0.0.1:1", "kind-one")
	connect := KubeconfigConnect(kubeconfig, map[string]string{"staging": "kind-one"}, "records", slog.New(slog.DiscardHandler))
	s, kc, closeFn, err := connect(t.Context(), deploy.App{Name: "web", Context: "staging"})
	if err != nil {
		t.Fatal(err)
	}
	if s == nil || kc == nil {
		t.Fatalf("staging %v, client %v", s, kc)
	}
	closeFn()
	if _, _, _, err := connect(t.Context(), deploy.App{Name: "web", Context: "production"}); err == nil {
		t.Error("a context the kubeconfig does not have: no error")
	}
}
