package awssm_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/ferrygitops/ferry/deploy/render"
	"github.com/ferrygitops/ferry/internal/testenv/awsapi"
	"github.com/ferrygitops/ferry/internal/testenv/secretsmanagerapi"
	"github.com/ferrygitops/ferry/secrets/awssm"
)

const (
	password  = "hunter2-Zebra-Pass"
	password2 = "rotated-Yak-Pass"
	apiToken  = "tok-QuokkaToken-123"
)

func ptr(s string) *string { return &s }

func newServer(t testing.TB) *secretsmanagerapi.Server {
	srv := secretsmanagerapi.NewServer()
	t.Cleanup(srv.Close)
	return srv
}

// filler is a Filler of srv through the real SDK, with the endpoint given
// as Ferry's override.
func filler(srv *secretsmanagerapi.Server, attempts int) *awssm.Filler {
	cfg := srv.ClientConfig(secretsmanagerapi.DefaultRegion, srv.Credentials(), attempts)
	cfg.BaseEndpoint = nil
	return awssm.New(awssm.Options{AWS: cfg, Endpoint: srv.URL})
}

func renderFiles(t testing.TB, files map[string]string) []render.Manifest {
	t.Helper()
	fsys := fstest.MapFS{}
	for n, s := range files {
		fsys["app/"+n] = &fstest.MapFile{Data: []byte(s)}
	}
	r, err := render.Render(fsys, "app", render.Options{App: "web", Namespace: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	return r.Manifests
}

const dbSecret = `apiVersion: v1
kind: Secret
metadata:
  name: db
  annotations:
    ferry.dev/secretsmanager-secret-id: prod/myapp/db
    ferry.dev/secretsmanager-key.DB_PASSWORD: password
    ferry.dev/secretsmanager-key.DB_PORT: port
    ferry.dev/secretsmanager-key.raw.json: ""
type: Opaque
`

const allFields = `apiVersion: v1
kind: Secret
metadata:
  name: db-all
  annotations:
    ferry.dev/secretsmanager-secret-id: prod/myapp/db
data:
  extra: eA==
`

const tokenSecret = `apiVersion: v1
kind: Secret
metadata:
  name: token
  annotations:
    ferry.dev/secretsmanager-secret-id: prod/myapp/token
    ferry.dev/secretsmanager-key.TOKEN: ""
`

func data(t *testing.T, ms []render.Manifest, name string) (map[string]string, *render.Manifest) {
	t.Helper()
	for i := range ms {
		if ms[i].Key.Name == name {
			out := map[string]string{}
			d, _ := ms[i].Object.Object["data"].(map[string]any)
			for k, v := range d {
				b, err := base64.StdEncoding.DecodeString(v.(string))
				if err != nil {
					t.Fatal(err)
				}
				out[k] = string(b)
			}
			return out, &ms[i]
		}
	}
	t.Fatalf("no %s", name)
	return nil, nil
}

func TestFillCachesByVersionAndFollowsRotation(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	dbJSON := `{"username":"app","password":"` + password + `","port":5432}`
	db := srv.CreateSecret(secretsmanagerapi.SecretSpec{Name: "prod/myapp/db", String: ptr(dbJSON)})
	srv.CreateSecret(secretsmanagerapi.SecretSpec{Name: "prod/myapp/token", String: ptr(apiToken)})
	f := filler(srv, 1)
	files := map[string]string{"db.yaml": dbSecret, "all.yaml": allFields, "token.yaml": tokenSecret,
		"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"}

	ms := renderFiles(t, files)
	before := map[string]string{}
	for _, m := range ms {
		before[m.Key.Name] = m.Hash
	}
	st, err := f.Fill(context.Background(), ms)
	if err != nil {
		t.Fatal(err)
	}
	if st != (awssm.Stats{Secrets: 3, Distinct: 2, Describe: 2, Get: 2}) {
		t.Errorf("stats = %+v", st)
	}
	d, m := data(t, ms, "db")
	if d["DB_PASSWORD"] != password || d["DB_PORT"] != "5432" || d["raw.json"] != dbJSON || len(d) != 3 {
		t.Errorf("db data = %v", d)
	}
	if m.Object.GetAnnotations()[awssm.AnnotationVersion] != db.VersionID || m.Hash == before["db"] ||
		m.Object.GetAnnotations()[render.AnnotationAppliedHash] != m.Hash {
		t.Errorf("db annotations = %v (hash %s)", m.Object.GetAnnotations(), m.Hash)
	}
	if d, _ := data(t, ms, "db-all"); d["username"] != "app" || d["password"] != password || d["port"] != "5432" || d["extra"] != "x" {
		t.Errorf("db-all data = %v", d)
	}
	if d, _ := data(t, ms, "token"); d["TOKEN"] != apiToken {
		t.Errorf("token data = %v", d)
	}
	if _, m := data(t, ms, "c"); m.Hash != before["c"] {
		t.Error("a ConfigMap changed")
	}
	filled := map[string]string{}
	for _, m := range ms {
		filled[m.Key.Name] = m.Hash
	}

	// The next sync: one DescribeSecret per secret, no value read, the
	// same hashes.
	ms = renderFiles(t, files)
	st, err = f.Fill(context.Background(), ms)
	if err != nil || st != (awssm.Stats{Secrets: 3, Distinct: 2, Describe: 2, Get: 0}) {
		t.Fatalf("second fill: %+v %v", st, err)
	}
	for _, m := range ms {
		if m.Hash != filled[m.Key.Name] {
			t.Errorf("%s: hash %s, was %s", m.Key.Name, m.Hash, filled[m.Key.Name])
		}
	}
	if srv.Reads("prod/myapp/db") != 1 {
		t.Errorf("reads = %d", srv.Reads("prod/myapp/db"))
	}

	// Rotation: a new AWSCURRENT version is read once, and the hash moves.
	v2 := srv.PutSecretString("prod/myapp/db", `{"username":"app","password":"`+password2+`","port":5432}`)
	ms = renderFiles(t, files)
	st, err = f.Fill(context.Background(), ms)
	if err != nil || st != (awssm.Stats{Secrets: 3, Distinct: 2, Describe: 2, Get: 1}) {
		t.Fatalf("after rotation: %+v %v", st, err)
	}
	d, m = data(t, ms, "db")
	if d["DB_PASSWORD"] != password2 || m.Hash == filled["db"] || m.Object.GetAnnotations()[awssm.AnnotationVersion] != v2 {
		t.Errorf("after rotation: %v %s", d, m.Hash)
	}
	if _, tm := data(t, ms, "token"); tm.Hash != filled["token"] {
		t.Error("the token's hash changed without a rotation")
	}

	// AWSPREVIOUS on demand.
	prev := strings.Replace(dbSecret, "    ferry.dev/secretsmanager-key.DB_PORT: port\n", "    ferry.dev/secretsmanager-version-stage: AWSPREVIOUS\n", 1)
	ms = renderFiles(t, map[string]string{"db.yaml": prev})
	if _, err := f.Fill(context.Background(), ms); err != nil {
		t.Fatal(err)
	}
	if d, _ := data(t, ms, "db"); d["DB_PASSWORD"] != password {
		t.Errorf("AWSPREVIOUS: %v", d)
	}
}

func TestFillErrorsNameTheSourceNeverAValue(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	srv.CreateSecret(secretsmanagerapi.SecretSpec{Name: "prod/myapp/db", String: ptr(`{"password":"` + password + `"}`)})
	srv.CreateSecret(secretsmanagerapi.SecretSpec{Name: "prod/myapp/token", String: ptr(apiToken)})
	f := filler(srv, 1)
	for _, tc := range []struct {
		name, manifest, want string
	}{
		{"not found", strings.Replace(dbSecret, "prod/myapp/db", "prod/myapp/nope", 1),
			"app/db.yaml:1: Secret prod/db: secrets manager secret prod/myapp/nope not found"},
		{"no field", strings.Replace(dbSecret, "DB_PASSWORD: password", "DB_PASSWORD: pw", 1),
			`app/db.yaml:1: Secret prod/db: secrets manager secret prod/myapp/db (version `},
		{"not JSON", strings.Replace(tokenSecret, `TOKEN: ""`, "TOKEN: token", 1),
			`names field "token" but secrets manager secret prod/myapp/token is not a JSON object`},
		{"no stage", strings.Replace(tokenSecret, "  annotations:\n", "  annotations:\n    ferry.dev/secretsmanager-version-stage: AWSPENDING\n", 1),
			"secrets manager secret prod/myapp/token has no version labelled AWSPENDING"},
		{"bad key", strings.Replace(tokenSecret, "key.TOKEN", "key.a:b", 1), `"a:b" is not a valid Secret key`},
		{"in git too", tokenSecret + "stringData:\n  TOKEN: x\n", "key TOKEN is both in stringData and filled from Secrets Manager"},
	} {
		ms := renderFiles(t, map[string]string{"db.yaml": tc.manifest})
		_, err := f.Fill(context.Background(), ms)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), password) || strings.Contains(err.Error(), apiToken) {
			t.Errorf("%s: the error leaks a value: %v", tc.name, err)
		}
	}
}

