package server

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/url"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
)

// webhookCase is one delivery and what it must lead to.
type webhookCase struct {
	name    string
	mutate  func(*Options) // server options
	req     request
	want    int     // status code
	trigger []Event // the events triggered (Source and Received are filled in)
}

func runWebhookCases(t *testing.T, source string, cases []webhookCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, tr := newTestServer(t, tc.mutate)
			w := serve(t, s.Handler(), tc.req)
			if w.Code != tc.want {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tc.want, w.Body)
			}
			res := decodeResponse(t, w)
			if w.Code >= 400 && res.Error == "" {
				t.Errorf("error response without an error message: %s", w.Body)
			}
			if w.Code < 400 && res.Accepted != len(tc.trigger) {
				t.Errorf("accepted = %d, want %d", res.Accepted, len(tc.trigger))
			}
			want := tc.trigger
			for i := range want {
				want[i].Source, want[i].Received = source, testNow
			}
			if got := tr.got(); !reflect.DeepEqual(got, want) && (len(got) > 0 || len(want) > 0) {
				t.Errorf("triggered\n %+v\nwant\n %+v", got, want)
			}
		})
	}
}

// --- ECR ---

func ecrBody(mutate func(m map[string]any)) []byte {
	ev := map[string]any{
		"version":     "0",
		"id":          "13cde686-328b-6117-af20-0e5566167482",
		"detail-type": "ECR Image Action",
		"source":      "aws.ecr",
		"account":     "123456789012",
		"time":        "2024-03-01T11:59:58Z",
		"region":      "us-east-1",
		"resources":   []string{},
		"detail": map[string]any{
			"result":          "SUCCESS",
			"repository-name": "myapp",
			"image-digest":    "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234",
			"action-type":     "PUSH",
			"image-tag":       "release.20240301",
		},
	}
	if mutate != nil {
		mutate(ev)
	}
	b, _ := json.Marshal(ev)
	return b
}

func setDetail(key string, value any) func(map[string]any) {
	return func(m map[string]any) {
		d := m["detail"].(map[string]any)
		if value == nil {
			delete(d, key)
		} else {
			d[key] = value
		}
	}
}

func ecrRequest(body []byte, token string) request {
	h := map[string]string{"Content-Type": "application/json; charset=utf-8"}
	if token != "" {
		h["X-Ferry-Token"] = token
	}
	return request{path: "/webhooks/ecr", body: body, header: h}
}

func TestECRWebhook(t *testing.T) {
	pushed := Event{
		Kind:       KindImage,
		ID:         "13cde686-328b-6117-af20-0e5566167482",
		Repository: "123456789012.dkr.ecr.us-east-1.amazonaws.com/myapp",
		Tag:        "release.20240301",
		Digest:     "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234",
	}
	china := pushed
	china.Repository = "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/team/myapp"
	custom := ecrRequest(ecrBody(nil), "")
	custom.header["X-Api-Key"] = "ecr-token"
	big := ecrRequest(append(ecrBody(nil), make([]byte, 2<<20)...), "ecr-token")
	bigChunked := big
	bigChunked.chunked = true

	runWebhookCases(t, SourceECR, []webhookCase{
		{name: "push", req: ecrRequest(ecrBody(nil), "ecr-token"), want: 200, trigger: []Event{pushed}},
		{name: "china region and nested repository", req: ecrRequest(ecrBody(func(m map[string]any) {
			m["region"] = "cn-north-1"
			setDetail("repository-name", "team/myapp")(m)
		}), "ecr-token"), want: 200, trigger: []Event{china}},
		{name: "custom token header", mutate: func(o *Options) { o.ECRTokenHeader = "X-Api-Key" }, req: custom, want: 200, trigger: []Event{pushed}},
		{name: "no content type", req: request{path: "/webhooks/ecr", body: ecrBody(nil), header: map[string]string{"X-Ferry-Token": "ecr-token"}}, want: 200, trigger: []Event{pushed}},
		{name: "wrong token", req: ecrRequest(ecrBody(nil), "ecr-tokeN"), want: 401},
		{name: "token prefix", req: ecrRequest(ecrBody(nil), "ecr-"), want: 401},
		{name: "no token", req: ecrRequest(ecrBody(nil), ""), want: 401},
		{name: "disabled", mutate: func(o *Options) { o.ECRToken = "" }, req: ecrRequest(ecrBody(nil), ""), want: 404},
		{name: "malformed JSON", req: ecrRequest([]byte(`{"id":`), "ecr-token"), want: 400},
		{name: "wrong source", req: ecrRequest(ecrBody(func(m map[string]any) { m["source"] = "aws.s3" }), "ecr-token"), want: 400},
		{name: "wrong detail-type", req: ecrRequest(ecrBody(func(m map[string]any) { m["detail-type"] = "ECR Image Scan" }), "ecr-token"), want: 400},
		{name: "no detail", req: ecrRequest(ecrBody(func(m map[string]any) { delete(m, "detail") }), "ecr-token"), want: 400},
		{name: "bad account", req: ecrRequest(ecrBody(func(m map[string]any) { m["account"] = "evil.com/x" }), "ecr-token"), want: 400},
		{name: "bad repository", req: ecrRequest(ecrBody(setDetail("repository-name", "My App")), "ecr-token"), want: 400},
		{name: "delete ignored", req: ecrRequest(ecrBody(setDetail("action-type", "DELETE")), "ecr-token"), want: 202},
		{name: "failed push ignored", req: ecrRequest(ecrBody(setDetail("result", "FAILURE")), "ecr-token"), want: 202},
		{name: "untagged push ignored", req: ecrRequest(ecrBody(setDetail("image-tag", nil)), "ecr-token"), want: 202},
		{name: "oversize body", req: big, want: 413},
		{name: "oversize chunked body", req: bigChunked, want: 413},
		{name: "wrong content type", req: request{path: "/webhooks/ecr", body: ecrBody(nil), header: map[string]string{"X-Ferry-Token": "ecr-token", "Content-Type": "text/plain"}}, want: 415},
	})
}

