// Package kube runs a real Kubernetes control plane for tests: an etcd and a
// kube-apiserver, both built from source by hack/testbin.sh (`make testbin`)
// at Kubernetes v1.36.3 and started as child processes bound to 127.0.0.1.
// Ferry's sync engine (server-side apply, pruning, health) is tested against
// it, so field ownership, conflicts, admission, RBAC, validation and
// resourceVersion semantics are the real server's, not a fake's.
//
// # Binaries
//
// The binaries live outside the repository, in the directory named by the
// environment variable FERRY_TESTBIN, or by default in
// ${XDG_CACHE_HOME:-$HOME/.cache}/ferry/testbin/k8s-v1.36.3 (see BinDir), so
// every clone on a machine shares one build (about 12 CPU-minutes the first
// time, instant afterwards). `make test` runs `make testbin` first. When the
// binaries are missing, Start skips the test, unless the environment says the
// suite must be complete (CI=true or FERRY_REQUIRE_SERVERS=1, see Required),
// where it fails the test with a hint to run `make testbin`.
//
// # One cluster per test
//
//	c := kube.Start(t, kube.WithUser("dev", "developers"))
//	cs := kubernetes.NewForConfigOrDie(c.Config())        // admin (system:masters)
//	dev := kubernetes.NewForConfigOrDie(c.ConfigFor("dev")) // token of "dev"
//	ns := c.Namespace(t)                                    // fresh namespace
//	cmd := exec.Command("ferry", "sync", "--kubeconfig", c.Kubeconfig())
//
// Start starts etcd (data in t.TempDir(), random loopback ports, fsync off)
// and then kube-apiserver (random loopback secure port, self-signed serving
// certificate in its --cert-dir, a static --token-auth-file, RBAC
// authorization, a generated service-account signing key, the default
// admission plugins), waits for /readyz (about 2 s) and stops both when the
// test ends: the API server first, then etcd.
//
// Identities: Config authenticates as AdminUser in group system:masters,
// which RBAC never denies. WithUser/WithUsers add users with their own
// bearer tokens to the token file at start; ConfigFor(name) and
// KubeconfigFor(name) then authenticate as that user. ConfigFor with a user
// or groups that were not registered falls back to impersonation by the
// admin (Impersonate-User/Group headers), which RBAC evaluates exactly like
// the impersonated user; prefer registered users when the code under test
// sets impersonation headers itself.
//
// As on any cluster, RBAC is enforced from the API server's informer cache:
// a Role or binding just created takes effect a few milliseconds later, so
// a test that grants a permission polls until the request is allowed.
//
// Restart stops and starts the API server on the same port, with the same
// certificate, tokens and etcd, so all data survive and the same rest.Config
// keeps working: a fault-injection test can watch its client ride out an
// outage. StopAPIServer and StartAPIServer do the two halves separately, to
// keep the server down for a while.
//
// # One cluster per package
//
// A package whose tests can share a cluster pays the start-up once:
//
//	func TestMain(m *testing.M) { os.Exit(kube.Main(m, kube.WithUser("dev"))) }
//
//	func TestSomething(t *testing.T) {
//		c := kube.Shared(t) // started by the first caller, reused after
//		ns := c.Namespace(t)
//		...
//	}
//
// Main stops the shared cluster after the package's tests. Tests sharing a
// cluster must isolate themselves (their own namespaces, unique names for
// cluster-scoped objects) and must not restart it (Restart fails the test
// on a shared cluster).
//
// # What is not there
//
// Only etcd and kube-apiserver run: no kube-controller-manager, no
// scheduler, no kubelet. Hence:
//
//   - No pods ever run, and no controller updates status: a Deployment's
//     status stays empty, a Pod stays Pending without a node. Tests of
//     health checks set the status they need through the status
//     subresource (UpdateStatus, or a server-side apply on
//     subresource "status"), as a controller would.
//   - Nothing is garbage collected: deleting an owner leaves its dependents
//     (no ownerReference cascade), and a deleted namespace stays
//     Terminating forever. Clean up by deleting objects directly, or just
//     let the cluster go with the test.
//   - No ServiceAccount controller: a namespace has no "default"
//     ServiceAccount unless someone makes one, and the ServiceAccount
//     admission plugin rejects Pods without it. Namespace(t) creates it, and
//     Start creates it in namespace "default".
//   - No token controller and no kube-root-ca.crt ConfigMaps.
//
// Custom resources work (apiextensions is part of kube-apiserver): create a
// CustomResourceDefinition and wait until it is Established.
//
// The package needs Linux (the children get a parent-death signal, so a test
// binary killed by a timeout does not leave servers behind).
package kube
