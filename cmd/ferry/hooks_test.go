package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/ferrygitops/ferry/deploy"
	"github.com/ferrygitops/ferry/internal/testenv/gitserver"
	"github.com/ferrygitops/ferry/internal/testenv/kube"
)

// TestSyncHooksOutput: ferry sync and ferry status show the hook runs of
// a sync (table, and in -o json); ferry diff leaves hooks out.
func TestSyncHooksOutput(t *testing.T) {
	c := kube.Shared(t)
	ns := c.Namespace(t)
	git := gitserver.New(t)
	url := git.CreateRepo("manifests", map[string]string{
		".ferry/apps.yaml": appsYAML(ns),
		"app/a.yaml":       cm("a", "1"),
		"app/pre.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: pre\n  annotations: {argocd.argoproj.io/hook: PreSync, argocd.argoproj.io/sync-wave: \"-2\"}\n" +
			"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: post-\n  annotations: {helm.sh/hook: post-install, helm.sh/hook-delete-policy: hook-succeeded}\n",
	})
	base := []string{"--repo", url, "--kubeconfig", c.Kubeconfig()}
	cmd := func(args ...string) []string { return append(args, base...) }

	code, out, errs := run(t, cmd("diff", "web")...)
	if code != 1 || !strings.Contains(out, "1 of 1 objects differ") {
		t.Fatalf("diff: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, errs = run(t, cmd("sync", "web")...)
	if code != 0 || !strings.Contains(out, "HOOK") || !regexp.MustCompile(`ConfigMap/`+ns+`/pre +PreSync +-2 +Succeeded`).MatchString(out) ||
		!strings.Contains(out, "ConfigMap/"+ns+"/post-") || !strings.Contains(out, "deleted") {
		t.Fatalf("sync: exit %d\n%s\n%s", code, out, errs)
	}
	t.Logf("ferry sync web:\n%s", out)
	code, out, errs = run(t, cmd("status", "web")...)
	if code != 0 || !strings.Contains(out, "Hooks of the last sync") || !strings.Contains(out, "PostSync") {
		t.Fatalf("status: exit %d\n%s\n%s", code, out, errs)
	}
	t.Logf("ferry status web:\n%s", out)
	code, out, errs = run(t, cmd("status", "web", "-o", "json")...)
	var st deploy.AppStatus
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st.Last == nil || len(st.Last.Hooks) != 2 ||
		st.Last.Hooks[0].Phase != "PreSync" || st.Last.Hooks[1].Result != "Succeeded" || !st.Last.Hooks[1].Deleted || len(st.Objects) != 1 {
		t.Fatalf("status -o json: exit %d\n%s\n%s", code, out, errs)
	}
}
