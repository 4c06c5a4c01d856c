package deploy

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferrygitops/ferry/deploy/inventory"
	"github.com/ferrygitops/ferry/dotferry"
	"github.com/ferrygitops/ferry/examples"
	"github.com/ferrygitops/ferry/internal/testenv/awsapi"
	"github.com/ferrygitops/ferry/internal/testenv/kmsapi"
	"github.com/ferrygitops/ferry/internal/testenv/secretsmanagerapi"
	"github.com/ferrygitops/ferry/secrets/sops/sopstest"

	"github.com/ferrygitops/ferry/internal/testenv"
)

// Clear texts that must never leave the cluster's Secrets.
const (
	ageClear     = "age-Clear-Walrus-4711"
	kmsClear     = "kms-Clear-Pelican-0815"
	smClear      = "sm-Clear-Narwhal-2024"
	smRotated    = "sm-Rotated-Axolotl-9"
	ageClearNext = "age-Next-Capybara-31"
)

var allClear = []string{ageClear, kmsClear, smClear, smRotated, ageClearNext}

func secretYAMLWith(name, key, value string) string {
	return "apiVersion: v1\nkind: Secret\nmetadata:\n  name: " + name + "\ntype: Opaque\nstringData:\n  " + key + ": " + value + "\n"
}

// newRawEnv is newEnv with files committed as they are: encrypted files
// must not have NS replaced in their ciphertexts.
func newRawEnv(t *testing.T, files map[string]string) *env {
	t.Helper()
	e := newEnv(t, nil)
	e.repo = "raw"
	e.url = e.git.CreateRepo(e.repo, files)
	return e
}

// noClearText fails if any clear text appears in s.
func noClearText(t *testing.T, what, s string) {
	t.Helper()
	for _, c := range allClear {
		if strings.Contains(s, c) {
			t.Errorf("%s holds clear text %q", what, c)
		}
	}
}

// noClearTextOnDisk walks dirs for files holding clear text.
func noClearTextOnDisk(t *testing.T, dirs ...string) {
	t.Helper()
	for _, dir := range dirs {
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			b, err := os.ReadFile(p)
			if err == nil {
				noClearText(t, "file "+p, string(b))
			}
			return nil
		})
	}
}

