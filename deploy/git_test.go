package deploy

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ferrygitops/ferry/gitrepo"
	"github.com/ferrygitops/ferry/internal/testenv/gitserver"
	"github.com/ferrygitops/ferry/internal/testenv/kube"
)

// Git credentials go only to the host of the repository they were
// configured for: an App whose source names another git server is cloned
// without them, and the sync says why.
func TestGitCredentialsOnlyToTheirHost(t *testing.T) {
	c := kube.Shared(t)
	ns := c.Namespace(t)
	const token = "home-token"
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {k: v}\n"
	home := gitserver.New(t, gitserver.WithBasicAuth(gitrepo.DefaultUsername, token))
	homeURL := home.CreateRepo("manifests", map[string]string{"app/cm.yaml": cm})
	// Another server that would accept the token, were it sent.
	other := gitserver.New(t, gitserver.WithBasicAuth(gitrepo.DefaultUsername, token))
	otherURL := other.CreateRepo("elsewhere", map[string]string{"app/cm.yaml": cm})
	var leaked atomic.Int32
	other.OnRequest(func(r gitserver.Request) {
		if r.HTTP.Header.Get("Authorization") != "" {
			leaked.Add(1)
		}
	})
	var creds gitrepo.Credentials
	if err := creds.Add(homeURL, gitrepo.Auth{Token: token}); err != nil {
		t.Fatal(err)
	}
	s := syncerFor(t, c.Config(), Options{GitCredentials: &creds})
	ctx := t.Context()

	app := App{Name: "home", RepoURL: homeURL, Branch: "main", Path: "app", Namespace: ns}
	if _, err := s.Sync(ctx, app, SyncOptions{}); err != nil {
		t.Fatalf("sync of the configured repository: %v", err)
	}
	app = App{Name: "elsewhere", RepoURL: otherURL, Branch: "main", Path: "app", Namespace: ns}
	_, err := s.Sync(ctx, app, SyncOptions{})
	if err == nil {
		t.Fatal("the sync of another host's repository succeeded")
	}
	host := strings.TrimPrefix(other.URL(), "http://")
	if !strings.Contains(err.Error(), "no credentials were sent to "+host) {
		t.Errorf("the error does not say why: %v", err)
	}
	if n := leaked.Load(); n != 0 {
		t.Errorf("%d requests to the other server carried credentials", n)
	}
}
