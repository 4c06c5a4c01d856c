package ui_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/ferrygitops/ferry/internal/testenv/gitserver"
	"github.com/ferrygitops/ferry/internal/testenv/kube"
	"github.com/ferrygitops/ferry/service"
)

// The tests share one API server. Users with their own bearer tokens (the
// API server's token file): a viewer, an operator and one nobody granted
// anything.
func TestMain(m *testing.M) {
	os.Exit(kube.Main(m, kube.WithUser("viewer", "developers"), kube.WithUser("operator", "sre"), kube.WithUser("outsider")))
}

const gitToken = "git-token-of-the-ui-tests"

func appDoc(name, path, ns string) string {
	return fmt.Sprintf("---\napiVersion: ferry.dev/v1alpha1\nkind: App\nmetadata: {name: %s}\nspec:\n  source: {path: %s}\n  destination: {namespace: %s}\n  syncPolicy: {automated: true, prune: true, timeout: 20s}\n", name, path, ns)
}

func configMap(name, value string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s}\ndata: {value: %q}\n", name, value)
}

func secret(name, value string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata: {name: %s}\nstringData: {password: %q}\n", name, value)
}

// env is one test's Ferry: a git repository with apps, `ferry run` with
// the UI on, Ferry's namespace with the UI roles bound.
type env struct {
	t       *testing.T
	c       *kube.Cluster
	admin   kubernetes.Interface
	git     *gitserver.Server
	repo    string
	ns      string // the apps' namespace
	ferryNS string // Ferry's: inventories, records, the UI's RoleBindings
	base    string // http://127.0.0.1:PORT
	app     string
	commits []string
	svcDone chan error
}

// newEnv starts everything; apps names the app (unique per test).
func newEnv(t *testing.T, app string, anonymousRead bool) *env {
	t.Helper()
	c := kube.Shared(t)
	e := &env{t: t, c: c, admin: c.Client(t), ns: c.Namespace(t), ferryNS: c.Namespace(t), app: app}
	applyUIRoles(t, e.admin)
	e.git = gitserver.New(t, gitserver.WithBasicAuth("x-access-token", gitToken))
	e.repo = "org/" + app
	url := e.git.CreateRepo(e.repo, map[string]string{
		".ferry/apps.yaml": appDoc(app, "web", e.ns),
		"web/cm.yaml":      configMap("web", "v1"),
		"web/secret.yaml":  secret("web", "first-password-value"),
	})
	head, _ := e.git.Head(e.repo, "main")
	e.commits = append(e.commits, head)

	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "git-token")
	if err := os.WriteFile(tokenFile, []byte(gitToken), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfgFile := filepath.Join(dir, "config.yaml")
	cfg := fmt.Sprintf(`kind: RunConfig
listen: %s
schedule: {interval: 1h, jitter: 0s}
repos:
  - {url: %s, mode: branch, git: {tokenFile: %s}}
sync: {enabled: true, kubeconfig: %s, interval: 1h, namespace: %s}
ui: {enabled: true, anonymousRead: %v}
`, addr, url, tokenFile, c.Kubeconfig(), e.ferryNS, anonymousRead)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	rc, err := service.LoadConfig(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.New(rc, service.Options{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.svcDone = make(chan error, 1)
	go func() { e.svcDone <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-e.svcDone:
			if err != nil {
				t.Errorf("service: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("service did not stop")
		}
	})
	e.base = "http://" + addr
	waitFor(t, "the service to serve and sync "+app, func() bool {
		resp, err := http.Get(e.base + "/status.json")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var snap struct {
			Apps []struct{ Name, Result string }
		}
		_ = json.NewDecoder(resp.Body).Decode(&snap)
		for _, a := range snap.Apps {
			if a.Name == app && a.Result == "Succeeded" {
				return true
			}
		}
		return false
	})
	return e
}

// applyUIRoles creates the ClusterRoles of install/rbac/ui-roles.yaml
// (once per cluster).
func applyUIRoles(t *testing.T, cs kubernetes.Interface) {
	t.Helper()
	data, err := os.ReadFile("../install/rbac/ui-roles.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatal(err)
		}
		if meta.Kind != "ClusterRole" {
			continue
		}
		var cr rbacv1.ClusterRole
		if err := yaml.UnmarshalStrict([]byte(doc), &cr); err != nil {
			t.Fatal(err)
		}
		if _, err := cs.RbacV1().ClusterRoles().Create(context.Background(), &cr, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
}

// bind grants role (ferry-ui-viewer, -operator, -admin) to a subject in
// Ferry's namespace and waits until RBAC says so.
func (e *env) bind(role string, subject rbacv1.Subject, check string) {
	e.t.Helper()
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{GenerateName: role + "-"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role},
		Subjects: []rbacv1.Subject{subject}}
	if _, err := e.admin.RbacV1().RoleBindings(e.ferryNS).Create(context.Background(), rb, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	_ = check
}

func (e *env) bindUser(role, user string) {
	e.bind(role, rbacv1.Subject{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: user}, "")
}

// token of a registered user.
func (e *env) token(user string) string {
	tok, ok := e.c.Token(user)
	if !ok {
		e.t.Fatalf("no token for %s", user)
	}
	return tok
}

// serviceAccountToken makes a ServiceAccount in Ferry's namespace and
// mints a token for it with the TokenRequest API.
func (e *env) serviceAccountToken(name string) string {
	e.t.Helper()
	ctx := context.Background()
	if _, err := e.admin.CoreV1().ServiceAccounts(e.ferryNS).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	secs := int64(3600)
	tr, err := e.admin.CoreV1().ServiceAccounts(e.ferryNS).CreateToken(ctx, name, &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &secs}}, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return tr.Status.Token
}

// call makes an API request with a bearer token ("" for none) and
// returns the status and body.
func (e *env) call(method, path, token string, body any) (int, string) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.base+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	e    *env
	c    *http.Client
	csrf string
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) get(path string) (int, string) {
	b.e.t.Helper()
	resp, err := b.c.Get(b.e.base + path)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if m := csrfField.FindStringSubmatch(string(body)); m != nil {
		b.csrf = m[1]
	}
	if resp.StatusCode == http.StatusSeeOther {
		return resp.StatusCode, resp.Header.Get("Location")
	}
	return resp.StatusCode, string(body)
}

func (b *browser) post(path string, form url.Values) (int, string) {
	b.e.t.Helper()
	resp, err := b.c.PostForm(b.e.base+path, form)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusSeeOther {
		return resp.StatusCode, resp.Header.Get("Location")
	}
	return resp.StatusCode, string(body)
}

// signIn signs in through the form.
func (b *browser) signIn(token string) {
	b.e.t.Helper()
	if code, _ := b.get("/ui/login"); code != http.StatusOK {
		b.e.t.Fatalf("GET /ui/login: %d", code)
	}
	code, loc := b.post("/ui/login", url.Values{"csrf": {b.csrf}, "token": {token}, "next": {"/ui/"}})
	if code != http.StatusSeeOther || loc != "/ui/" {
		b.e.t.Fatalf("sign-in: %d %s", code, loc)
	}
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var errStop = errors.New("stop")