func secretValue(t *testing.T, e *env, name, key string) string {
	t.Helper()
	s, err := e.cs.CoreV1().Secrets(e.ns).Get(e.ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return string(s.Data[key])
}

// TestSyncSOPSAndSecretsManager syncs, to the real API server, an app
// holding a SOPS file for an age recipient (the identity in a Kubernetes
// Secret named by spec.decryption), one for a KMS key (the KMS emulator,
// through the SDK with the endpoint override) and a Secrets Manager
// reference (the Secrets Manager emulator): the Secrets get their values;
// a rotation re-applies; an undecryptable file or a missing secret stops
// the sync before any change; no clear text is in any log, record, diff,
// ConfigMap or file on disk.
func TestSyncSOPSAndSecretsManager(t *testing.T) {
	creds := awsapi.Credentials{AccessKeyID: "AKIDFERRYTEST", SecretAccessKey: "ferry-test-secret"}
	kmsSrv := kmsapi.NewServer(awsapi.WithCredentials(creds))
	defer kmsSrv.Close()
	smSrv := secretsmanagerapi.NewServer(awsapi.WithCredentials(creds))
	defer smSrv.Close()
	// The test encrypts with SOPS's own KMS key source, which reads the
	// process environment.
	kmsSrv.Setenv(t, "us-east-1")
	key := kmsSrv.CreateKey(kmsapi.KeyOptions{})
	smSrv.CreateSecret(secretsmanagerapi.SecretSpec{Name: "prod/myapp/db", String: aws.String(`{"username":"app","password":"` + smClear + `"}`)})

	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	enc := func(name, plain string, o sopstest.Options) string {
		b, err := sopstest.Encrypt(name, []byte(plain), o)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	ageOpts := sopstest.Options{Age: []string{id.Recipient().String()}, EncryptedRegex: "^(data|stringData)$"}
	files := map[string]string{
		"app/age.enc.yaml": enc("age.enc.yaml", secretYAMLWith("from-age", "TOKEN", ageClear), ageOpts),
		"app/kms.enc.yaml": enc("kms.enc.yaml", secretYAMLWith("from-kms", "API_KEY", kmsClear), sopstest.Options{KMS: []string{key.ARN}, KMSContext: map[string]string{"app": "web"}}),
		"app/db.yaml": `apiVersion: v1
kind: Secret
metadata:
  name: db
  annotations:
    ferry.dev/secretsmanager-secret-id: prod/myapp/db
    ferry.dev/secretsmanager-key.DB_PASSWORD: password
type: Opaque
`,
		"app/cm.yaml": configMapYAML("settings", map[string]string{"level": "1"}),
	}
	for n, f := range files {
		noClearText(t, "git file "+n, f)
	}
	// The endpoint override must be what reaches the emulators.
	t.Setenv("AWS_ENDPOINT_URL_KMS", "")
	e := newRawEnv(t, files)
	var logs testenv.SyncBuffer
	work := t.TempDir()
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, ""),
		Retryer: func() aws.Retryer { return aws.NopRetryer{} }}
	e.s = e.syncer(Options{WorkDir: work, ParseCache: true, Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Secrets: SecretsOptions{AWS: &cfg, KMSEndpoint: kmsSrv.URL, SecretsManagerEndpoint: smSrv.URL}})
	if _, err := e.cs.CoreV1().Secrets(e.ns).Create(e.ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "sops-age"},
		Data:       map[string][]byte{"identity.agekey": []byte("# demo\n" + id.String() + "\n")},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	app := e.app("secrets", "app")
	app.Decryption = &dotferry.Decryption{Provider: "sops", SecretRef: &dotferry.SecretRef{Name: "sops-age"}}
	var outputs []string
	keep := func(v any) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		outputs = append(outputs, string(b))
	}

	// Diff before the first sync: creates, values masked.
	r, err := e.s.Render(e.ctx, app, "")
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.s.Diff(e.ctx, app, r)
	if err != nil {
		t.Fatal(err)
	}
	keep(d)
	if len(d.Changed()) != 4 {
		t.Errorf("diff: %+v", d)
	}

	rec := e.sync(app, SyncOptions{Prune: true, Timeout: -1})
	keep(rec)
	if rec.Result == Failed {
		t.Fatalf("sync: %+v", rec)
	}
	if got := secretValue(t, e, "from-age", "TOKEN"); got != ageClear {
		t.Errorf("from-age TOKEN = %q", got)
	}
	if got := secretValue(t, e, "from-kms", "API_KEY"); got != kmsClear {
		t.Errorf("from-kms API_KEY = %q", got)
	}
	if got := secretValue(t, e, "db", "DB_PASSWORD"); got != smClear {
		t.Errorf("db DB_PASSWORD = %q", got)
	}
	if n := kmsSrv.Stats("Decrypt").OK; n < 1 {
		t.Errorf("KMS Decrypt calls = %d", n)
	}

	// A second sync: nothing to apply, one DescribeSecret, no value read.
	smSrv.ResetStats()
	rec = e.sync(app, SyncOptions{Prune: true, Timeout: -1})
	keep(rec)
	for k, a := range actions(rec) {
		if a != ActionUnchanged {
			t.Errorf("second sync: %s %s", k, a)
		}
	}
	if smSrv.Requests("DescribeSecret") != 1 || smSrv.Requests("GetSecretValue") != 0 {
		t.Errorf("second sync: DescribeSecret %d, GetSecretValue %d", smSrv.Requests("DescribeSecret"), smSrv.Requests("GetSecretValue"))
	}

	// Rotation: the new version is applied.
	smSrv.PutSecretString("prod/myapp/db", `{"username":"app","password":"`+smRotated+`"}`)
	r, err = e.s.Render(e.ctx, app, "")
	if err != nil {
		t.Fatal(err)
	}
	d, err = e.s.Diff(e.ctx, app, r)
	if err != nil {
		t.Fatal(err)
	}
	keep(d)
	var dbDiff string
	for _, o := range d.Objects {
		if o.Name == "db" {
			dbDiff = o.Diff
		}
	}
	if !strings.Contains(dbDiff, "*** (changed: after)") {
		t.Errorf("rotation diff:\n%s", dbDiff)
	}
	rec = e.sync(app, SyncOptions{Prune: true, Timeout: -1})
	keep(rec)
	if a := actions(rec)["Secret/db"]; a == ActionUnchanged {
		t.Errorf("after rotation: Secret/db %s", a)
	}
	if got := secretValue(t, e, "db", "DB_PASSWORD"); got != smRotated {
		t.Errorf("after rotation: DB_PASSWORD = %q", got)
	}

	// A file for another recipient and a ConfigMap change in one commit:
	// the sync stops before any change, naming the file and recipient.
	other, _ := age.GenerateX25519Identity()
	e.git.Commit(e.repo, "main", "other key", map[string]string{
		"app/age.enc.yaml": enc("age.enc.yaml", secretYAMLWith("from-age", "TOKEN", ageClearNext), sopstest.Options{Age: []string{other.Recipient().String()}}),
		"app/cm.yaml":      configMapYAML("settings", map[string]string{"level": "2"}),
	})
	rec, err = e.s.Sync(e.ctx, app, SyncOptions{Prune: true, Timeout: -1})
	keep(rec)
	if err == nil || rec.Reason != inventory.RenderFailed || !strings.Contains(err.Error(), "app/age.enc.yaml: cannot decrypt") ||
		!strings.Contains(err.Error(), other.Recipient().String()) {
		t.Fatalf("undecryptable: %v (%+v)", err, rec)
	}
	if lvl := e.mustConfigMap("settings").Data["level"]; lvl != "1" {
		t.Errorf("undecryptable: the ConfigMap changed to %s", lvl)
	}

	// A missing secret: the same.
	e.git.Commit(e.repo, "main", "fix key, missing secret", map[string]string{
		"app/age.enc.yaml": enc("age.enc.yaml", secretYAMLWith("from-age", "TOKEN", ageClearNext), ageOpts),
		"app/db.yaml":      strings.Replace(files["app/db.yaml"], "prod/myapp/db", "prod/myapp/gone", 1),
	})
	rec, err = e.s.Sync(e.ctx, app, SyncOptions{Prune: true, Timeout: -1})
	keep(rec)
	if err == nil || rec.Reason != inventory.RenderFailed || !strings.Contains(err.Error(), "app/db.yaml:1: Secret "+e.ns+"/db: secrets manager secret prod/myapp/gone not found") {
		t.Fatalf("missing secret: %v", err)
	}
	if lvl := e.mustConfigMap("settings").Data["level"]; lvl != "1" {
		t.Errorf("missing secret: the ConfigMap changed to %s", lvl)
	}
	if got := secretValue(t, e, "from-age", "TOKEN"); got != ageClear {
		t.Errorf("missing secret: from-age changed")
	}
	// Throttling beyond the retries: the same.
	e.git.Commit(e.repo, "main", "secret back", map[string]string{"app/db.yaml": files["app/db.yaml"]})
	smSrv.FailNext("DescribeSecret", 1, awsapi.Throttling(0))
	_, err = e.s.Sync(e.ctx, app, SyncOptions{Prune: true, Timeout: -1})
	if err == nil || !strings.Contains(err.Error(), "secrets manager throttled DescribeSecret of prod/myapp/db") {
		t.Fatalf("throttled: %v", err)
	}
	if lvl := e.mustConfigMap("settings").Data["level"]; lvl != "1" {
		t.Errorf("throttled: the ConfigMap changed to %s", lvl)
	}
	rec = e.sync(app, SyncOptions{Prune: true, Timeout: -1})
	keep(rec)
	if got := secretValue(t, e, "from-age", "TOKEN"); got != ageClearNext {
		t.Errorf("fixed: from-age TOKEN = %q", got)
	}

	// Nowhere in the clear: outputs, log, the app's records and inventory
	// (ConfigMaps of the namespace), the emulators' request logs aside,
	// files under the work directory and the test's temporary dirs.
	for i, o := range outputs {
		noClearText(t, fmt.Sprintf("output %d", i), o)
	}
	noClearText(t, "log", logs.String())
	if !strings.Contains(logs.String(), "filled secrets from AWS Secrets Manager") || !strings.Contains(logs.String(), "decrypted sops files") {
		t.Errorf("log lacks the secrets steps:\n%s", logs.String())
	}
	cms, err := e.cs.CoreV1().ConfigMaps(e.ns).List(e.ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cm := range cms.Items {
		b, _ := json.Marshal(cm)
		noClearText(t, "ConfigMap "+cm.Name, string(b))
	}
	// The parse cache in WorkDir keeps the plain files, never a decrypted
	// one (the walk above reads it too).
	if cached, err := os.ReadDir(filepath.Join(work, "parsed")); err != nil || len(cached) < 2 {
		t.Errorf("parse cache: %d entries (%v), want the plain files'", len(cached), err)
	}
	noClearTextOnDisk(t, filepath.Dir(work))
}