func TestFillThrottledAndDeniedStop(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	srv.CreateSecret(secretsmanagerapi.SecretSpec{Name: "prod/myapp/token", String: ptr(apiToken)})
	// Three attempts: two throttles are retried by the SDK.
	f := filler(srv, 3)
	srv.FailNext("GetSecretValue", 2, awsapi.Throttling(0))
	ms := renderFiles(t, map[string]string{"t.yaml": tokenSecret})
	if _, err := f.Fill(context.Background(), ms); err != nil {
		t.Fatalf("retried throttling: %v", err)
	}
	// Beyond the retries: a clear error.
	f = filler(srv, 3)
	srv.FailNext("DescribeSecret", 3, awsapi.Throttling(0))
	ms = renderFiles(t, map[string]string{"t.yaml": tokenSecret})
	_, err := f.Fill(context.Background(), ms)
	if err == nil || !strings.Contains(err.Error(), "app/t.yaml:1: Secret prod/token: secrets manager throttled DescribeSecret of prod/myapp/token beyond the SDK's retries") {
		t.Fatalf("err = %v", err)
	}
}

// BenchmarkFill100 fills 100 Secrets, each naming its own secret: warm,
// as a sync does after the first (one DescribeSecret per secret, no value
// read); cold, as the first sync of a process does (DescribeSecret and
// GetSecretValue per secret).
func BenchmarkFill100(b *testing.B) {
	b.Run("warm", func(b *testing.B) { benchFill100(b, false) })
	b.Run("cold", func(b *testing.B) { benchFill100(b, true) })
}

