package sops_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"filippo.io/age"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/ferrygitops/ferry/deploy/render"
	"github.com/ferrygitops/ferry/internal/testenv/kmsapi"
	"github.com/ferrygitops/ferry/secrets/sops"
	"github.com/ferrygitops/ferry/secrets/sops/sopstest"
)

const clear = "s3cr3t-Pa55w0rd-zebra"

const secretYAML = `apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: app
stringData:
  DB_PASSWORD: ` + clear + `
type: Opaque
`

func newIdentity(t *testing.T) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func encrypt(t *testing.T, name, plain string, o sopstest.Options) []byte {
	t.Helper()
	out, err := sopstest.Encrypt(name, []byte(plain), o)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte(clear)) {
		t.Fatalf("the encrypted file holds the clear text:\n%s", out)
	}
	return out
}

func TestDecryptAgeYAMLAndJSON(t *testing.T) {
	t.Parallel()
	id := newIdentity(t)
	other := newIdentity(t)
	d := sops.New(sops.Options{AgeIdentities: []age.Identity{other, id}})
	for _, tc := range []struct{ name, plain, regex string }{
		{"secret.yaml", secretYAML, `^(data|stringData)$`},
		{"whole.yaml", secretYAML, ""},
		{"secret.json", `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"db"},"stringData":{"DB_PASSWORD":"` + clear + `"}}`, ""},
	} {
		enc := encrypt(t, tc.name, tc.plain, sopstest.Options{Age: []string{id.Recipient().String()}, EncryptedRegex: tc.regex})
		if !sops.Encrypted(tc.name, enc) {
			t.Fatalf("%s: Encrypted = false", tc.name)
		}
		out, was, err := d.Decrypt(context.Background(), tc.name, enc)
		if err != nil || !was {
			t.Fatalf("%s: Decrypt = %v, %v", tc.name, was, err)
		}
		if !strings.Contains(string(out), clear) || strings.Contains(string(out), "sops") {
			t.Errorf("%s: decrypted =\n%s", tc.name, out)
		}
	}
	// A plain file passes through.
	out, was, err := d.Decrypt(context.Background(), "plain.yaml", []byte(secretYAML))
	if err != nil || was || string(out) != secretYAML {
		t.Errorf("plain: %v %v %q", was, err, out)
	}
}

func TestDecryptWithoutTheKeyNamesFileAndRecipients(t *testing.T) {
	t.Parallel()
	id := newIdentity(t)
	wrong := newIdentity(t)
	enc := encrypt(t, "apps/web/secret.yaml", secretYAML, sopstest.Options{Age: []string{id.Recipient().String()}})
	for _, d := range []*sops.Decrypter{sops.New(sops.Options{AgeIdentities: []age.Identity{wrong}}), sops.New(sops.Options{})} {
		_, _, err := d.Decrypt(context.Background(), "apps/web/secret.yaml", enc)
		if err == nil {
			t.Fatal("decrypted without the key")
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "apps/web/secret.yaml: cannot decrypt") || !strings.Contains(msg, "age "+id.Recipient().String()) {
			t.Errorf("error = %s", msg)
		}
		if strings.Contains(msg, clear) || strings.Contains(msg, "AGE-SECRET-KEY") {
			t.Errorf("error leaks: %s", msg)
		}
		t.Log(msg)
	}
}

func TestDecryptTamperedFileFailsIntegrity(t *testing.T) {
	t.Parallel()
	id := newIdentity(t)
	enc := encrypt(t, "s.yaml", secretYAML, sopstest.Options{Age: []string{id.Recipient().String()}, EncryptedRegex: `^(data|stringData)$`})
	tampered := bytes.Replace(enc, []byte("name: db"), []byte("name: evil"), 1)
	if bytes.Equal(tampered, enc) {
		t.Fatal("nothing tampered")
	}
	d := sops.New(sops.Options{AgeIdentities: []age.Identity{id}})
	_, _, err := d.Decrypt(context.Background(), "s.yaml", tampered)
	if err == nil || !strings.Contains(err.Error(), "s.yaml: sops integrity check failed") || strings.Contains(err.Error(), clear) {
		t.Fatalf("err = %v", err)
	}
}

func TestParseAgeIdentities(t *testing.T) {
	t.Parallel()
	id := newIdentity(t)
	ids, err := sops.ParseAgeIdentities("keys.txt", []byte("# created: now\n# public key: x\n"+id.String()+"\n\n"))
	if err != nil || len(ids) != 1 {
		t.Fatalf("%v %v", ids, err)
	}
	_, err = sops.ParseAgeIdentities("keys.txt", []byte("# c\nAGE-SECRET-KEY-1NOTAKEYATALLxyz\n"))
	if err == nil || err.Error() != "keys.txt:2: not an age identity (AGE-SECRET-KEY-1...)" {
		t.Errorf("err = %v", err)
	}
	if _, err := sops.ParseAgeIdentities("empty", nil); err == nil {
		t.Error("no identity accepted")
	}
}

