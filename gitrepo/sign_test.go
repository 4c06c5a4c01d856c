package gitrepo_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"golang.org/x/crypto/ssh"

	"github.com/ferrygitops/ferry/gitrepo"
	"github.com/ferrygitops/ferry/internal/testenv/gitserver"
)

// gitCLI runs git isolated from the user's configuration, with extra env.
func gitCLI(t *testing.T, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_CONFIG_HOME=" + home,
		"GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0", "LC_ALL=C",
	}, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// signedPayload is a commit object without its gpgsig header: what was
// signed.
func signedPayload(t *testing.T, srv *gitserver.Server, commit string) (payload, signature string) {
	t.Helper()
	raw, err := srv.Git(repo, "cat-file", "commit", commit)
	if err != nil {
		t.Fatal(err)
	}
	header, body, _ := strings.Cut(raw, "\n\n")
	var kept, sig []string
	inSig := false
	for _, line := range strings.Split(header, "\n") {
		switch {
		case strings.HasPrefix(line, "gpgsig "):
			inSig = true
			sig = append(sig, strings.TrimPrefix(line, "gpgsig "))
		case inSig && strings.HasPrefix(line, " "):
			sig = append(sig, strings.TrimPrefix(line, " "))
		default:
			inSig = false
			kept = append(kept, line)
		}
	}
	return strings.Join(kept, "\n") + "\n\n" + body, strings.Join(sig, "\n") + "\n"
}

// signingTime is recent: gpg refuses keys and signatures from the future.
func signingTime() time.Time { return time.Now().Add(-time.Hour).Truncate(time.Second) }

