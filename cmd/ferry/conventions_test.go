package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/ferrygitops/ferry/deploy"
	"github.com/ferrygitops/ferry/internal/testenv/gitserver"
	"github.com/ferrygitops/ferry/internal/testenv/kube"
)

// TestKubectlConventions: an App's destination.context "staging" finds the
// kubeconfig context EKS names arn:aws:eks:...:cluster/staging; -n and
// -o yaml work as in kubectl; --repo takes a local clone as well as a URL;
// a status of an app that never synced is an error; the release hint a
// rollback prints runs as printed.
func TestKubectlConventions(t *testing.T) {
	c := kube.Start(t)
	ns := c.Namespace(t)
	git := gitserver.New(t)
	url := git.CreateRepo("manifests", map[string]string{
		".ferry/apps.yaml": strings.Replace(appsYAML(ns), "destination: {namespace: "+ns+"}", "destination: {namespace: "+ns+", context: staging}", 1),
		"app/a.yaml":       cm("a", "1"),
	})
	first, _ := git.Head("manifests", "main")

	// The harness's kubeconfig, its context renamed as EKS names it.
	cfg, err := clientcmd.LoadFromFile(c.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	const eks = "arn:aws:eks:eu-west-1:123456789012:cluster/staging"
	cfg.Contexts[eks] = cfg.Contexts[cfg.CurrentContext]
	delete(cfg.Contexts, cfg.CurrentContext)
	cfg.CurrentContext = ""
	kubeconfig := filepath.Join(t.TempDir(), "config")
	if err := clientcmd.WriteToFile(*cfg, kubeconfig); err != nil {
		t.Fatal(err)
	}

	// A local clone as --repo.
	clone := filepath.Join(t.TempDir(), "manifests")
	if out, err := exec.Command("git", "clone", "-q", url, clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	if code, out, errs := run(t, "sync", "web", "--repo", clone, "--kubeconfig", kubeconfig); code != 0 {
		t.Fatalf("sync from a local clone through the EKS context name: exit %d\n%s%s", code, out, errs)
	}

	code, out, errs := run(t, "status", "web", "-n", ns, "--kubeconfig", kubeconfig, "--context", eks, "-o", "yaml")
	var st deploy.AppStatus
	if code != 0 || sigsyaml.Unmarshal([]byte(out), &st) != nil || st.Revision != first {
		t.Fatalf("status -n -o yaml: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := run(t, "status", "nosuchapp", "-n", ns, "--kubeconfig", kubeconfig, "--context", eks); code != exitConfig || !strings.Contains(errs, `no app "nosuchapp" has synced`) {
		t.Errorf("status of an unknown app: exit %d, %s", code, errs)
	}
	if code, _, errs := run(t, "sync", "web", "--repo", clone, "--kubeconfig", kubeconfig, "--context-map", "staging=nope"); code != exitConfig || !strings.Contains(errs, `maps to "nope"`) {
		t.Errorf("a --context-map to a missing context: exit %d, %s", code, errs)
	}

	git.Commit("manifests", "main", "v2", map[string]string{"app/a.yaml": cm("a", "2")})
	if code, _, errs := run(t, "sync", "web", "--repo", url, "--kubeconfig", kubeconfig); code != 0 {
		t.Fatalf("sync v2: exit %d\n%s", code, errs)
	}
	code, out, errs = run(t, "rollback", "web", "--repo", url, "--kubeconfig", kubeconfig)
	if code != 0 {
		t.Fatalf("rollback: exit %d\n%s%s", code, out, errs)
	}
	_, hint, ok := strings.Cut(out, "release with: ")
	if !ok {
		t.Fatalf("no release hint in:\n%s", out)
	}
	args := strings.Fields(strings.TrimSpace(hint))
	if args[0] != "ferry" {
		t.Fatalf("hint %q", hint)
	}
	if code, out, errs := run(t, args[1:]...); code != 0 || !strings.Contains(out, "released") {
		t.Errorf("the printed hint %q: exit %d\n%s%s", hint, code, out, errs)
	}
	os.RemoveAll(clone)
}

// TestCommandHelp: the root help names every group of commands, version
// carries the commit, and a bump of a local directory that is not a git
// clone says so.
func TestCommandHelp(t *testing.T) {
	_, out, _ := run(t, "--help")
	for _, want := range []string{"Image updates:", "scan", "import", "The sync loop", "sync", "diff", "status", "rollback", "run", "exits 0 done, 1 a difference"} {
		if !strings.Contains(out, want) {
			t.Errorf("root help lacks %q:\n%s", want, out)
		}
	}
	code, out, _ := run(t, "version", "-o", "json")
	if code != 0 || !strings.Contains(out, `"commit":`) {
		t.Errorf("version -o json: exit %d %s", code, out)
	}
	if code, _, errs := run(t, "bump", "--repo", t.TempDir(), "--dry-run"); code != exitConfig || !strings.Contains(errs, "not a git repository") {
		t.Errorf("bump of a plain directory: exit %d, %s", code, errs)
	}
	if code, _, errs := run(t, "update", "--repo", "https://example.com/acme/manifests.git"); code != exitConfig || !strings.Contains(errs, "rewrites a working tree") {
		t.Errorf("update of a URL: exit %d, %s", code, errs)
	}
}

// TestScanOfAURL: ferry scan takes a clone URL as well as a directory.
func TestScanOfAURL(t *testing.T) {
	srv := seededRegistry(t)
	git := gitserver.New(t)
	url := git.CreateRepo("manifests", map[string]string{
		".ferry/policies.yaml": strings.ReplaceAll(releasePolicy, "HOST", srv.Host),
		"apps/api/deploy.yaml": strings.ReplaceAll(deployment, "HOST", srv.Host),
	})
	code, out, errs := run(t, "scan", "--repo", url, "-o", "json")
	if code != 0 {
		t.Fatalf("scan of %s: exit %d\n%s", url, code, errs)
	}
	checkScanJSON(t, out)
}
