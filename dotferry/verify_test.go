package dotferry

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferrygitops/ferry/document"
	"github.com/ferrygitops/ferry/policy"
)

func TestParseVerify(t *testing.T) {
	src := policyDoc("p", "image: nginx", "policy: {semver: {}}",
		"verify:",
		"  keys:",
		"    - file: .ferry/cosign.pub",
		"    - path: /etc/ferry/cosign.pub",
		"    - secret: {namespace: ferry, name: cosign, key: cosign.pub}",
		"  keyless:",
		"    - issuer: https://token.actions.githubusercontent.com",
		`      subjectRegExp: 'https://github\.com/acme/.*'`,
		"  trustedRoot: {file: ./.ferry/root.json}",
		"  insecureIgnoreTlog: true",
	)
	set, err := Parse("f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	got := set.Policies[0].Verify
	want := &policy.Verify{
		Keys: []policy.Material{
			{File: ".ferry/cosign.pub", Field: "spec.verify.keys[0]", Source: document.Source{File: "f.yaml", Line: 10}},
			{Path: "/etc/ferry/cosign.pub", Field: "spec.verify.keys[1]", Source: document.Source{File: "f.yaml", Line: 11}},
			{Secret: &policy.SecretRef{Namespace: "ferry", Name: "cosign", Key: "cosign.pub"}, Field: "spec.verify.keys[2]", Source: document.Source{File: "f.yaml", Line: 12}},
		},
		Keyless:            []policy.Identity{{Issuer: "https://token.actions.githubusercontent.com", SubjectRegExp: `https://github\.com/acme/.*`}},
		TrustedRoot:        &policy.Material{File: ".ferry/root.json", Field: "spec.verify.trustedRoot", Source: document.Source{File: "f.yaml", Line: 16}},
		InsecureIgnoreTlog: true,
		Source:             document.Source{File: "f.yaml", Line: 8},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Verify (-want +got):\n%s", diff)
	}
}

func TestParseVerifyErrors(t *testing.T) {
	base := []string{"image: nginx", "policy: {semver: {}}"}
	with := func(lines ...string) string { return policyDoc("p", append(base, lines...)...) }
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"empty", with("verify: {}"), []string{`f.yaml:8: spec.verify: name at least one signer: keys or keyless`}},
		{"not a mapping", with("verify: true"), []string{`f.yaml:8: spec.verify: must be a mapping, got a boolean`}},
		{"unknown field", with("verify: {key: x}"), []string{`f.yaml:8: spec.verify.key: unknown field "key" (allowed: keys, keyless, trustedRoot, insecureIgnoreTlog)`}},
		{"keys not a list", with("verify: {keys: a.pub}"), []string{`f.yaml:8: spec.verify.keys: must be a list, got a string`}},
		{"two sources", with("verify:", "  keys: [{file: a.pub, path: /a.pub}]"), []string{`f.yaml:9: spec.verify.keys[0]: set exactly one of file, path or secret`}},
		{"file outside the repository", with("verify:", "  keys: [{file: ../a.pub}]"), []string{`f.yaml:9: spec.verify.keys[0].file: must be a slash-separated path inside the repository, got "../a.pub"`}},
		{"absolute file", with("verify:", "  keys: [{file: /a.pub}]"), []string{`f.yaml:9: spec.verify.keys[0].file: must be a slash-separated path inside the repository`}},
		{"relative path", with("verify:", "  keys: [{path: a.pub}]"), []string{`f.yaml:9: spec.verify.keys[0].path: must be an absolute path on the machine Ferry runs on`}},
		{"secret without key", with("verify:", "  keys:", "    - secret: {namespace: ferry, name: cosign}"), []string{`f.yaml:10: spec.verify.keys[0].secret.key: required field is missing`}},
		{"bad secret name", with("verify:", "  keys:", "    - secret: {namespace: ferry, name: Cosign_Keys, key: k}"), []string{`f.yaml:10: spec.verify.keys[0].secret.name: "Cosign_Keys" is not a valid Kubernetes name`}},
		{"identity without subject", with("verify:", "  keyless: [{issuer: https://i}]"), []string{`f.yaml:9: spec.verify.keyless[0].subject: required field is missing (or subjectRegExp)`}},
		{"identity with both", with("verify:", "  keyless:", "    - {issuer: https://i, issuerRegExp: x, subject: s}"), []string{`f.yaml:10: spec.verify.keyless[0].issuerRegExp: set only one of issuer and issuerRegExp`}},
		{"bad expression", with("verify:", "  keyless:", "    - issuer: https://i", "      subjectRegExp: '('"), []string{`f.yaml:11: spec.verify.keyless[0].subjectRegExp: invalid regular expression`}},
		{"ignore tlog without keys", with("verify:", "  keyless: [{issuer: i, subject: s}]", "  insecureIgnoreTlog: true"), []string{`f.yaml:10: spec.verify.insecureIgnoreTlog: applies to keys only`}},
		{"tlog not a boolean", with("verify:", "  keys: [{file: a.pub}]", "  insecureIgnoreTlog: maybe"), []string{`f.yaml:10: spec.verify.insecureIgnoreTlog: must be true or false, got a string`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("f.yaml", []byte(tc.src))
			var es document.Errors
			if !errors.As(err, &es) {
				t.Fatalf("error %v, want Errors", err)
			}
			if len(es) != len(tc.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(es), len(tc.want), err)
			}
			for i, e := range es {
				if !strings.HasPrefix(e.Error(), tc.want[i]) {
					t.Errorf("error %d:\n got %s\nwant %s...", i, e.Error(), tc.want[i])
				}
			}
		})
	}
}