func TestECRDuplicateDelivery(t *testing.T) {
	s, tr := newTestServer(t, nil)
	first := serve(t, s.Handler(), ecrRequest(ecrBody(nil), "ecr-token"))
	second := serve(t, s.Handler(), ecrRequest(ecrBody(nil), "ecr-token"))
	if first.Code != 200 || second.Code != 200 {
		t.Fatalf("status = %d, %d; want 200, 200", first.Code, second.Code)
	}
	if r := decodeResponse(t, second); !r.Duplicate || r.Accepted != 0 {
		t.Errorf("second delivery: %s, want duplicate", second.Body)
	}
	if !strings.Contains(second.Body.String(), `"duplicate":true`) {
		t.Errorf("second delivery: %s", second.Body)
	}
	if n := len(tr.got()); n != 1 {
		t.Fatalf("Trigger called %d times, want 1", n)
	}
	// Another event ID is new.
	third := serve(t, s.Handler(), ecrRequest(ecrBody(func(m map[string]any) { m["id"] = "other" }), "ecr-token"))
	if third.Code != 200 || len(tr.got()) != 2 {
		t.Fatalf("a new event ID: status %d, %d triggers", third.Code, len(tr.got()))
	}
}

// --- Docker distribution ---

const registryEnvelopeJSON = `{"events":[
 {"id":"ev-1","timestamp":"2024-03-01T11:59:58Z","action":"push",
  "target":{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":708,
            "digest":"sha256:fea8895f450959fa676bcc1df0611ea93823a735a01205fd8622846041d0c7cf","length":708,
            "repository":"acme/web","url":"http://registry:5000/v2/acme/web/manifests/sha256:fea8895f450959fa676bcc1df0611ea93823a735a01205fd8622846041d0c7cf",
            "tag":"1.2.3"},
  "request":{"id":"r1","addr":"10.0.0.7:4312","host":"registry:5000","method":"PUT","useragent":"docker/25.0"},
  "actor":{"name":"ci"},"source":{"addr":"registry-0:5000","instanceID":"i-1"}},
 {"id":"ev-2","timestamp":"2024-03-01T11:59:57Z","action":"push",
  "target":{"mediaType":"application/octet-stream","digest":"sha256:aaaa","repository":"acme/web",
            "url":"http://registry:5000/v2/acme/web/blobs/sha256:aaaa"},
  "request":{"host":"registry:5000"}},
 {"id":"ev-3","timestamp":"2024-03-01T11:59:59Z","action":"pull",
  "target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:bbbb","repository":"acme/web","tag":"1.2.2",
            "url":"http://registry:5000/v2/acme/web/manifests/1.2.2"},
  "request":{"host":"registry:5000"}}
]}`

