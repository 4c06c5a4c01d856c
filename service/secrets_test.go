package service

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferrygitops/ferry/deploy"
)

func TestConfigSyncSecrets(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "ferry.yaml")
	write := func(s string) {
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`repos: [{url: https://git.example.com/m.git}]
sync:
  secrets:
    ageKeyFile: /etc/ferry/sops/keys.agekey
    aws:
      region: eu-west-1
      kmsEndpoint: http://127.0.0.1:4566
      secretsManagerEndpoint: http://127.0.0.1:4567
`)
	c, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	want := deploy.SecretsOptions{AgeKeyFile: "/etc/ferry/sops/keys.agekey", AWSRegion: "eu-west-1",
		KMSEndpoint: "http://127.0.0.1:4566", SecretsManagerEndpoint: "http://127.0.0.1:4567"}
	if got := c.Sync.Secrets.deployOptions(); got != want {
		t.Errorf("options = %+v", got)
	}
	// The age key file defaults to $SOPS_AGE_KEY_FILE.
	t.Setenv("SOPS_AGE_KEY_FILE", "/run/keys.txt")
	write("repos: [{url: https://git.example.com/m.git}]\n")
	if c, err = LoadConfig(p); err != nil || c.Sync.Secrets.deployOptions().AgeKeyFile != "/run/keys.txt" {
		t.Errorf("default: %+v %v", c, err)
	}
	write("repos: [{url: https://git.example.com/m.git}]\nsync:\n  secrets:\n    aws: {endpoint: x}\n")
	if _, err := LoadConfig(p); err == nil || !strings.Contains(err.Error(), "ferry.yaml:4: sync.secrets.aws.endpoint: unknown field") || !strings.Contains(err.Error(), "endpoint") {
		t.Errorf("unknown field: %v", err)
	}
}
