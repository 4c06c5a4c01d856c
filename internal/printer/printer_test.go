package printer

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ferrygitops/ferry/bot"
	"github.com/ferrygitops/ferry/deploy"
	"github.com/ferrygitops/ferry/deploy/render"
	"github.com/ferrygitops/ferry/promote"
	"github.com/ferrygitops/ferry/registry"
	"github.com/ferrygitops/ferry/updater"
)

func TestWrite(t *testing.T) {
	v := map[string]any{"a": 1}
	var b bytes.Buffer
	if err := Write(&b, "json", v); err != nil || b.String() != "{\n  \"a\": 1\n}\n" {
		t.Errorf("json: %q, %v", b.String(), err)
	}
	b.Reset()
	if err := Write(&b, "yaml", v); err != nil || b.String() != "a: 1\n" {
		t.Errorf("yaml: %q, %v", b.String(), err)
	}
	if !Machine("json") || !Machine("yaml") || Machine("table") || Machine("text") {
		t.Error("Machine")
	}
}

func TestHelpers(t *testing.T) {
	if OrDash("") != "-" || OrDash("x") != "x" {
		t.Error("OrDash")
	}
	if got := Short("0123456789abcdef0123456789abcdef01234567"); got != "0123456789ab" {
		t.Errorf("Short = %q", got)
	}
	if Short("") != "-" {
		t.Error("Short of none")
	}
	if got := OneLine("a\nb"); got != "a; b" {
		t.Errorf("OneLine = %q", got)
	}
	if got := OneLine(strings.Repeat("x", 300)); len(got) != 200 || !strings.HasSuffix(got, "...") {
		t.Errorf("OneLine of 300 bytes: %d bytes", len(got))
	}
}

