package kube

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/ferrygitops/ferry/internal/testenv"
)

// KubernetesVersion is the version of kube-apiserver hack/testbin.sh builds.
const KubernetesVersion = "v1.36.3"

// AdminUser is the user of Config and Kubeconfig, in group system:masters.
const AdminUser = "ferry-admin"

// readyTimeout bounds the wait for etcd's /health and the API server's
// /readyz. Start-up takes about 2 s on an idle machine; the margin is for
// `go test -race ./...` running packages in parallel on two cores.
const readyTimeout = 90 * time.Second

// BinDir is the directory holding kube-apiserver and etcd: $FERRY_TESTBIN,
// or ${XDG_CACHE_HOME:-$HOME/.cache}/ferry/testbin/k8s-v1.36.3, the same
// default as hack/testbin.sh.
func BinDir() string {
	if d := os.Getenv("FERRY_TESTBIN"); d != "" {
		return d
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = os.TempDir()
		}
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "ferry", "testbin", "k8s-"+KubernetesVersion)
}

// Required reports whether missing binaries must fail the test rather than
// skip it: CI=true or FERRY_REQUIRE_SERVERS=1.
func Required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("FERRY_REQUIRE_SERVERS") == "1"
}

// errMissing marks a start failure caused by absent binaries.
var errMissing = errors.New("kube-apiserver/etcd binaries not found")

// Available reports whether the binaries are built (`make testbin`).
func Available() bool {
	_, _, err := binaries()
	return err == nil
}

// binaries returns the paths of kube-apiserver and etcd in BinDir.
func binaries() (apiserver, etcd string, err error) {
	dir := BinDir()
	apiserver, etcd = filepath.Join(dir, "kube-apiserver"), filepath.Join(dir, "etcd")
	for _, p := range []string{apiserver, etcd} {
		fi, err := os.Stat(p)
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return "", "", fmt.Errorf("%w: no executable %s", errMissing, p)
		}
	}
	return apiserver, etcd, nil
}

// User is an identity registered in the API server's token file.
type User struct {
	Name   string
	Groups []string
}

// Option configures Start and Main.
type Option func(*options)

type options struct {
	users     []User
	extraArgs []string
}

// WithUser registers a user with a bearer token of its own, member of
// groups (plus system:authenticated, which the API server adds). It has no
// RBAC permissions until the test binds some.
func WithUser(name string, groups ...string) Option {
	return WithUsers(User{Name: name, Groups: groups})
}

// WithUsers registers several users, as WithUser does.
func WithUsers(users ...User) Option {
	return func(o *options) { o.users = append(o.users, users...) }
}

// WithAPIServerFlags appends flags ("--name=value") to kube-apiserver's
// command line; a later flag overrides the harness's value of the same name,
// e.g. WithAPIServerFlags("--disable-admission-plugins=ServiceAccount").
func WithAPIServerFlags(flags ...string) Option {
	return func(o *options) { o.extraArgs = append(o.extraArgs, flags...) }
}

// Cluster is a running etcd and kube-apiserver.
type Cluster struct {
	// URL is the API server's address, https://127.0.0.1:PORT.
	URL string

	dir        string
	caData     []byte
	tokens     map[string]User // token -> user
	userTokens map[string]string
	kubeconfig string
	shared     bool

	etcd      *process
	etcdURL   string
	apiserver *process
	apiBin    string
	apiArgs   []string

	mu          sync.Mutex // guards apiserver, kubeconfigs
	kubeconfigs map[string]string
}

// Start starts a cluster for t, stops it when t ends, and skips t (or fails
// it, see Required) when the binaries are missing.
func Start(t testing.TB, opts ...Option) *Cluster {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	dir := t.TempDir()
	c, err := start(dir, o)
	if err != nil {
		failStart(t, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kube-apiserver log (last lines):\n%s", tail(c.apiserverLog(), 30))
		}
		c.stop()
	})
	return c
}

// failStart skips or fails t for a start error.
func failStart(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, errMissing) {
		if Required() {
			t.Fatalf("kube: %v: run `make testbin` (hack/testbin.sh) to build them", err)
		}
		t.Skipf("kube: %v; skipping (run `make testbin` to build them)", err)
	}
	t.Fatalf("kube: %v", err)
}