// TestExampleSecretsSync syncs examples/repo/secrets, as an ad-hoc app,
// with the demo-only age key in a file (SOPS_AGE_KEY_FILE's way) and the
// Secrets Manager emulator holding demo/myapp/api.
func TestExampleSecretsSync(t *testing.T) {
	files, err := examples.Files("", "")
	if err != nil {
		t.Fatal(err)
	}
	smSrv := secretsmanagerapi.NewServer()
	defer smSrv.Close()
	smSrv.CreateSecret(secretsmanagerapi.SecretSpec{Name: "demo/myapp/api", String: aws.String(`{"token":"demo-token-123"}`)})
	keyFile := filepath.Join(t.TempDir(), "age.agekey")
	if err := os.WriteFile(keyFile, examples.DemoAgeKey, 0o600); err != nil {
		t.Fatal(err)
	}
	e := newRawEnv(t, files)
	cfg := smSrv.ClientConfig(secretsmanagerapi.DefaultRegion, smSrv.Credentials(), 1)
	e.s = e.syncer(Options{Secrets: SecretsOptions{AgeKeyFile: keyFile, AWS: &cfg}})
	rec := e.sync(e.app("example-secrets", "secrets"), SyncOptions{Prune: true, Timeout: -1})
	if rec.Result == Failed {
		t.Fatalf("sync: %+v", rec)
	}
	if got := secretValue(t, e, "db-credentials", "DB_PASSWORD"); got != "demo-only-not-secret" {
		t.Errorf("DB_PASSWORD = %q", got)
	}
	if got := secretValue(t, e, "api-token", "API_TOKEN"); got != "demo-token-123" {
		t.Errorf("API_TOKEN = %q", got)
	}
}