// TestDecryptKMSThroughEmulator encrypts with SOPS's own KMS key source
// (the process environment points the SDK at the emulator) and decrypts
// through Ferry's SDK client with the endpoint override.
func TestDecryptKMSThroughEmulator(t *testing.T) {
	srv := kmsapi.NewServer()
	defer srv.Close()
	srv.Setenv(t, "eu-west-1")
	key := srv.CreateKey(kmsapi.KeyOptions{Region: "eu-west-1"})
	enc := encrypt(t, "kms.yaml", secretYAML, sopstest.Options{KMS: []string{key.ARN}, KMSContext: map[string]string{"app": "web"}, EncryptedRegex: `^(data|stringData)$`})
	if !bytes.Contains(enc, []byte(key.ARN)) {
		t.Fatalf("no KMS key in\n%s", enc)
	}
	creds := srv.Credentials()
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, ""), Retryer: func() aws.Retryer { return aws.NopRetryer{} }}
	// The environment's endpoint must not be what makes it work.
	t.Setenv("AWS_ENDPOINT_URL_KMS", "")
	srv.ResetStats()
	d := sops.New(sops.Options{AWS: func(context.Context) (*aws.Config, error) { return &cfg, nil }, KMSEndpoint: srv.URL})
	out, _, err := d.Decrypt(context.Background(), "kms.yaml", enc)
	if err != nil || !strings.Contains(string(out), clear) {
		t.Fatalf("Decrypt = %v\n%s", err, out)
	}
	if n := srv.Stats("Decrypt").OK; n != 1 {
		t.Errorf("KMS Decrypt calls = %d, want 1", n)
	}
	// A disabled key: the error names the file and the key, not a value.
	srv.SetEnabled(key.ID, false)
	_, _, err = d.Decrypt(context.Background(), "kms.yaml", enc)
	if err == nil || !strings.Contains(err.Error(), "kms.yaml: cannot decrypt") || !strings.Contains(err.Error(), key.ARN) || !strings.Contains(err.Error(), "DisabledException") {
		t.Fatalf("err = %v", err)
	}
	// No AWS configuration at all.
	_, _, err = sops.New(sops.Options{}).Decrypt(context.Background(), "kms.yaml", enc)
	if err == nil || !strings.Contains(err.Error(), "no AWS configuration") {
		t.Fatalf("err = %v", err)
	}
}

// TestFSRendersDecryptedKustomization renders a kustomization whose
// resource is a SOPS file, through render.Render: kustomize sees the clear
// text, which exists only in memory.
func TestFSRendersDecryptedKustomization(t *testing.T) {
	t.Parallel()
	id := newIdentity(t)
	enc := encrypt(t, "secret.enc.yaml", secretYAML, sopstest.Options{Age: []string{id.Recipient().String()}})
	src := fstest.MapFS{
		"app/kustomization.yaml": {Data: []byte("namespace: app\nnamePrefix: web-\nresources:\n- secret.enc.yaml\n")},
		"app/secret.enc.yaml":    {Data: enc},
		"plain/secret.enc.yaml":  {Data: enc},
		"plain/cm.yaml":          {Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n")},
	}
	d := sops.New(sops.Options{AgeIdentities: []age.Identity{id}})
	for _, p := range []string{"app", "plain"} {
		f := d.FS(context.Background(), src)
		r, err := render.Render(f, p, render.Options{App: "web", Namespace: "app"})
		if err != nil || f.Err() != nil {
			t.Fatalf("%s: %v / %v", p, err, f.Err())
		}
		var secret *render.Manifest
		for i := range r.Manifests {
			if r.Manifests[i].Key.Kind == "Secret" {
				secret = &r.Manifests[i]
			}
		}
		if secret == nil {
			t.Fatalf("%s: no Secret in %v", p, r.Keys())
		}
		sd, _ := secret.Object.Object["stringData"].(map[string]any)
		if sd["DB_PASSWORD"] != clear || secret.Object.Object["sops"] != nil {
			t.Errorf("%s: Secret = %v", p, secret.Object.Object)
		}
		if got := f.Decrypted(); len(got) != 1 || got[0] != p+"/secret.enc.yaml" {
			t.Errorf("%s: Decrypted = %v", p, got)
		}
	}
	// Without the key: the render fails, and Err says why whatever the
	// renderer made of it.
	f := sops.New(sops.Options{}).FS(context.Background(), src)
	_, err := render.Render(f, "app", render.Options{App: "web", Namespace: "app"})
	if err == nil || f.Err() == nil || !strings.Contains(f.Err().Error(), "app/secret.enc.yaml: cannot decrypt") {
		t.Fatalf("render err = %v, FS err = %v", err, f.Err())
	}
}