// start brings up etcd and kube-apiserver with their files in dir; on error
// nothing is left running.
func start(dir string, o options) (c *Cluster, err error) {
	apiBin, etcdBin, err := binaries()
	if err != nil {
		return nil, err
	}
	for _, u := range o.users {
		if u.Name == "" || u.Name == AdminUser {
			return nil, fmt.Errorf("WithUser: invalid user name %q", u.Name)
		}
	}
	c = &Cluster{
		dir:         dir,
		apiBin:      apiBin,
		tokens:      map[string]User{},
		userTokens:  map[string]string{},
		kubeconfigs: map[string]string{},
	}
	defer func() {
		if err != nil {
			c.stop()
		}
	}()
	if err := c.writeFiles(o.users); err != nil {
		return nil, err
	}
	// A port picked free may be taken before the server binds it: retry.
	for attempt := 1; ; attempt++ {
		err = c.startEtcd(etcdBin)
		if err == nil || attempt == 3 || !c.etcd.exited() {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		port, perr := testenv.FreePort()
		if perr != nil {
			return nil, perr
		}
		c.URL = "https://127.0.0.1:" + strconv.Itoa(port)
		c.apiArgs = c.apiserverArgs(port, o.extraArgs)
		err = c.startAPIServer()
		if err == nil || attempt == 3 || !c.apiserver.exited() {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if err := c.writeKubeconfig(c.kubeconfig, "ferry-test", AdminUser, c.userTokens[AdminUser], nil); err != nil {
		return nil, err
	}
	if err := c.ensureDefaultServiceAccount("default"); err != nil {
		return nil, err
	}
	return c, nil
}

// writeFiles writes the token file and the service-account key pair.
func (c *Cluster) writeFiles(users []User) error {
	for _, d := range []string{"certs", "etcd-data"} {
		if err := os.MkdirAll(filepath.Join(c.dir, d), 0o700); err != nil {
			return err
		}
	}
	all := append([]User{{Name: AdminUser, Groups: []string{"system:masters"}}}, users...)
	var b strings.Builder
	w := csv.NewWriter(&b)
	for i, u := range all {
		if _, dup := c.userTokens[u.Name]; dup {
			return fmt.Errorf("WithUser: user %q registered twice", u.Name)
		}
		tok := randomToken()
		c.tokens[tok] = User{Name: u.Name, Groups: slices.Clone(u.Groups)}
		c.userTokens[u.Name] = tok
		// token,user,uid,"group1,group2"
		rec := []string{tok, u.Name, fmt.Sprintf("uid-%d", i)}
		if len(u.Groups) > 0 {
			rec = append(rec, strings.Join(u.Groups, ","))
		}
		if err := w.Write(rec); err != nil {
			return err
		}
	}
	w.Flush()
	if err := os.WriteFile(filepath.Join(c.dir, "tokens.csv"), []byte(b.String()), 0o600); err != nil {
		return err
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.dir, "sa.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.dir, "sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o600); err != nil {
		return err
	}
	c.kubeconfig = filepath.Join(c.dir, "kubeconfig")
	return nil
}

func (c *Cluster) startEtcd(bin string) error {
	// A fresh data dir: a failed attempt may have left a member behind.
	data := filepath.Join(c.dir, "etcd-data")
	if err := os.RemoveAll(data); err != nil {
		return err
	}
	if err := os.MkdirAll(data, 0o700); err != nil {
		return err
	}
	clientPort, err := testenv.FreePort()
	if err != nil {
		return err
	}
	peerPort, err := testenv.FreePort()
	if err != nil {
		return err
	}
	c.etcdURL = fmt.Sprintf("http://127.0.0.1:%d", clientPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	args := []string{
		"--name=ferry-test",
		"--data-dir=" + data,
		"--listen-client-urls=" + c.etcdURL,
		"--advertise-client-urls=" + c.etcdURL,
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=ferry-test=" + peerURL,
		"--initial-cluster-state=new",
		"--unsafe-no-fsync=true",
		// One member: elect it at once rather than after the default 1 s.
		"--heartbeat-interval=10",
		"--election-timeout=100",
		"--log-level=warn",
	}
	c.etcd, err = startProcess(bin, args, filepath.Join(c.dir, "etcd.log"))
	if err != nil {
		return err
	}
	err = waitReady(c.etcd, readyTimeout, func() error {
		req, _ := http.NewRequest(http.MethodGet, c.etcdURL+"/health", nil)
		return getOK(http.DefaultClient, req, "etcd /health")
	})
	if err != nil {
		c.etcd.stop(0)
		return fmt.Errorf("etcd did not become healthy: %v\n--- etcd log ---\n%s", err, tail(c.etcd.logPath, 30))
	}
	return nil
}

func (c *Cluster) apiserverArgs(port int, extra []string) []string {
	args := []string{
		"--etcd-servers=" + c.etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + filepath.Join(c.dir, "certs"),
		"--token-auth-file=" + filepath.Join(c.dir, "tokens.csv"),
		"--authorization-mode=RBAC",
		"--anonymous-auth=false",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + filepath.Join(c.dir, "sa.pub"),
		"--service-account-signing-key-file=" + filepath.Join(c.dir, "sa.key"),
		"--service-cluster-ip-range=10.0.0.0/24",
		"--allow-privileged=true",
		"--profiling=false",
	}
	return append(args, extra...)
}

// startAPIServer starts kube-apiserver with c.apiArgs and waits for /readyz.
func (c *Cluster) startAPIServer() error {
	p, err := startProcess(c.apiBin, c.apiArgs, filepath.Join(c.dir, "kube-apiserver.log"))
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.apiserver = p
	c.mu.Unlock()
	certFile := filepath.Join(c.dir, "certs", "apiserver.crt")
	token := c.userTokens[AdminUser]
	var client *http.Client
	err = waitReady(p, readyTimeout, func() error {
		if client == nil {
			// The server writes its self-signed certificate on the first
			// start and reuses it on restarts, so configs stay valid;
			// c.caData is set once, before anyone else reads it.
			ca := c.caData
			if ca == nil {
				var err error
				if ca, err = os.ReadFile(certFile); err != nil {
					return fmt.Errorf("serving certificate not written yet: %w", err)
				}
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(ca) {
				return fmt.Errorf("no certificate in %s", certFile)
			}
			if c.caData == nil {
				c.caData = ca
			}
			client = &http.Client{
				Timeout:   5 * time.Second,
				Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
			}
		}
		req, _ := http.NewRequest(http.MethodGet, c.URL+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		return getOK(client, req, "/readyz")
	})
	if client != nil {
		client.CloseIdleConnections()
	}
	if err != nil {
		p.stop(0)
		return fmt.Errorf("kube-apiserver did not become ready: %v\n--- kube-apiserver log ---\n%s", err, tail(p.logPath, 40))
	}
	return nil
}

// stop stops the API server, then etcd. The API server is killed rather
// than shut down gracefully (which takes a second): its data go with the
// test anyway.
func (c *Cluster) stop() {
	c.mu.Lock()
	api := c.apiserver
	c.mu.Unlock()
	if api != nil {
		api.stop(0)
	}
	if c.etcd != nil {
		c.etcd.stop(10 * time.Second)
	}
}

// Config returns a new admin rest.Config (AdminUser, group system:masters)
// that trusts the API server's self-signed certificate.
func (c *Cluster) Config() *rest.Config {
	return c.tokenConfig(c.userTokens[AdminUser])
}

// ConfigFor returns a rest.Config acting as user. For a user registered with
// WithUser and groups omitted (or equal to the registered ones), it carries
// that user's own bearer token; otherwise the admin impersonates user with
// groups.
func (c *Cluster) ConfigFor(user string, groups ...string) *rest.Config {
	if tok, ok := c.userTokens[user]; ok && (len(groups) == 0 || slices.Equal(groups, c.tokens[tok].Groups)) {
		return c.tokenConfig(tok)
	}
	cfg := c.Config()
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: slices.Clone(groups)}
	return cfg
}

func (c *Cluster) tokenConfig(token string) *rest.Config {
	return &rest.Config{
		Host:            c.URL,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: slices.Clone(c.caData)},
		// Tests create many objects quickly; client-side throttling would
		// only slow them down.
		QPS:   1000,
		Burst: 2000,
	}
}

// Token returns the bearer token of a user registered with WithUser (or of
// AdminUser), and false for any other user.
func (c *Cluster) Token(user string) (string, bool) {
	tok, ok := c.userTokens[user]
	return tok, ok
}

// Client returns an admin clientset.
func (c *Cluster) Client(t testing.TB) kubernetes.Interface {
	t.Helper()
	cs, err := kubernetes.NewForConfig(c.Config())
	if err != nil {
		t.Fatalf("kube: clientset: %v", err)
	}
	return cs
}

// Kubeconfig returns the path of a kubeconfig file for AdminUser (one
// cluster, user and context named "ferry-test", which is current).
func (c *Cluster) Kubeconfig() string { return c.kubeconfig }

// KubeconfigFor returns the path of a kubeconfig file acting as user, like
// ConfigFor (a token for a registered user, impersonation otherwise). The
// file is written on first use.
func (c *Cluster) KubeconfigFor(user string, groups ...string) string {
	key := user + "\x00" + strings.Join(groups, ",")
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.kubeconfigs[key]; ok {
		return p
	}
	cfg := c.ConfigFor(user, groups...)
	name := fmt.Sprintf("kubeconfig-%d", len(c.kubeconfigs)+1)
	p := filepath.Join(c.dir, name)
	var imp *rest.ImpersonationConfig
	if cfg.Impersonate.UserName != "" {
		imp = &cfg.Impersonate
	}
	if err := c.writeKubeconfig(p, "ferry-test", user, cfg.BearerToken, imp); err != nil {
		panic(fmt.Sprintf("kube: writing %s: %v", p, err))
	}
	c.kubeconfigs[key] = p
	return p
}

func (c *Cluster) writeKubeconfig(path, name, user, token string, imp *rest.ImpersonationConfig) error {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: v1
kind: Config
clusters:
- name: %[1]s
  cluster:
    server: %[2]s
    certificate-authority-data: %[3]s
users:
- name: %[4]q
  user:
    token: %[5]s
`, name, c.URL, base64.StdEncoding.EncodeToString(c.caData), user, token)
	if imp != nil {
		fmt.Fprintf(&b, "    as: %q\n", imp.UserName)
		if len(imp.Groups) > 0 {
			b.WriteString("    as-groups:\n")
			for _, g := range imp.Groups {
				fmt.Fprintf(&b, "    - %q\n", g)
			}
		}
	}
	fmt.Fprintf(&b, `contexts:
- name: %[1]s
  context:
    cluster: %[1]s
    user: %[2]q
current-context: %[1]s
`, name, user)
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// Restart stops the API server and starts it again on the same port with
// the same certificate, tokens and etcd: the data survive, and configs
// returned before keep working. It fails t on a shared cluster.
func (c *Cluster) Restart(t testing.TB) {
	t.Helper()
	c.StopAPIServer(t)
	c.StartAPIServer(t)
}

// StopAPIServer stops the API server (gracefully, like a rolling update of
// the control plane would) and leaves etcd running; requests fail with
// "connection refused" until StartAPIServer.
func (c *Cluster) StopAPIServer(t testing.TB) {
	t.Helper()
	if c.shared {
		t.Fatalf("kube: cannot stop the API server of a shared cluster; use kube.Start for fault injection")
	}
	c.mu.Lock()
	api := c.apiserver
	c.apiserver = nil
	c.mu.Unlock()
	if api != nil {
		api.stop(15 * time.Second)
	}
}

// StartAPIServer starts the API server stopped by StopAPIServer again, on
// the same port; it is a no-op while the server runs.
func (c *Cluster) StartAPIServer(t testing.TB) {
	t.Helper()
	if c.shared {
		t.Fatalf("kube: cannot restart the API server of a shared cluster; use kube.Start for fault injection")
	}
	c.mu.Lock()
	running := c.apiserver != nil && !c.apiserver.exited()
	c.mu.Unlock()
	if running {
		return
	}
	var err error
	// The old listener's port is normally free at once; give the kernel a
	// moment if it is not.
	for attempt := 1; attempt <= 3; attempt++ {
		if err = c.startAPIServer(); err == nil {
			return
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("kube: restarting kube-apiserver: %v", err)
}

var namespaceNameRE = regexp.MustCompile(`[^a-z0-9-]+`)

// Namespace creates a namespace named after the test (with a random
// suffix) holding a "default" ServiceAccount, and returns its name. The
// namespace is not deleted at the end: without kube-controller-manager it
// would stay Terminating anyway.
func (c *Cluster) Namespace(t testing.TB) string {
	t.Helper()
	base := strings.Trim(namespaceNameRE.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(base) > 40 {
		base = strings.Trim(base[:40], "-")
	}
	if base == "" {
		base = "test"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns, err := c.Client(t).CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: base + "-"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("kube: creating a namespace: %v", err)
	}
	if err := c.ensureDefaultServiceAccount(ns.Name); err != nil {
		t.Fatalf("kube: %v", err)
	}
	return ns.Name
}

// ensureDefaultServiceAccount creates the ServiceAccount "default" in ns,
// as kube-controller-manager would, retrying while the namespace is not
// there yet (the API server creates "default" shortly after it is ready).
func (c *Cluster) ensureDefaultServiceAccount(ns string) error {
	cs, err := kubernetes.NewForConfig(c.Config())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		_, err = cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{
			ObjectMeta: metav1.ObjectMeta{Name: "default"},
		}, metav1.CreateOptions{})
		if err == nil || apierrors.IsAlreadyExists(err) {
			return nil
		}
		if !apierrors.IsNotFound(err) || ctx.Err() != nil {
			return fmt.Errorf("creating ServiceAccount %s/default: %w", ns, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Dir is the directory of the cluster's files: etcd-data/, certs/,
// tokens.csv, kubeconfig, etcd.log and kube-apiserver.log.
func (c *Cluster) Dir() string { return c.dir }

func (c *Cluster) apiserverLog() string { return filepath.Join(c.dir, "kube-apiserver.log") }

func randomToken() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// getOK sends req with client and wants 200 OK; what names it in the error.
func getOK(client *http.Client, req *http.Request, what string) error {
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", what, resp.Status)
	}
	return nil
}