func registryRequest(body, auth string) request {
	h := map[string]string{"Content-Type": "application/vnd.docker.distribution.events.v1+json"}
	if auth != "" {
		h["Authorization"] = auth
	}
	return request{path: "/webhooks/registry", body: []byte(body), header: h}
}

func TestRegistryWebhook(t *testing.T) {
	pushed := Event{
		Kind:       KindImage,
		ID:         "ev-1",
		Repository: "registry:5000/acme/web",
		Tag:        "1.2.3",
		Digest:     "sha256:fea8895f450959fa676bcc1df0611ea93823a735a01205fd8622846041d0c7cf",
	}
	fromURL := `{"events":[{"id":"ev-9","action":"push","target":{"repository":"team/api","digest":"sha256:cccc","tag":"v2",
		"url":"https://Registry.Example.com/v2/team/api/manifests/sha256:cccc"},"request":{}}]}`
	two := `{"events":[
		{"id":"a","action":"push","target":{"repository":"x","tag":"1","digest":"sha256:1"},"request":{"host":"reg.local"}},
		{"id":"b","action":"push","target":{"repository":"y/z","tag":"2","digest":"sha256:2"},"request":{"host":"reg.local"}}]}`
	jsonType := registryRequest(registryEnvelopeJSON, "Bearer registry-token")
	jsonType.header["Content-Type"] = "application/json"

	runWebhookCases(t, SourceRegistry, []webhookCase{
		{name: "push among blob pushes and pulls", req: registryRequest(registryEnvelopeJSON, "Bearer registry-token"), want: 200, trigger: []Event{pushed}},
		{name: "application/json", req: jsonType, want: 200, trigger: []Event{pushed}},
		{name: "lower-case scheme", req: registryRequest(registryEnvelopeJSON, "bearer registry-token"), want: 200, trigger: []Event{pushed}},
		{name: "host from the target URL", req: registryRequest(fromURL, "Bearer registry-token"), want: 200, trigger: []Event{{
			Kind: KindImage, ID: "ev-9", Repository: "registry.example.com/team/api", Tag: "v2", Digest: "sha256:cccc"}}},
		{name: "two pushes", req: registryRequest(two, "Bearer registry-token"), want: 200, trigger: []Event{
			{Kind: KindImage, ID: "a", Repository: "reg.local/x", Tag: "1", Digest: "sha256:1"},
			{Kind: KindImage, ID: "b", Repository: "reg.local/y/z", Tag: "2", Digest: "sha256:2"}}},
		{name: "only pulls ignored", req: registryRequest(`{"events":[{"id":"p","action":"pull","target":{"repository":"x","tag":"1"},"request":{"host":"reg.local"}}]}`, "Bearer registry-token"), want: 202},
		{name: "empty envelope ignored", req: registryRequest(`{"events":[]}`, "Bearer registry-token"), want: 202},
		{name: "push without a host skipped", req: registryRequest(`{"events":[{"id":"p","action":"push","target":{"repository":"x","tag":"1"}}]}`, "Bearer registry-token"), want: 202},
		{name: "wrong token", req: registryRequest(registryEnvelopeJSON, "Bearer nope"), want: 401},
		{name: "basic auth", req: registryRequest(registryEnvelopeJSON, "Basic registry-token"), want: 401},
		{name: "bare token", req: registryRequest(registryEnvelopeJSON, "registry-token"), want: 401},
		{name: "no token", req: registryRequest(registryEnvelopeJSON, ""), want: 401},
		{name: "disabled", mutate: func(o *Options) { o.RegistryToken = "" }, req: registryRequest(registryEnvelopeJSON, "Bearer "), want: 404},
		{name: "malformed JSON", req: registryRequest(`{"events":[`, "Bearer registry-token"), want: 400},
		{name: "not an envelope", req: registryRequest(`{"id":"x"}`, "Bearer registry-token"), want: 400},
		{name: "oversize body", req: registryRequest(`{"events":[]}`+strings.Repeat(" ", 1<<20), "Bearer registry-token"), want: 413},
		{name: "oversize with a small limit", mutate: func(o *Options) { o.MaxBodyBytes = 100 }, req: registryRequest(registryEnvelopeJSON, "Bearer registry-token"), want: 413},
		{name: "wrong content type", req: func() request {
			r := registryRequest(registryEnvelopeJSON, "Bearer registry-token")
			r.header["Content-Type"] = "application/x-www-form-urlencoded"
			return r
		}(), want: 415},
	})
}

