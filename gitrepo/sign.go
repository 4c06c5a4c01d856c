package gitrepo

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"golang.org/x/crypto/ssh"
)

// Signer signs commits. Sign gets the commit object as git hashes it,
// without its signature, and returns the armored signature git stores in
// the commit's gpgsig header. The interface is go-git's git.Signer, so a
// Signer also works as go-git's CommitOptions.Signer.
//
// The signers of this package are deterministic when the key algorithm is
// (Ed25519, RSA; not ECDSA or DSA): the signature time is the committer time
// read from the commit, not the clock, so the same commit gets the same
// signature and the same hash.
type Signer interface {
	Sign(message io.Reader) ([]byte, error)
}

// OpenPGPSigner signs with an OpenPGP private key, like git's default
// gpg.format=openpgp.
type OpenPGPSigner struct {
	entity *openpgp.Entity
}

// OpenPGPSignerFromFile reads an armored OpenPGP private key (as exported
// by gpg --armor --export-secret-keys) from path; see NewOpenPGPSigner.
func OpenPGPSignerFromFile(path, passphrase string) (*OpenPGPSigner, error) {
	return signerFromFile("OpenPGP", path, passphrase, NewOpenPGPSigner)
}

// signerFromFile reads the kind of key at path and parses it with parse.
func signerFromFile[S any](kind, path, passphrase string, parse func([]byte, string) (S, error)) (S, error) {
	var zero S
	data, err := os.ReadFile(path)
	if err != nil {
		return zero, fmt.Errorf("reading %s key: %w", kind, err)
	}
	s, err := parse(data, passphrase)
	if err != nil {
		return zero, fmt.Errorf("%s key %s: %w", kind, path, err)
	}
	return s, nil
}

// NewOpenPGPSigner parses an armored OpenPGP private key, decrypting it with
// passphrase if it is encrypted. The first key with a private key is used.
func NewOpenPGPSigner(armored []byte, passphrase string) (*OpenPGPSigner, error) {
	keys, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(armored))
	if err != nil {
		return nil, fmt.Errorf("parsing armored OpenPGP key: %w", err)
	}
	for _, e := range keys {
		if e.PrivateKey == nil {
			continue
		}
		if e.PrivateKey.Encrypted || anySubkeyEncrypted(e) {
			if passphrase == "" {
				return nil, errors.New("the OpenPGP key is encrypted and no passphrase was given")
			}
			if err := e.DecryptPrivateKeys([]byte(passphrase)); err != nil {
				return nil, errors.New("decrypting the OpenPGP key: wrong passphrase or unsupported encryption")
			}
		}
		return &OpenPGPSigner{entity: e}, nil
	}
	return nil, errors.New("no OpenPGP private key found")
}

func anySubkeyEncrypted(e *openpgp.Entity) bool {
	for _, s := range e.Subkeys {
		if s.PrivateKey != nil && s.PrivateKey.Encrypted {
			return true
		}
	}
	return false
}

// Fingerprint is the primary key's fingerprint, in upper-case hex.
func (s *OpenPGPSigner) Fingerprint() string {
	return strings.ToUpper(fmt.Sprintf("%x", s.entity.PrimaryKey.Fingerprint))
}

// String names the key, never its secret.
func (s *OpenPGPSigner) String() string { return "OpenPGP signer " + s.Fingerprint() }

