package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ferrygitops/ferry/bot"
	"github.com/ferrygitops/ferry/dotferry"
	"github.com/ferrygitops/ferry/internal/testenv/githubapi"
	"github.com/ferrygitops/ferry/internal/testenv/gitserver"
	"github.com/ferrygitops/ferry/internal/testenv/ociregistry"
	testsig "github.com/ferrygitops/ferry/internal/testenv/sigstore"
	"github.com/ferrygitops/ferry/verify"
)

const verifiedPolicy = `apiVersion: ferry.dev/v1alpha1
kind: ImagePolicy
metadata:
  name: api
spec:
  image: HOST/acme/api
  policy:
    semver: {}
  verify:
    keys:
      - file: .ferry/cosign.pub
    keyless:
      - issuer: https://token.actions.example
        subjectRegExp: '.*@acme\.example'
    trustedRoot: {file: .ferry/trusted_root.json}
`

const verifiedDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  template:
    spec:
      containers:
        - name: api
          image: HOST/acme/api:1.0.0
`

// signedRegistry holds acme/api with 1.0.0 (current, signed), 1.1.0 (signed
// with the policy's key under .sig), 1.2.0 (signed keyless by an accepted
// identity, as a referrer), 1.3.0 (signed by another key) and 1.4.0
// (unsigned). The policy must choose 1.2.0 and report 1.4.0 and 1.3.0.
func signedRegistry(t *testing.T) (*ociregistry.Server, *testsig.Instance, []byte) {
	t.Helper()
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	srv := ociregistry.New(ociregistry.WithReferrers())
	t.Cleanup(srv.Close)
	ss := testsig.New(t)
	kp, pub := testsig.NewKey(t)
	other, _ := testsig.NewKey(t)
	testsig.SignSigKey(t, testsig.PushImage(t, srv.Host, "acme/api", "1.0.0"), kp, ss)
	testsig.SignSigKey(t, testsig.PushImage(t, srv.Host, "acme/api", "1.1.0"), kp, ss)
	v12 := testsig.PushImage(t, srv.Host, "acme/api", "1.2.0")
	ss.SignBundleKeyless(t, v12, v12, "ci@acme.example", "https://token.actions.example")
	testsig.SignSigKey(t, testsig.PushImage(t, srv.Host, "acme/api", "1.3.0"), other, ss)
	testsig.PushImage(t, srv.Host, "acme/api", "1.4.0")
	return srv, ss, pub
}

func verifiedRepo(t *testing.T, host string, ss *testsig.Instance, pub []byte) map[string]string {
	return map[string]string{
		".ferry/policies.yaml":     strings.ReplaceAll(verifiedPolicy, "HOST", host),
		".ferry/cosign.pub":        string(pub),
		".ferry/trusted_root.json": string(ss.RootJSON(t)),
		"apps/api/deployment.yaml": strings.ReplaceAll(verifiedDeployment, "HOST", host),
	}
}

func TestScanVerify(t *testing.T) {
	srv, ss, pub := signedRegistry(t)
	dir := t.TempDir()
	writeTree(t, dir, verifiedRepo(t, srv.Host, ss, pub))

	code, out, errs := run(t, "scan", "--repo", dir, "-o", "json", "--stats")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	var rep bot.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	p := rep.Policies[0]
	if p.Error != "" || p.Tag != "1.2.0" || p.Verify == nil || p.Verify.Tag != "1.2.0" || !strings.HasPrefix(p.Digest, "sha256:") {
		t.Fatalf("policy = %+v, verify = %+v", p, p.Verify)
	}
	if !strings.Contains(p.Verify.Signer, "keyless ci@acme.example") || p.Verify.Scheme != verify.SchemeReferrer {
		t.Errorf("signer %q, scheme %q", p.Verify.Signer, p.Verify.Scheme)
	}
	got := map[string]verify.Reason{}
	for _, r := range p.Verify.Rejected {
		got[r.Tag] = r.Reason
	}
	if len(got) != 2 || got["1.4.0"] != verify.Unsigned || got["1.3.0"] != verify.WrongKey {
		t.Errorf("rejected = %+v, want 1.4.0 unsigned and 1.3.0 wrong-key", p.Verify.Rejected)
	}
	if r := p.References[0]; r.Status != "update" || !strings.HasSuffix(r.Wanted, ":1.2.0") {
		t.Errorf("reference = %+v", r)
	}
	if rep.Stats == nil || rep.SignatureCalls == nil || *rep.SignatureCalls == 0 || *rep.SignatureCalls >= rep.Stats.Requests {
		t.Errorf("stats %+v, signature calls %v", rep.Stats, rep.SignatureCalls)
	}

	// The table says what was skipped and why.
	code, out, _ = run(t, "scan", "--repo", dir, "--stats")
	for _, want := range []string{
		"policy api: 1.2.0 verified: signed by keyless ci@acme.example (issuer https://token.actions.example) (referrer)",
		"  skipped 1.4.0: unsigned: no signature",
		"  skipped 1.3.0: wrong-key: the signature matches none of the policy's 1 key(s)",
		"for signatures)",
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("exit %d, output lacks %q:\n%s", code, want, out)
		}
	}
}

func TestScanVerifyStopsAtCurrent(t *testing.T) {
	srv, ss, pub := signedRegistry(t)
	dir := t.TempDir()
	files := verifiedRepo(t, srv.Host, ss, pub)
	// Already on 1.3.0: only 1.4.0 is newer, and it is unsigned.
	files["apps/api/deployment.yaml"] = strings.ReplaceAll(files["apps/api/deployment.yaml"], ":1.0.0", ":1.3.0")
	writeTree(t, dir, files)
	code, out, errs := run(t, "scan", "--repo", dir, "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	var rep bot.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	p := rep.Policies[0]
	if p.Tag != "" || p.Verify.Checked != 1 || len(p.Verify.Rejected) != 1 || p.Verify.Note != "no verified tag newer than the current 1.3.0" {
		t.Fatalf("policy %+v, verify %+v", p, p.Verify)
	}
	if r := p.References[0]; r.Status != "no-target" || !strings.Contains(r.Why, "no verified tag newer than the current 1.3.0") {
		t.Errorf("reference = %+v", r)
	}
}

func TestScanVerifyErrors(t *testing.T) {
	srv, ss, pub := signedRegistry(t)
	t.Run("invalid spec.verify is exit 2 with file and line", func(t *testing.T) {
		dir := t.TempDir()
		files := verifiedRepo(t, srv.Host, ss, pub)
		files[".ferry/policies.yaml"] = strings.Replace(files[".ferry/policies.yaml"], "subjectRegExp: '.*@acme\\.example'", "subjectRegExp: '('", 1)
		writeTree(t, dir, files)
		code, _, errs := run(t, "scan", "--repo", dir)
		if code != 2 || !strings.Contains(errs, "policies.yaml:14: spec.verify.keyless[0].subjectRegExp: invalid regular expression") {
			t.Errorf("exit %d\n%s", code, errs)
		}
	})
	t.Run("a missing key file fails the policy", func(t *testing.T) {
		dir := t.TempDir()
		files := verifiedRepo(t, srv.Host, ss, pub)
		delete(files, ".ferry/cosign.pub")
		writeTree(t, dir, files)
		code, out, _ := run(t, "scan", "--repo", dir)
		if code != exitFailure || !strings.Contains(out, "policies.yaml:11: spec.verify.keys[0].file: reading .ferry/cosign.pub in the repository") {
			t.Errorf("exit %d\n%s", code, out)
		}
	})
	t.Run("a key file may not leave the repository", func(t *testing.T) {
		dir := t.TempDir()
		files := verifiedRepo(t, srv.Host, ss, pub)
		outside := filepath.Join(t.TempDir(), "cosign.pub")
		if err := os.WriteFile(outside, pub, 0o600); err != nil {
			t.Fatal(err)
		}
		delete(files, ".ferry/cosign.pub")
		writeTree(t, dir, files)
		if err := os.Symlink(outside, filepath.Join(dir, ".ferry/cosign.pub")); err != nil {
			t.Fatal(err)
		}
		code, out, _ := run(t, "scan", "--repo", dir)
		if code != exitFailure || !strings.Contains(out, "spec.verify.keys[0].file: reading .ferry/cosign.pub in the repository") {
			t.Errorf("exit %d\n%s", code, out)
		}
	})
}

func TestBumpVerify(t *testing.T) {
	srv, ss, pub := signedRegistry(t)
	git := gitserver.New(t, gitserver.WithBasicAuth("x-access-token", githubapi.DefaultToken))
	url := git.CreateRepo("manifests", verifiedRepo(t, srv.Host, ss, pub))
	gh := newGitHub(t, git)
	t.Setenv("GITHUB_TOKEN", githubapi.DefaultToken)

	code, out, errs := run(t, "bump", "--repo", url, "--github-url", gh.BaseURL(), "--github-repo", "acme/manifests")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(out, "skipped 1.4.0: unsigned") || !strings.Contains(out, "1.2.0 verified") {
		t.Errorf("output:\n%s", out)
	}
	head, ok := git.Head("manifests", "ferry/api")
	if !ok {
		t.Fatalf("no branch ferry/api:\n%s", out)
	}
	got, err := git.Git("manifests", "show", head+":apps/api/deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, srv.Host+"/acme/api:1.2.0") || strings.Contains(got, "1.4.0") || strings.Contains(got, "1.3.0") {
		t.Errorf("the pull request's deployment:\n%s", got)
	}
}

// TestReadmeVerifyExample keeps the README's spec.verify example valid.
func TestReadmeVerifyExample(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(data), "## Signed images only: `spec.verify`")
	if !ok {
		t.Fatal("README has no spec.verify section")
	}
	_, block, _ := strings.Cut(sec, "```yaml\n")
	block, _, _ = strings.Cut(block, "```")
	set, err := dotferry.Parse("README.md", []byte(block))
	if err != nil {
		t.Fatalf("the README's example does not parse: %v", err)
	}
	v := set.Policies[0].Verify
	if v == nil || len(v.Keys) != 3 || len(v.Keyless) != 1 || v.TrustedRoot != nil {
		t.Fatalf("verify = %+v", v)
	}
	id := v.Keyless[0]
	if _, err := verify.NewVerifier(verify.Settings{Identities: []verify.Identity{verify.Identity(id)}}); err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^(?:` + id.SubjectRegExp + `)$`)
	if !re.MatchString("https://github.com/acme/api/.github/workflows/release.yml@refs/tags/v1.4.0") ||
		re.MatchString("https://github.com/acme/api/.github/workflows/release.yml@refs/heads/main") {
		t.Errorf("the README's subjectRegExp %q does not do what it says", id.SubjectRegExp)
	}
}
