package install_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ferrygitops/ferry/examples"
	"github.com/ferrygitops/ferry/internal/testenv/ecrapi"
	"github.com/ferrygitops/ferry/internal/testenv/githubapi"
	"github.com/ferrygitops/ferry/internal/testenv/gitserver"
	"github.com/ferrygitops/ferry/internal/testenv/ociregistry"
)

// The service account every variant installs, as the API server names it.
const (
	ferryNamespace = "ferry-system"
	ferryUser      = "system:serviceaccount:ferry-system:ferry"
)

var binDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

var buildOnce struct {
	sync.Once
	path string
	err  error
}

// ferryBinary builds cmd/ferry once per test run, as a user would
// (`go build`, no race detector), and returns its path.
func ferryBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ferry-install-test-")
		if err != nil {
			buildOnce.err = err
			return
		}
		binDir = dir
		goCmd := filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(goCmd); err != nil {
			goCmd = "go"
		}
		path := filepath.Join(dir, "ferry")
		out, err := exec.Command(goCmd, "build", "-o", path, "github.com/ferrygitops/ferry/cmd/ferry").CombinedOutput()
		if err != nil {
			buildOnce.err = fmt.Errorf("go build ./cmd/ferry: %v\n%s", err, out)
			return
		}
		buildOnce.path = path
	})
	if buildOnce.err != nil {
		t.Fatal(buildOnce.err)
	}
	return buildOnce.path
}

// build runs kustomize (krusty, as `kubectl apply -k` does) on dir of fsys.
func build(t *testing.T, fsys filesys.FileSystem, dir string) []*unstructured.Unstructured {
	t.Helper()
	resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fsys, dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	var out []*unstructured.Unstructured
	for _, r := range resMap.Resources() {
		data, err := r.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(data); err != nil {
			t.Fatal(err)
		}
		out = append(out, u)
	}
	return out
}

// buildDir builds a directory of this repository's install/.
func buildDir(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	return build(t, filesys.MakeFsOnDisk(), dir)
}

// inMemoryInstall copies install/ into an in-memory file system under
// /install, for overlays a test derives from the shipped ones.
func inMemoryInstall(t *testing.T) filesys.FileSystem {
	t.Helper()
	mem := filesys.MakeFsInMemory()
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return mem.WriteFile(filepath.Join("/install", p), data)
	})
	if err != nil {
		t.Fatal(err)
	}
	return mem
}

// apply server-side applies objs in order, as `kubectl apply
// --server-side` does with a kustomize build.
func apply(t *testing.T, cfg *rest.Config, objs []*unstructured.Unstructured) {
	t.Helper()
	ctx := context.Background()
	dyn := dynamic.NewForConfigOrDie(cfg)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(discovery.NewDiscoveryClientForConfigOrDie(cfg)))
	for _, u := range objs {
		data, err := u.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		gvk := u.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Fatalf("%s: %v", gvk, err)
		}
		var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if u.GetNamespace() != "" {
			ri = dyn.Resource(m.Resource).Namespace(u.GetNamespace())
		}
		force := true
		if _, err := ri.Patch(ctx, u.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: "kubectl", Force: &force}); err != nil {
			t.Fatalf("applying %s %s/%s: %v", gvk.Kind, u.GetNamespace(), u.GetName(), err)
		}
	}
}

// find returns the built object of kind, namespace and name, or nil.
func find(objs []*unstructured.Unstructured, kind, namespace, name string) *unstructured.Unstructured {
	for _, u := range objs {
		if u.GetKind() == kind && u.GetNamespace() == namespace && u.GetName() == name {
			return u
		}
	}
	return nil
}

// serviceAccountToken mints a token for Ferry's service account through
// the TokenRequest API, as the kubelet does for its pods.
func serviceAccountToken(t *testing.T, admin kubernetes.Interface) string {
	t.Helper()
	secs := int64(3600)
	tr, err := admin.CoreV1().ServiceAccounts(ferryNamespace).CreateToken(context.Background(), "ferry",
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &secs}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest for %s/ferry: %v", ferryNamespace, err)
	}
	return tr.Status.Token
}

// tokenConfig is the admin config with the service account's token
// instead of the admin's.
func tokenConfig(admin *rest.Config, token string) *rest.Config {
	return &rest.Config{Host: admin.Host, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: admin.CAData}}
}

// writeKubeconfig writes a kubeconfig carrying token, with the contexts
// the example apps name (staging, production), all on the one API server.
func writeKubeconfig(t *testing.T, admin *rest.Config, token string) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["test"] = &clientcmdapi.Cluster{Server: admin.Host, CertificateAuthorityData: admin.CAData}
	cfg.AuthInfos["ferry"] = &clientcmdapi.AuthInfo{Token: token}
	for _, name := range []string{"ferry", "staging", "production"} {
		cfg.Contexts[name] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "ferry"}
	}
	cfg.CurrentContext = "ferry"
	p := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// access is one question to the authorizer about Ferry's service account.
type access struct {
	namespace, group, resource, name, verb string
	allowed                                bool
}