func TestRegistryDuplicateEvents(t *testing.T) {
	s, tr := newTestServer(t, nil)
	serve(t, s.Handler(), registryRequest(registryEnvelopeJSON, "Bearer registry-token"))
	w := serve(t, s.Handler(), registryRequest(registryEnvelopeJSON, "Bearer registry-token"))
	if r := decodeResponse(t, w); w.Code != 200 || !r.Duplicate || r.Duplicates != 1 {
		t.Fatalf("redelivery: %d %s, want 200 duplicate", w.Code, w.Body)
	}
	// An envelope with the seen event and a new one triggers the new one.
	mixed := `{"events":[
		{"id":"ev-1","action":"push","target":{"repository":"acme/web","tag":"1.2.3"},"request":{"host":"registry:5000"}},
		{"id":"ev-4","action":"push","target":{"repository":"acme/web","tag":"1.2.4"},"request":{"host":"registry:5000"}}]}`
	w = serve(t, s.Handler(), registryRequest(mixed, "Bearer registry-token"))
	if r := decodeResponse(t, w); w.Code != 200 || r.Accepted != 1 || r.Duplicates != 1 || r.Duplicate {
		t.Fatalf("mixed envelope: %d %s", w.Code, w.Body)
	}
	got := tr.got()
	if len(got) != 2 || got[1].ID != "ev-4" {
		t.Fatalf("triggered %+v, want ev-1 then ev-4", got)
	}
}

// --- GitHub ---

func sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func githubRequest(event, delivery string, body []byte) request {
	return request{path: "/webhooks/github", body: body, header: map[string]string{
		"Content-Type":        "application/json",
		"X-GitHub-Event":      event,
		"X-GitHub-Delivery":   delivery,
		"X-Hub-Signature-256": sign([]byte("gh-secret"), body),
		"User-Agent":          "GitHub-Hookshot/abc",
	}}
}

const (
	headSHA  = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
	mergeSHA = "e5bd3914e2e596debea16f433f57875b5b90bcd6"
)

func pushBody(ref string, deleted bool) []byte {
	b, _ := json.Marshal(map[string]any{
		"ref": ref, "before": "0000000000000000000000000000000000000000", "after": headSHA, "deleted": deleted,
		"repository": map[string]any{"full_name": "acme/deploy"},
		"pusher":     map[string]any{"name": "alice"},
	})
	return b
}

func prBody(action string, merged bool, head, base string) []byte {
	b, _ := json.Marshal(map[string]any{
		"action": action, "number": 42,
		"pull_request": map[string]any{
			"number": 42, "state": "closed", "merged": merged, "merge_commit_sha": mergeSHA,
			"head": map[string]any{"ref": head, "sha": headSHA},
			"base": map[string]any{"ref": base},
		},
		"repository": map[string]any{"full_name": "acme/deploy"},
	})
	return b
}