func benchFill100(b *testing.B, cold bool) {
	srv := newServer(b)
	files := map[string]string{}
	for i := range 100 {
		name := fmt.Sprintf("prod/app%03d/db", i)
		srv.CreateSecret(secretsmanagerapi.SecretSpec{Name: name, String: ptr(`{"password":"p` + fmt.Sprint(i) + `"}`)})
		files[fmt.Sprintf("s%03d.yaml", i)] = strings.Replace(strings.Replace(dbSecret, "prod/myapp/db", name, 1), "name: db", fmt.Sprintf("name: db%03d", i), 1)
		files[fmt.Sprintf("s%03d.yaml", i)] = strings.Replace(files[fmt.Sprintf("s%03d.yaml", i)], "    ferry.dev/secretsmanager-key.DB_PORT: port\n", "", 1)
	}
	f := filler(srv, 1)
	if _, err := f.Fill(context.Background(), renderFiles(b, files)); err != nil {
		b.Fatal(err)
	}
	base := renderFiles(b, files)
	srv.ResetStats()
	b.ResetTimer()
	var st awssm.Stats
	for range b.N {
		b.StopTimer()
		ms := make([]render.Manifest, len(base))
		for j, m := range base {
			m.Object = m.Object.DeepCopy()
			ms[j] = m
		}
		if cold {
			f = filler(srv, 1)
		}
		b.StartTimer()
		var err error
		if st, err = f.Fill(context.Background(), ms); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(st.Describe+st.Get), "calls/sync")
	b.ReportMetric(float64(srv.TotalRequests())/float64(b.N), "requests/sync")
}
