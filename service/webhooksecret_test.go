package service

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWebhookSecretOptional: the install mounts the webhooks' Secret with
// optional: true, so a missing file (or an empty one) turns that webhook
// off with a log line instead of stopping `ferry run`; a file that exists
// but cannot be read is still an error.
func TestWebhookSecretOptional(t *testing.T) {
	dir := t.TempDir()
	present := writeFile(t, dir, "github-secret", "s3cret\n")
	empty := writeFile(t, dir, "ecr-token", "")
	for _, c := range []struct {
		name, file, want, log string
		err                   bool
	}{
		{name: "not configured", file: ""},
		{name: "present", file: present, want: "s3cret"},
		{name: "absent", file: filepath.Join(dir, "registry-token"), log: "webhook disabled: its secret file does not exist"},
		{name: "empty", file: empty, log: "webhook disabled: its secret file is empty"},
		{name: "a directory", file: dir, err: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var logs bytes.Buffer
			got, err := webhookSecret(slog.New(slog.NewTextHandler(&logs, nil)), "hook", c.file)
			if (err != nil) != c.err || got != c.want {
				t.Fatalf("webhookSecret = %q, %v; want %q, error %v", got, err, c.want, c.err)
			}
			if c.log == "" && logs.Len() > 0 || !strings.Contains(logs.String(), c.log) || c.log != "" && !strings.Contains(logs.String(), "webhook=hook") {
				t.Errorf("log = %q, want %q", logs.String(), c.log)
			}
			if strings.Contains(logs.String(), "s3cret") {
				t.Errorf("the secret was logged: %s", logs.String())
			}
		})
	}
	if os.Getuid() == 0 {
		return // root reads a mode-000 file
	}
	unreadable := writeFile(t, dir, "unreadable", "x")
	if err := os.Chmod(unreadable, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := webhookSecret(slog.New(slog.DiscardHandler), "hook", unreadable); err == nil {
		t.Error("an unreadable secret file disabled the webhook instead of failing")
	}
}

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