func TestGitHubWebhook(t *testing.T) {
	push := Event{Kind: KindPush, ID: "d-1", Repo: "acme/deploy", Branch: "main", Commit: headSHA}
	merged := Event{Kind: KindMerged, ID: "d-1", Repo: "acme/deploy", Branch: "ferry/web", Base: "main", Commit: mergeSHA, PullNumber: 42}

	badSig := githubRequest("push", "d-1", pushBody("refs/heads/main", false))
	badSig.header["X-Hub-Signature-256"] = sign([]byte("other-secret"), pushBody("refs/heads/main", false))
	noSig := githubRequest("push", "d-1", pushBody("refs/heads/main", false))
	delete(noSig.header, "X-Hub-Signature-256")
	sha1Sig := githubRequest("push", "d-1", pushBody("refs/heads/main", false))
	sha1Sig.header["X-Hub-Signature-256"] = strings.Replace(sha1Sig.header["X-Hub-Signature-256"], "sha256=", "sha1=", 1)
	tampered := githubRequest("push", "d-1", pushBody("refs/heads/main", false))
	tampered.body = pushBody("refs/heads/main ", false)

	payload := pushBody("refs/heads/main", false)
	formBody := []byte(url.Values{"payload": {string(payload)}}.Encode())
	form := githubRequest("push", "d-1", formBody)
	form.header["Content-Type"] = "application/x-www-form-urlencoded"

	big := make([]byte, 1<<20+1)
	// The integrator's filter: release is the base branch, bot/ the bot
	// branches' prefix.
	release := func(o *Options) {
		o.Filter = func(ev Event) string {
			switch {
			case ev.Kind == KindPush && ev.Branch != "release":
				return "push to another branch than the base branch"
			case ev.Kind == KindMerged && (!strings.HasPrefix(ev.Branch, "bot/") || ev.Base != "release"):
				return "not a Ferry pull request into the base branch"
			}
			return ""
		}
	}
	anyPush := Event{Kind: KindPush, ID: "d-1", Repo: "acme/deploy", Branch: "ferry/web", Commit: headSHA}
	humanMerge := Event{Kind: KindMerged, ID: "d-1", Repo: "acme/deploy", Branch: "alice/fix", Base: "main", Commit: mergeSHA, PullNumber: 42}

	runWebhookCases(t, SourceGitHub, []webhookCase{
		{name: "ping", req: githubRequest("ping", "d-1", []byte(`{"zen":"Keep it logically awesome.","hook_id":1}`)), want: 200},
		{name: "push to the base branch", req: githubRequest("push", "d-1", pushBody("refs/heads/main", false)), want: 200, trigger: []Event{push}},
		{name: "form-encoded push", req: form, want: 200, trigger: []Event{push}},
		{name: "push to another branch, no filter", req: githubRequest("push", "d-1", pushBody("refs/heads/ferry/web", false)), want: 200, trigger: []Event{anyPush}},
		{name: "push to another branch, filtered", mutate: release, req: githubRequest("push", "d-1", pushBody("refs/heads/ferry/web", false)), want: 202},
		{name: "push of a tag", req: githubRequest("push", "d-1", pushBody("refs/tags/main", false)), want: 202},
		{name: "branch deleted", req: githubRequest("push", "d-1", pushBody("refs/heads/main", true)), want: 202},
		{name: "custom base branch", mutate: release, req: githubRequest("push", "d-1", pushBody("refs/heads/release", false)), want: 200,
			trigger: []Event{{Kind: KindPush, ID: "d-1", Repo: "acme/deploy", Branch: "release", Commit: headSHA}}},
		{name: "custom base branch ignores main", mutate: release, req: githubRequest("push", "d-1", pushBody("refs/heads/main", false)), want: 202},
		{name: "bot pull request merged", req: githubRequest("pull_request", "d-1", prBody("closed", true, "ferry/web", "main")), want: 200, trigger: []Event{merged}},
		{name: "custom bot prefix", mutate: release, req: githubRequest("pull_request", "d-1", prBody("closed", true, "bot/web", "release")), want: 200,
			trigger: []Event{{Kind: KindMerged, ID: "d-1", Repo: "acme/deploy", Branch: "bot/web", Base: "release", Commit: mergeSHA, PullNumber: 42}}},
		{name: "custom bot prefix ignores ferry/", mutate: release, req: githubRequest("pull_request", "d-1", prBody("closed", true, "ferry/web", "release")), want: 202},
		{name: "bot pull request closed unmerged", req: githubRequest("pull_request", "d-1", prBody("closed", false, "ferry/web", "main")), want: 202},
		{name: "bot pull request opened", req: githubRequest("pull_request", "d-1", prBody("opened", false, "ferry/web", "main")), want: 202},
		{name: "human pull request merged, no filter", req: githubRequest("pull_request", "d-1", prBody("closed", true, "alice/fix", "main")), want: 200, trigger: []Event{humanMerge}},
		{name: "human pull request merged, filtered", mutate: release, req: githubRequest("pull_request", "d-1", prBody("closed", true, "alice/fix", "release")), want: 202},
		{name: "merged into another base, filtered", mutate: release, req: githubRequest("pull_request", "d-1", prBody("closed", true, "bot/web", "develop")), want: 202},
		{name: "other event ignored", req: githubRequest("issues", "d-1", []byte(`{"action":"opened"}`)), want: 202},
		{name: "bad signature", req: badSig, want: 401},
		{name: "tampered body", req: tampered, want: 401},
		{name: "no signature", req: noSig, want: 401},
		{name: "sha1 signature only", req: sha1Sig, want: 401},
		{name: "disabled", mutate: func(o *Options) { o.GitHubSecret = nil }, req: githubRequest("push", "d-1", pushBody("refs/heads/main", false)), want: 404},
		{name: "malformed push", req: githubRequest("push", "d-1", []byte(`{"ref":`)), want: 400},
		{name: "push without ref", req: githubRequest("push", "d-1", []byte(`{"after":"`+headSHA+`"}`)), want: 400},
		{name: "push with a bad after", req: githubRequest("push", "d-1", []byte(`{"ref":"refs/heads/main","after":"HEAD~1"}`)), want: 400},
		{name: "malformed pull request", req: githubRequest("pull_request", "d-1", []byte(`{"action":"closed"}`)), want: 400},
		{name: "malformed ping", req: githubRequest("ping", "d-1", []byte(`nope`)), want: 400},
		{name: "no event header", req: githubRequest("", "d-1", pushBody("refs/heads/main", false)), want: 400},
		{name: "oversize body", req: githubRequest("push", "d-1", big), want: 413},
	})
}