// checkAccess asks the API server, as the service account (its own
// token), each question, and fails on every wrong answer.
func checkAccess(t *testing.T, cfg *rest.Config, want []access) {
	t.Helper()
	cs := kubernetes.NewForConfigOrDie(cfg)
	for _, c := range want {
		rev, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(context.Background(), &authv1.SelfSubjectAccessReview{Spec: authv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authv1.ResourceAttributes{Namespace: c.namespace, Group: c.group, Resource: c.resource, Name: c.name, Verb: c.verb},
		}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rev.Status.Allowed != c.allowed {
			t.Errorf("ferry may %s %s %q in namespace %q: %v, want %v", c.verb, c.resource, c.name, c.namespace, rev.Status.Allowed, c.allowed)
		}
	}
}

// waitAllowed polls until RBAC (fed from an informer cache) lets the
// service account do one thing, so a test does not race a fresh install.
func waitAllowed(t *testing.T, cfg *rest.Config, a access) {
	t.Helper()
	cs := kubernetes.NewForConfigOrDie(cfg)
	deadline := time.Now().Add(10 * time.Second)
	for {
		rev, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(context.Background(), &authv1.SelfSubjectAccessReview{Spec: authv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authv1.ResourceAttributes{Namespace: a.namespace, Group: a.group, Resource: a.resource, Name: a.name, Verb: a.verb},
		}}, metav1.CreateOptions{})
		if err == nil && rev.Status.Allowed {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("RBAC never allowed %s %s in %q: %v", a.verb, a.resource, a.namespace, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Example-repository fixture: the account, region and images of
// examples/repo's policies.
const (
	exampleAccount = "123456789012"
	exampleRegion  = "ap-northeast-1"
	exampleGHCR    = "ghcr.io/acme/web"
)

// servers is what Ferry talks to besides the cluster: examples/repo on a
// git server (accepting the GitHub emulator's tokens only), the GitHub API
// emulator, the ECR API emulator and an OCI registry standing in for
// ghcr.io.
type servers struct {
	git        *gitserver.Server
	url        string
	gh         *githubapi.Server
	ecr        *ecrapi.Server
	oci        *ociregistry.Server
	home       string // HOME of the ferry processes: no kubeconfig, no docker config
	appKeyFile string // the GitHub App's private key (PEM), with withAppFrom
}

// serverOption configures startServers.
type serverOption func(s *servers, gh *[]githubapi.Option)

// withAppFrom registers the GitHub App a RunConfig names (id and
// installationId of its first repository) with the emulator, with a new
// key written to servers.appKeyFile.
func withAppFrom(t *testing.T, cfg *yaml.RNode) serverOption {
	t.Helper()
	app := githubapi.App{}
	for _, f := range []struct {
		path string
		dst  *int64
	}{{"repos.0.github.app.id", &app.ID}, {"repos.0.github.app.installationId", &app.InstallationID}} {
		n, err := cfg.Pipe(yaml.Lookup(strings.Split(f.path, ".")...))
		if err != nil || n == nil {
			t.Fatalf("config: no %s", f.path)
		}
		if *f.dst, err = strconv.ParseInt(yaml.GetValue(n), 10, 64); err != nil {
			t.Fatalf("config: %s: %v", f.path, err)
		}
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	app.PublicKey = &key.PublicKey
	keyFile := filepath.Join(t.TempDir(), "private-key.pem")
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(keyFile, pemKey, 0o600); err != nil {
		t.Fatal(err)
	}
	return func(s *servers, gh *[]githubapi.Option) {
		s.appKeyFile = keyFile
		// The App for ferry run; the token for the CLI (ferry sync, GITHUB_TOKEN).
		*gh = append(*gh, githubapi.WithApp(app), githubapi.WithToken(githubapi.DefaultToken, ""))
	}
}

func startServers(t *testing.T, opts ...serverOption) *servers {
	t.Helper()
	ctx := context.Background()
	s := &servers{home: t.TempDir()}
	var ghOpts []githubapi.Option
	for _, o := range opts {
		o(s, &ghOpts)
	}
	s.ecr = ecrapi.NewServer(ecrapi.WithAccount(exampleAccount))
	t.Cleanup(s.ecr.Close)
	now := time.Now()
	for i, tag := range []string{"release.20240220", "release.20240226", "release.20240301"} {
		s.ecr.Put(exampleAccount, exampleRegion, "myapp", []string{tag}, "", now.Add(-time.Duration(3-i)*24*time.Hour))
	}
	s.ecr.Put(exampleAccount, exampleRegion, "myapp-worker", []string{"release.20240215", "release.20240301"}, "", now.Add(-48*time.Hour))
	s.oci = ociregistry.New()
	t.Cleanup(s.oci.Close)
	if _, err := s.oci.Seed(ctx, "acme/web", "1.4.2", "1.5.0"); err != nil {
		t.Fatal(err)
	}
	files, err := examples.Files(exampleGHCR, s.oci.Host+"/acme/web")
	if err != nil {
		t.Fatal(err)
	}
	s.git = gitserver.New(t, gitserver.WithAuthFunc(func(u, p string) bool { return s.gh.ValidGitCredentials(u, p) }))
	s.url = s.git.CreateRepo("manifests", files)
	s.gh = githubapi.NewServer(s.git.GitHub(), ghOpts...)
	t.Cleanup(s.gh.Close)
	s.gh.AddRepo("acme", "manifests")
	return s
}

// env is the environment of a ferry process: this one's, less anything
// that could point it at another cluster, registry or account.
func (s *servers) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "KUBERNETES_") || strings.HasPrefix(k, "FERRY_") ||
			k == "KUBECONFIG" || k == "HOME" || k == "DOCKER_CONFIG" || k == "GITHUB_TOKEN" {
			continue
		}
		env = append(env, kv)
	}
	for k, v := range s.ecr.Env() {
		env = append(env, k+"="+v)
	}
	return append(env, "HOME="+s.home, "AWS_CONFIG_FILE="+os.DevNull, "AWS_SHARED_CREDENTIALS_FILE="+os.DevNull,
		"AWS_EC2_METADATA_DISABLED=true", "GITHUB_TOKEN="+githubapi.DefaultToken)
}

// ferry runs the built binary to completion and returns its exit code and
// output.
func (s *servers) ferry(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ferryBinary(t), args...)
	cmd.Env = s.env()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("ferry %s: %v", strings.Join(args, " "), err)
	}
	return code, out.String(), errb.String()
}
