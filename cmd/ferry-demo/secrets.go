package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ferrygitops/ferry/examples"
	"github.com/ferrygitops/ferry/internal/testenv/secretsmanagerapi"
)

// secretsStep syncs examples/repo/secrets as an ad-hoc app: a SOPS file
// decrypted with the demo-only age key, and a Secret filled from a local
// Secrets Manager emulator (through the AWS SDK's endpoint override).
func (d *demo) secretsStep(ctx context.Context, w io.Writer, step func(int, string, ...any), dir string, syncArgs []string) error {
	step(10, "ferry sync demo-secrets: a SOPS-encrypted Secret and a Secrets Manager reference")
	sm := secretsmanagerapi.NewServer()
	defer sm.Close()
	token := `{"token":"demo-token-not-secret"}`
	sm.CreateSecret(secretsmanagerapi.SecretSpec{Name: "demo/myapp/api", String: &token})
	keyFile := filepath.Join(dir, "demo-age.agekey")
	if err := os.WriteFile(keyFile, examples.DemoAgeKey, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(w, "    age identity: examples/demo-keys/age.agekey (DEMO ONLY); Secrets Manager emulator on %s\n\n", sm.URL)
	d.setEnv(sm.Env(), map[string]string{"AWS_REGION": secretsmanagerapi.DefaultRegion, "SOPS_AGE_KEY_FILE": keyFile})
	return d.step(ctx, append([]string{"sync", "demo-secrets", "--app-path", "secrets", "-n", "myapp-staging", "--timeout", "1m"}, syncArgs...)...)
}