func TestGitHubDuplicateDelivery(t *testing.T) {
	s, tr := newTestServer(t, nil)
	req := githubRequest("pull_request", "72d3162e-cc78-11e3-81ab-4c9367dc0958", prBody("closed", true, "ferry/web", "main"))
	for i, want := range []string{`{"accepted":1}`, `{"accepted":0,"duplicate":true,"duplicates":1}`} {
		w := serve(t, s.Handler(), req)
		if w.Code != 200 || strings.TrimSpace(w.Body.String()) != want {
			t.Fatalf("delivery %d: %d %s, want 200 %s", i+1, w.Code, w.Body, want)
		}
	}
	if n := len(tr.got()); n != 1 {
		t.Fatalf("Trigger called %d times, want 1", n)
	}
	// A delivery that failed verification does not mark its ID as seen.
	s, tr = newTestServer(t, nil)
	bad := githubRequest("push", "d-9", pushBody("refs/heads/main", false))
	bad.header["X-Hub-Signature-256"] = sign([]byte("wrong"), bad.body)
	serve(t, s.Handler(), bad)
	if w := serve(t, s.Handler(), githubRequest("push", "d-9", pushBody("refs/heads/main", false))); w.Code != 200 || len(tr.got()) != 1 {
		t.Fatalf("after a forged delivery with the same ID: %d %s", w.Code, w.Body)
	}
}

func TestTriggerPanicForgetsTheDelivery(t *testing.T) {
	calls := 0
	s, _ := newTestServer(t, func(o *Options) {
		o.Trigger = func(Event) {
			calls++
			if calls == 1 {
				panic("boom")
			}
		}
	})
	func() {
		defer func() { _ = recover() }()
		serve(t, s.Handler(), ecrRequest(ecrBody(nil), "ecr-token"))
	}()
	if w := serve(t, s.Handler(), ecrRequest(ecrBody(nil), "ecr-token")); w.Code != 200 || calls != 2 {
		t.Fatalf("redelivery after a panicking Trigger: %d %s, %d calls", w.Code, w.Body, calls)
	}
}

func TestAcceptedEventsAreRecorded(t *testing.T) {
	s, _ := newTestServer(t, nil)
	serve(t, s.Handler(), ecrRequest(ecrBody(nil), "ecr-token"))
	serve(t, s.Handler(), githubRequest("push", "d-1", pushBody("refs/heads/main", false)))
	got := s.Events().Recent()
	if len(got) != 2 || got[0].Source != SourceGitHub || got[1].Source != SourceECR ||
		got[1].Summary != "pushed 123456789012.dkr.ecr.us-east-1.amazonaws.com/myapp:release.20240301 (sha256:7f5b2640fe6f)" {
		t.Fatalf("recorded %+v", got)
	}
}