func TestScan(t *testing.T) {
	stats := &registry.HostStats{Requests: 4, Retries: 1}
	rep := &bot.Report{
		Policies: []bot.PolicyReport{
			{Name: "app", Image: "ghcr.io/acme/app", Strategy: "semver", Tag: "1.1.0", TagsSeen: 3, TagsMatched: 2,
				References: []bot.RefReport{{File: "a.yaml", Line: 9, Object: "Deployment//app", Form: updater.FormImage, Current: "ghcr.io/acme/app:1.0.0", Wanted: "ghcr.io/acme/app:1.1.0", Status: updater.StatusUpdate}}},
			{Name: "web", Image: "ghcr.io/acme/web", Strategy: "semver", Error: "listing failed"},
		},
		Markers: []updater.MarkerProblem{{File: "b.yaml", Line: 3, Marker: "nope", Why: "no such policy"}},
		Skipped: []updater.Skipped{{File: "README.md", Reason: "not YAML"}},
		Files:   2, Parsed: 1,
		Stats: stats,
	}
	var b bytes.Buffer
	Scan(&b, rep, true)
	out := b.String()
	for _, want := range []string{
		"POLICY  IMAGE             STRATEGY  NEWEST  MATCHED/SEEN\napp     ghcr.io/acme/app  semver    1.1.0   2/3\nweb     ghcr.io/acme/web  semver    ERROR   0/0\n",
		"a.yaml:9   Deployment/app  app     1.0.0    1.1.0   update",
		"\nerror: policy web: listing failed\n",
		"\nerror: b.yaml:3: marker {\"$imagepolicy\": \"nope\"}: no such policy\n",
		"\nFiles not read (1 of 2 considered; 1 parsed):\n  not YAML (1):\n    README.md\n",
		"\nRegistry calls: 4 requests, 1 retries, 0 errors.\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	b.Reset()
	Scan(&b, &bot.Report{}, false)
	if !strings.Contains(b.String(), "No references to these images found in the repository.") {
		t.Errorf("empty scan:\n%s", b.String())
	}
}

func TestUpdate(t *testing.T) {
	var b bytes.Buffer
	Update(&b, &bot.UpdateResult{Report: &bot.Report{}})
	if b.String() != "Everything is up to date.\n" {
		t.Errorf("nothing to do: %q", b.String())
	}
	b.Reset()
	res := &bot.UpdateResult{DryRun: true, Report: &bot.Report{},
		Changes: []updater.Change{{Reference: updater.Reference{File: "a.yaml", Line: 9, Object: "Deployment//app", FieldPath: "spec.image", Form: updater.FormImage}, From: "ghcr.io/acme/app:1.0.0", To: "ghcr.io/acme/app:1.1.0"}},
		Held:    []bot.HeldRef{{File: "w.yaml", Line: 2, Current: "web:2.0.0", Status: updater.StatusAhead, Why: "newer"}},
		Diff:    "--- a/a.yaml\n"}
	Update(&b, res)
	want := "Would update 1 reference(s):\nFILE:LINE  OBJECT          FIELD       OLD       NEW\na.yaml:9   Deployment/app  spec.image  1.0.0  →  1.1.0\n\nLeft alone:\n  w.yaml:2 web:2.0.0 (ahead): newer\n\n--- a/a.yaml\n"
	if b.String() != want {
		t.Errorf("dry run:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestPromoteAndReject(t *testing.T) {
	var b bytes.Buffer
	Promote(&b, []promote.Result{{Promotion: "web", From: "staging", To: "prod", Action: "blocked", Gates: []promote.Gate{{Name: "soak", State: "failed", Detail: "not yet"}}}}, false)
	if !strings.Contains(b.String(), "web        staging  prod  -         blocked  -") || !strings.Contains(b.String(), "\nweb:\n  soak         failed  not yet\n") {
		t.Errorf("promote:\n%s", b.String())
	}
	b.Reset()
	Reject(&b, &promote.RejectResult{Version: "web:1", Action: "created", PullNumber: 3, PullURL: "https://x/3", Diff: "diff\n"}, true)
	if b.String() != "web:1: rejected (created, #3 https://x/3)\ndiff\n" {
		t.Errorf("reject: %q", b.String())
	}
}

func TestRecordAndStatus(t *testing.T) {
	start := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	cm := render.ObjectKey{Kind: "ConfigMap", Namespace: "web", Name: "a"}
	rec := deploy.Record{App: "web", Revision: "0123456789abcdef", Result: deploy.Succeeded, Started: start, Finished: start.Add(1500 * time.Millisecond),
		Counts:  deploy.Counts{Created: 1, Unchanged: 1},
		Objects: []deploy.ObjectResult{{ObjectKey: cm, Action: deploy.ActionCreated, Health: "Current"}, {ObjectKey: render.ObjectKey{Kind: "ConfigMap", Namespace: "web", Name: "b"}, Action: deploy.ActionUnchanged, Health: "Current"}},
		Hooks:   []deploy.HookResult{{ObjectKey: render.ObjectKey{Kind: "Job", Namespace: "web", Name: "migrate"}, Phase: "PreSync", Result: "Succeeded", Deleted: true}}}
	var b bytes.Buffer
	Record(&b, rec)
	out := b.String()
	for _, want := range []string{"synced web at 0123456789ab: Succeeded in 1.5s\n1 created, 0 configured, 1 unchanged, 0 pruned, 0 skipped, 0 failed\n",
		"ConfigMap/web/a  created  Current  -", "PreSync  0     Succeeded  deleted"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "ConfigMap/web/b") {
		t.Errorf("an unchanged healthy object listed:\n%s", out)
	}

	b.Reset()
	Status(&b, deploy.AppStatus{App: "web", Revision: "0123456789", Last: &rec, History: []deploy.Record{rec},
		Pin:     &deploy.Pin{Revision: "0123456789", From: "abcdef0123", Time: start},
		Objects: []deploy.ObjectResult{{ObjectKey: cm, Health: "Current"}, {ObjectKey: render.ObjectKey{Kind: "Deployment", Namespace: "web", Name: "api"}, Health: "InProgress", Message: "rolling"}}}, "ferry rollback web --release")
	out = b.String()
	for _, want := range []string{"\nPinned by a rollback: syncs keep 0123456789 until `ferry rollback web --release`.\n", "\n1 of 2 objects healthy\n", "Deployment/web/api  InProgress  rolling"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
}

func TestTick(t *testing.T) {
	tm := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	var b bytes.Buffer
	Tick(&b, "table", deploy.Tick{App: "web", Time: tm, Record: deploy.Record{App: "web"}})
	if b.Len() != 0 {
		t.Errorf("a quiet round printed %q", b.String())
	}
	Tick(&b, "table", deploy.Tick{App: "web", Time: tm, Record: deploy.Record{App: "web", Revision: "0123456789", Result: deploy.Failed}, Err: errors.New("boom\nagain")})
	if b.String() != "2026-12-05T09:00:00Z  web  0123456789  Failed  0 created, 0 configured, 0 pruned; error: boom; again\n" {
		t.Errorf("failed round: %q", b.String())
	}
	b.Reset()
	Tick(&b, "yaml", deploy.Tick{App: "web", Time: tm})
	if !strings.HasPrefix(b.String(), "---\napp: web\n") {
		t.Errorf("yaml: %q", b.String())
	}
}

func TestManifests(t *testing.T) {
	secret := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "s"}, "data": map[string]any{"k": "c2VjcmV0"}}}
	ms := []render.Manifest{{Key: render.KeyOf(secret), Object: secret, Source: "app/s.yaml:1"}}
	var b bytes.Buffer
	if err := Manifests(&b, "table", ms, false); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "---\n# Source: app/s.yaml:1\n") || strings.Contains(b.String(), "c2VjcmV0") {
		t.Errorf("masked:\n%s", b.String())
	}
	b.Reset()
	if err := Manifests(&b, "json", ms, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"kind": "List"`) || !strings.Contains(b.String(), "c2VjcmV0") {
		t.Errorf("json with secrets:\n%s", b.String())
	}
}