func TestOpenPGPSigning(t *testing.T) {
	srv := setup(t)
	at := signingTime()
	created := at.Add(-48 * time.Hour)
	entity, err := openpgp.NewEntity("Ferry Bot", "", "ferry@example.com", &packet.Config{
		Algorithm: packet.PubKeyAlgoEdDSA,
		Time:      func() time.Time { return created },
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var priv, pub bytes.Buffer
	w, _ := armor.Encode(&priv, openpgp.PrivateKeyType, nil)
	if err := entity.SerializePrivate(w, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	w, _ = armor.Encode(&pub, openpgp.PublicKeyType, nil)
	if err := entity.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	keyFile := filepath.Join(dir, "key.asc")
	if err := os.WriteFile(keyFile, priv.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}

	signer, err := gitrepo.OpenPGPSignerFromFile(keyFile, "")
	if err != nil {
		t.Fatal(err)
	}
	if s := signer.String(); !strings.Contains(s, signer.Fingerprint()) || strings.Contains(s, "PRIVATE") {
		t.Fatalf("String = %q", s)
	}
	r := clone(t, srv.RepoURL(repo), auth(), 1)
	write(t, r, "apps/web/deployment.yaml", "image: web:7\n")
	files := []string{"apps/web/deployment.yaml"}
	c1, err := r.Commit(ctx, files, "signed", ferry(at), signer)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := r.Commit(ctx, files, "signed", ferry(at), signer)
	if err != nil {
		t.Fatal(err)
	}
	if c1 != c2 {
		t.Fatalf("signed commits differ: %s %s", c1, c2)
	}
	info, err := r.CommitInfo(c1)
	if err != nil || !strings.HasPrefix(info.Signature, "-----BEGIN PGP SIGNATURE-----") {
		t.Fatalf("signature = %q, %v", info.Signature, err)
	}
	if err := r.Push(ctx, c1, "ferry/signed", gitrepo.Lease{MustNotExist: true}); err != nil {
		t.Fatal(err)
	}

	// go-crypto verifies it...
	payload, sig := signedPayload(t, srv, c1.String())
	keyring, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(pub.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openpgp.CheckArmoredDetachedSignature(keyring, strings.NewReader(payload), strings.NewReader(sig), &packet.Config{Time: func() time.Time { return at }}); err != nil {
		t.Fatalf("go-crypto rejects the signature: %v", err)
	}
	// ...and so does git with gpg.
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Log("gpg not installed: skipping git verify-commit")
		return
	}
	gnupg := filepath.Join(dir, "gnupg")
	if err := os.Mkdir(gnupg, 0o700); err != nil {
		t.Fatal(err)
	}
	imp := exec.Command("gpg", "--batch", "--import")
	imp.Env = []string{"GNUPGHOME=" + gnupg, "PATH=" + os.Getenv("PATH")}
	imp.Stdin = bytes.NewReader(pub.Bytes())
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("gpg --import: %v\n%s", err, out)
	}
	out, err := gitCLI(t, srv.Path(repo), []string{"GNUPGHOME=" + gnupg}, "verify-commit", "-v", c1.String())
	if err != nil || !strings.Contains(out, "Good signature") {
		t.Fatalf("git verify-commit: %v\n%s", err, out)
	}
}

func TestOpenPGPSignerKeys(t *testing.T) {
	entity, err := openpgp.NewEntity("Ferry Bot", "", "ferry@example.com", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	if err := entity.EncryptPrivateKeys([]byte("correct horse"), nil); err != nil {
		t.Fatal(err)
	}
	var priv bytes.Buffer
	w, _ := armor.Encode(&priv, openpgp.PrivateKeyType, nil)
	if err := entity.SerializePrivateWithoutSigning(w, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if _, err := gitrepo.NewOpenPGPSigner(priv.Bytes(), ""); err == nil {
		t.Fatal("an encrypted key without passphrase was accepted")
	}
	if _, err := gitrepo.NewOpenPGPSigner(priv.Bytes(), "nope-passphrase-77"); err == nil || strings.Contains(err.Error(), "nope-passphrase-77") {
		t.Fatalf("wrong passphrase: %v", err)
	}
	s, err := gitrepo.NewOpenPGPSigner(priv.Bytes(), "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	payload := fmt.Sprintf("tree x\ncommitter a <b> %d +0000\n\nmsg\n", time.Now().Unix())
	if _, err := s.Sign(strings.NewReader(payload)); err != nil {
		t.Fatal(err)
	}
	// The signature time is the committer time: a key newer than the
	// commit cannot sign it.
	if _, err := s.Sign(strings.NewReader("tree x\ncommitter a <b> 1000000000 +0000\n\nmsg\n")); err == nil {
		t.Fatal("signed a commit older than the key")
	}
	if _, err := gitrepo.NewOpenPGPSigner([]byte("not a key"), ""); err == nil {
		t.Fatal("garbage accepted as a key")
	}
}

func TestSSHSigning(t *testing.T) {
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		key        any
		passphrase string
	}{
		"ed25519":           {edKey, ""},
		"ed25519 encrypted": {edKey, "s3cret passphrase"},
		"rsa":               {rsaKey, ""},
	} {
		t.Run(name, func(t *testing.T) {
			srv := setup(t)
			var block *pem.Block
			if tc.passphrase != "" {
				block, err = ssh.MarshalPrivateKeyWithPassphrase(tc.key, "ferry", []byte(tc.passphrase))
			} else {
				block, err = ssh.MarshalPrivateKey(tc.key, "ferry")
			}
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			keyFile := filepath.Join(dir, "id")
			if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
				t.Fatal(err)
			}
			if tc.passphrase != "" {
				if _, err := gitrepo.SSHSignerFromFile(keyFile, ""); err == nil {
					t.Fatal("an encrypted key without passphrase was accepted")
				}
			}
			signer, err := gitrepo.SSHSignerFromFile(keyFile, tc.passphrase)
			if err != nil {
				t.Fatal(err)
			}

			at := signingTime()
			r := clone(t, srv.FileURL(repo), gitrepo.Auth{}, 0)
			write(t, r, "apps/web/deployment.yaml", "image: web:8\n")
			files := []string{"apps/web/deployment.yaml"}
			c1, err := r.Commit(ctx, files, "ssh signed", ferry(at), signer)
			if err != nil {
				t.Fatal(err)
			}
			c2, err := r.Commit(ctx, files, "ssh signed", ferry(at), signer)
			if err != nil {
				t.Fatal(err)
			}
			if c1 != c2 {
				t.Fatalf("signed commits differ: %s %s", c1, c2)
			}
			if err := r.Push(ctx, c1, "ferry/ssh", gitrepo.Lease{MustNotExist: true}); err != nil {
				t.Fatal(err)
			}

			payload, sig := signedPayload(t, srv, c1.String())
			if !strings.HasPrefix(sig, "-----BEGIN SSH SIGNATURE-----\n") || !strings.HasSuffix(sig, "-----END SSH SIGNATURE-----\n") {
				t.Fatalf("signature:\n%s", sig)
			}
			key, err := gitrepo.VerifySSHSignature([]byte(sig), strings.NewReader(payload))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(key.Marshal(), signer.PublicKey().Marshal()) {
				t.Fatal("signature made by another key")
			}
			if _, err := gitrepo.VerifySSHSignature([]byte(sig), strings.NewReader(payload+"tampered")); err == nil {
				t.Fatal("a tampered payload verified")
			}

			if _, err := exec.LookPath("ssh-keygen"); err != nil {
				t.Log("ssh-keygen not installed: skipping git verify-commit")
				return
			}
			allowed := filepath.Join(dir, "allowed_signers")
			if err := os.WriteFile(allowed, []byte(signer.AllowedSigner("ferry@example.com")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := gitCLI(t, srv.Path(repo), nil,
				"-c", "gpg.format=ssh", "-c", "gpg.ssh.allowedSignersFile="+allowed,
				"verify-commit", "-v", c1.String())
			if err != nil || !strings.Contains(out, `Good "git" signature for ferry@example.com`) {
				t.Fatalf("git verify-commit: %v\n%s", err, out)
			}
			// ssh-keygen's own signature of the same payload verifies with
			// our verifier: the formats agree both ways.
			msgFile := filepath.Join(dir, "payload")
			if err := os.WriteFile(msgFile, []byte(payload), 0o600); err != nil {
				t.Fatal(err)
			}
			kg := exec.Command("ssh-keygen", "-Y", "sign", "-n", "git", "-f", keyFile, "-P", tc.passphrase, msgFile)
			if out, err := kg.CombinedOutput(); err != nil {
				t.Fatalf("ssh-keygen -Y sign: %v\n%s", err, out)
			}
			theirs, err := os.ReadFile(msgFile + ".sig")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := gitrepo.VerifySSHSignature(theirs, strings.NewReader(payload)); err != nil {
				t.Fatalf("ssh-keygen's signature: %v", err)
			}
		})
	}
}