// Sign returns an armored detached OpenPGP signature of message, made at
// the committer (or tagger) time found in message.
func (s *OpenPGPSigner) Sign(message io.Reader) ([]byte, error) {
	data, err := io.ReadAll(message)
	if err != nil {
		return nil, err
	}
	when := signingTime(data)
	deterministic := false
	cfg := &packet.Config{
		Time:                                  func() time.Time { return when },
		NonDeterministicSignaturesViaNotation: &deterministic,
	}
	var out bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&out, s.entity, bytes.NewReader(data), cfg); err != nil {
		return nil, fmt.Errorf("OpenPGP signing with %s at %s: %w", s.Fingerprint(), when.UTC().Format(time.RFC3339), err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// SSHSigner signs with an SSH private key in the format of ssh-keygen -Y
// sign (PROTOCOL.sshsig, namespace "git"), like git's gpg.format=ssh.
type SSHSigner struct {
	signer ssh.Signer
}

// SSHSignerFromFile reads an SSH private key (OpenSSH or PEM format) from
// path; see NewSSHSigner.
func SSHSignerFromFile(path, passphrase string) (*SSHSigner, error) {
	return signerFromFile("SSH", path, passphrase, NewSSHSigner)
}

// NewSSHSigner parses an SSH private key, decrypting it with passphrase if
// it is encrypted.
func NewSSHSigner(pemBytes []byte, passphrase string) (*SSHSigner, error) {
	var (
		signer ssh.Signer
		err    error
	)
	if passphrase != "" {
		signer, err = ssh.ParsePrivateKeyWithPassphrase(pemBytes, []byte(passphrase))
	} else {
		signer, err = ssh.ParsePrivateKey(pemBytes)
	}
	if err != nil {
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			return nil, errors.New("the SSH key is encrypted and no passphrase was given")
		}
		return nil, fmt.Errorf("parsing SSH private key: %w", err)
	}
	return &SSHSigner{signer: signer}, nil
}

// PublicKey is the signing key's public key.
func (s *SSHSigner) PublicKey() ssh.PublicKey { return s.signer.PublicKey() }

// AllowedSigner returns a line for git's gpg.ssh.allowedSignersFile
// allowing principal (usually the committer's email) to sign with this key.
func (s *SSHSigner) AllowedSigner(principal string) string {
	return principal + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.signer.PublicKey())))
}

// String names the key, never its secret.
func (s *SSHSigner) String() string {
	return "SSH signer " + ssh.FingerprintSHA256(s.signer.PublicKey())
}

const (
	sshsigMagic     = "SSHSIG"
	sshsigVersion   = 1
	sshsigNamespace = "git"
	sshsigHash      = "sha512"
)

// sshsig is an SSH signature's wire form after its "SSHSIG" preamble
// (OpenSSH's PROTOCOL.sshsig).
type sshsig struct {
	Version   uint32
	PublicKey string
	Namespace string
	Reserved  string
	Hash      string
	Signature string
}

// Sign returns an armored SSH signature of message ("-----BEGIN SSH
// SIGNATURE-----"), as ssh-keygen -Y sign -n git makes.
func (s *SSHSigner) Sign(message io.Reader) ([]byte, error) {
	h := sha512.New()
	if _, err := io.Copy(h, message); err != nil {
		return nil, err
	}
	signed := ssh.Marshal(struct {
		Namespace string
		Reserved  string
		Hash      string
		Digest    string
	}{sshsigNamespace, "", sshsigHash, string(h.Sum(nil))})
	signed = append([]byte(sshsigMagic), signed...)

	var (
		sig *ssh.Signature
		err error
	)
	if as, ok := s.signer.(ssh.AlgorithmSigner); ok && s.signer.PublicKey().Type() == ssh.KeyAlgoRSA {
		sig, err = as.SignWithAlgorithm(rand.Reader, signed, ssh.KeyAlgoRSASHA512)
	} else {
		sig, err = s.signer.Sign(rand.Reader, signed)
	}
	if err != nil {
		return nil, fmt.Errorf("SSH signing with %s: %w", ssh.FingerprintSHA256(s.signer.PublicKey()), err)
	}
	blob := ssh.Marshal(sshsig{sshsigVersion, string(s.signer.PublicKey().Marshal()), sshsigNamespace, "", sshsigHash, string(ssh.Marshal(sig))})
	blob = append([]byte(sshsigMagic), blob...)

	enc := base64.StdEncoding.EncodeToString(blob)
	var out strings.Builder
	out.WriteString("-----BEGIN SSH SIGNATURE-----\n")
	for len(enc) > 70 {
		out.WriteString(enc[:70] + "\n")
		enc = enc[70:]
	}
	out.WriteString(enc + "\n-----END SSH SIGNATURE-----\n")
	return []byte(out.String()), nil
}