func TestNoSecretsOrBodiesInResponsesAndLogs(t *testing.T) {
	var logs bytes.Buffer
	s, _ := newTestServer(t, func(o *Options) {
		o.Log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	for _, rq := range []request{
		ecrRequest(ecrBody(nil), "ecr-token"),
		ecrRequest(ecrBody(nil), "wrong-ecr-token"),
		registryRequest(registryEnvelopeJSON, "Bearer registry-token"),
		registryRequest(registryEnvelopeJSON, "Bearer wrong-registry-token"),
		githubRequest("push", "d", []byte(`{"ref":"refs/heads/main","after":"`+headSHA+`","secret-looking-field":1}`)),
		githubRequest("push", "d2", []byte(`{"secret-looking-field":`)),
	} {
		w := serve(t, s.Handler(), rq)
		for _, secret := range []string{"ecr-token", "registry-token", "gh-secret", "secret-looking-field"} {
			if strings.Contains(w.Body.String(), secret) {
				t.Errorf("%s: response %s holds %q", rq.path, w.Body, secret)
			}
		}
	}
	for _, secret := range []string{"ecr-token", "registry-token", "gh-secret", "secret-looking-field", "useragent"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("logs hold %q:\n%s", secret, logs.String())
		}
	}
	if !strings.Contains(logs.String(), "webhook accepted") || !strings.Contains(logs.String(), "webhook rejected") {
		t.Errorf("logs lack webhook outcomes:\n%s", logs.String())
	}
}

// Events the integrator's filter rejects are answered 202 with its reason,
// shown on the status page, and not remembered as seen.
func TestFilteredEvents(t *testing.T) {
	var filterOn atomic.Bool
	filterOn.Store(true)
	s, tr := newTestServer(t, func(o *Options) {
		o.Filter = func(ev Event) string {
			if filterOn.Load() && ev.Repository == "123456789012.dkr.ecr.us-east-1.amazonaws.com/myapp" {
				return "no policy governs that image"
			}
			return ""
		}
	})
	w := serve(t, s.Handler(), ecrRequest(ecrBody(nil), "ecr-token"))
	if r := decodeResponse(t, w); w.Code != 202 || r.Ignored != 1 || r.Reason != "no policy governs that image" {
		t.Fatalf("filtered event: %d %s", w.Code, w.Body)
	}
	if got := s.Events().Recent(); len(got) != 1 || !strings.Contains(got[0].Summary, "ignored pushed") || !strings.Contains(got[0].Summary, "no policy governs that image") {
		t.Errorf("recorded %+v", got)
	}
	filterOn.Store(false)
	if w := serve(t, s.Handler(), ecrRequest(ecrBody(nil), "ecr-token")); w.Code != 200 || len(tr.got()) != 1 {
		t.Fatalf("the same delivery once the filter accepts it: %d %s", w.Code, w.Body)
	}
}

// A standby replica answers deliveries that carry events 503 with
// Retry-After, triggers nothing and remembers nothing, so a redelivery to
// the leader is not a duplicate.
func TestStandbyAnswers503(t *testing.T) {
	var standby atomic.Bool
	standby.Store(true)
	s, tr := newTestServer(t, func(o *Options) { o.Standby = standby.Load })
	for _, rq := range []request{
		ecrRequest(ecrBody(nil), "ecr-token"),
		registryRequest(registryEnvelopeJSON, "Bearer registry-token"),
		githubRequest("push", "d-1", pushBody("refs/heads/main", false)),
	} {
		w := serve(t, s.Handler(), rq)
		if w.Code != 503 || w.Header().Get("Retry-After") == "" {
			t.Errorf("%s on a standby: %d %v", rq.path, w.Code, w.Header())
		}
	}
	// Authentication still comes first, and pings still answer.
	if w := serve(t, s.Handler(), ecrRequest(ecrBody(nil), "wrong")); w.Code != 401 {
		t.Errorf("a wrong token on a standby: %d", w.Code)
	}
	if w := serve(t, s.Handler(), githubRequest("ping", "p", []byte(`{"zen":"z"}`))); w.Code != 200 {
		t.Errorf("a ping on a standby: %d", w.Code)
	}
	if n := len(tr.got()); n != 0 {
		t.Fatalf("a standby triggered %d events", n)
	}
	standby.Store(false)
	if w := serve(t, s.Handler(), ecrRequest(ecrBody(nil), "ecr-token")); w.Code != 200 || len(tr.got()) != 1 {
		t.Fatalf("the delivery once leading: %d %s", w.Code, w.Body)
	}
}
