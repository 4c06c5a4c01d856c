package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/ferrygitops/ferry/internal/testenv"
	"github.com/ferrygitops/ferry/internal/testenv/githubapi"
	"github.com/ferrygitops/ferry/internal/testenv/gitserver"
	"github.com/ferrygitops/ferry/internal/testenv/kube"
)

// --log-format json makes every log line a JSON object, client-go's klog
// lines included (here leader election's), and --log-level applies to
// them too.
func TestLogFormatAndClientGoLogs(t *testing.T) {
	cluster := kube.Shared(t)
	ns := cluster.Namespace(t)
	reg := seededRegistry(t)
	git := gitserver.New(t, gitserver.WithBasicAuth("x-access-token", githubapi.DefaultToken))
	url := git.CreateRepo("manifests", map[string]string{
		".ferry/policies.yaml": strings.ReplaceAll(releasePolicy, "HOST", reg.Host),
		"apps/api/deploy.yaml": strings.ReplaceAll(deployment, "HOST", reg.Host),
	})
	dir := t.TempDir()
	token := writeFile(t, dir, "token", githubapi.DefaultToken)
	for _, tc := range []struct {
		level, lease string
		klogLine     bool
	}{
		{level: "info", lease: "json-info", klogLine: true},
		{level: "warn", lease: "json-warn", klogLine: false},
	} {
		t.Run(tc.level, func(t *testing.T) {
			addr := freeAddr(t)
			cfg := writeFile(t, dir, tc.lease+".yaml", fmt.Sprintf(`kind: RunConfig
listen: %q
schedule: {interval: 1h, jitter: 0s}
repos: [{url: %s, mode: branch, git: {tokenFile: %s}}]
leaderElection: {enabled: true, namespace: %s, name: %s}
`, addr, url, token, ns, tc.lease))
			ctx, cancel := context.WithCancel(context.Background())
			var out, errs testenv.SyncBuffer
			done := make(chan int)
			go func() {
				done <- Main(ctx, []string{"run", "--config", cfg, "--kubeconfig", cluster.Kubeconfig(), "--log-format", "json", "--log-level", tc.level}, &out, &errs)
			}()
			waitFor(t, "the first cycle", func() bool {
				_, body := get(t, "http://"+addr+"/status.json")
				return strings.Contains(body, `"lastCycle"`)
			})
			cancel()
			if code := <-done; code != 0 {
				t.Fatalf("exit %d:\n%s", code, errs.String())
			}
			klogLine := false
			for line := range strings.Lines(errs.String()) {
				var rec map[string]any
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Errorf("a log line that is not JSON: %q", line)
					continue
				}
				if msg, _ := rec["msg"].(string); strings.Contains(strings.ToLower(msg), "leader lease") {
					klogLine = true
				}
			}
			if klogLine != tc.klogLine {
				t.Errorf("client-go's leader election lines in the log: %v, want %v:\n%s", klogLine, tc.klogLine, errs.String())
			}
		})
	}
	if code, _, errs := run(t, "version", "--log-format", "yaml"); code != 2 || !strings.Contains(errs, "--log-format") {
		t.Errorf("--log-format yaml: exit %d: %s", code, errs)
	}
}
