package testenv

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/ssh"
)

// SSHSigningKey writes a new ed25519 private key in OpenSSH form, without
// a passphrase, to dir/signing-key (mode 0600) and returns its path.
func SSHSigningKey(t testing.TB, dir string) string {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(key, "ferry")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "signing-key")
	if err := os.WriteFile(p, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