// VerifySSHSignature checks that armored is a valid SSH signature of
// message in namespace "git" (such as a commit's signature over the commit
// without it) and returns the key that made it; whether that key is
// trusted is the caller's decision.
func VerifySSHSignature(armored []byte, message io.Reader) (ssh.PublicKey, error) {
	sig, err := parseSSHSig(armored)
	if err != nil {
		return nil, err
	}
	if sig.namespace != sshsigNamespace {
		return nil, fmt.Errorf("SSH signature namespace is %q, want %q", sig.namespace, sshsigNamespace)
	}
	if sig.hash != sshsigHash && sig.hash != "sha256" {
		return nil, fmt.Errorf("unsupported SSH signature hash %q", sig.hash)
	}
	var digest []byte
	if sig.hash == "sha512" {
		h := sha512.New()
		if _, err := io.Copy(h, message); err != nil {
			return nil, err
		}
		digest = h.Sum(nil)
	} else {
		h := sha256.New()
		if _, err := io.Copy(h, message); err != nil {
			return nil, err
		}
		digest = h.Sum(nil)
	}
	signed := append([]byte(sshsigMagic), ssh.Marshal(struct {
		Namespace string
		Reserved  string
		Hash      string
		Digest    string
	}{sig.namespace, sig.reserved, sig.hash, string(digest)})...)
	if err := sig.key.Verify(signed, sig.signature); err != nil {
		return nil, fmt.Errorf("verifying SSH signature: %w", err)
	}
	return sig.key, nil
}

type sshSig struct {
	key       ssh.PublicKey
	namespace string
	reserved  string
	hash      string
	signature *ssh.Signature
}

func parseSSHSig(armored []byte) (*sshSig, error) {
	text := strings.TrimSpace(string(armored))
	body, ok := strings.CutPrefix(text, "-----BEGIN SSH SIGNATURE-----")
	if !ok {
		return nil, errors.New("not an armored SSH signature")
	}
	body, ok = strings.CutSuffix(body, "-----END SSH SIGNATURE-----")
	if !ok {
		return nil, errors.New("armored SSH signature without its end line")
	}
	blob, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(body), ""))
	if err != nil {
		return nil, fmt.Errorf("decoding SSH signature: %w", err)
	}
	rest, ok := bytes.CutPrefix(blob, []byte(sshsigMagic))
	if !ok {
		return nil, errors.New("SSH signature without the SSHSIG preamble")
	}
	var w sshsig
	if err := ssh.Unmarshal(rest, &w); err != nil {
		return nil, fmt.Errorf("parsing SSH signature: %w", err)
	}
	if w.Version != sshsigVersion {
		return nil, fmt.Errorf("unsupported SSH signature version %d", w.Version)
	}
	key, err := ssh.ParsePublicKey([]byte(w.PublicKey))
	if err != nil {
		return nil, fmt.Errorf("parsing SSH signature's public key: %w", err)
	}
	sig := new(ssh.Signature)
	if err := ssh.Unmarshal([]byte(w.Signature), sig); err != nil {
		return nil, fmt.Errorf("parsing SSH signature's signature: %w", err)
	}
	return &sshSig{key: key, namespace: w.Namespace, reserved: w.Reserved, hash: w.Hash, signature: sig}, nil
}

// signingTime is the committer (or, for tags, tagger) time in a commit or
// tag object, else now.
func signingTime(object []byte) time.Time {
	sc := bufio.NewScanner(bytes.NewReader(object))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			break // end of the headers
		}
		rest, ok := strings.CutPrefix(line, "committer ")
		if !ok {
			rest, ok = strings.CutPrefix(line, "tagger ")
		}
		if !ok {
			continue
		}
		// Name <email> 1700000000 +0100
		gt := strings.LastIndex(rest, ">")
		if gt < 0 {
			break
		}
		f := strings.Fields(rest[gt+1:])
		if len(f) < 1 {
			break
		}
		sec, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			break
		}
		return time.Unix(sec, 0)
	}
	return time.Now()
}
