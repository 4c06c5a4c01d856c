package verify

import (
	"crypto"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

// publicGoodRoot is the public Sigstore instance's trusted root
// (trusted_root.json of the TUF repository at tuf-repo-cdn.sigstore.dev), as
// shipped in the seeds.json of the npm package @sigstore/tuf@5.0.1, sha256
// 6494e21ea73fa7ee769f85f57d5a3e6a08725eae1e38c755fc3517c9e6bc0b66. It names
// Fulcio's CAs, Rekor v1 and v2 (log2025-1), the CT logs and the timestamp
// authority. Ferry embeds it rather than fetching it through TUF so that
// verification makes no call beyond the registry's; a policy that needs a
// newer root, or a private Sigstore, names its own file.
//
//go:embed sigstore_trusted_root.json
var publicGoodRoot []byte

// PublicGoodRootSource describes the embedded trusted root in results.
const PublicGoodRootSource = "public Sigstore trusted root (embedded)"

// Settings are one policy's signature requirements. A signature verifies when
// any key or any identity accepts it.
type Settings struct {
	// Keys are cosign public keys (PEM); a signature made with any of them
	// is accepted.
	Keys []Key
	// Identities are the keyless signers accepted: the OIDC issuer and the
	// subject (SAN) of the Fulcio certificate.
	Identities []Identity
	// TrustedRoot is the Sigstore trusted root (Fulcio CAs, Rekor logs, CT
	// logs, timestamp authorities); nil means the public Sigstore instance.
	TrustedRoot *TrustedRoot
	// IgnoreTlog accepts key signatures that have no transparency-log entry
	// (cosign sign --tlog-upload=false). It never applies to keyless
	// signatures, whose certificates are short-lived and need the log's
	// timestamp. The default, false, is cosign's: a key signature must be in
	// a trusted Rekor log.
	IgnoreTlog bool
}

// Key is a cosign public key and where it came from.
type Key struct {
	PEM    []byte
	Source string // e.g. "file keys/cosign.pub", "secret ferry/cosign key cosign.pub"
}

// Identity is a keyless signer: each field is matched exactly, or by a
// regular expression that must match the whole value (it is anchored, unlike
// cosign's --certificate-identity-regexp). One of Issuer and IssuerRegExp,
// and one of Subject and SubjectRegExp, is required.
type Identity struct {
	Issuer        string `json:"issuer,omitempty"`
	IssuerRegExp  string `json:"issuerRegExp,omitempty"`
	Subject       string `json:"subject,omitempty"`
	SubjectRegExp string `json:"subjectRegExp,omitempty"`
}

func (id Identity) String() string {
	iss, sub := id.Issuer, id.Subject
	if iss == "" {
		iss = "~" + id.IssuerRegExp
	}
	if sub == "" {
		sub = "~" + id.SubjectRegExp
	}
	return sub + " (issuer " + iss + ")"
}

// TrustedRoot is a Sigstore trusted_root.json and where it came from.
type TrustedRoot struct {
	JSON   []byte
	Source string
}

// Verifier checks signatures against one Settings. It does no I/O; Client
// fetches the signatures. It is safe for concurrent use.
type Verifier struct {
	hash       string
	rootSource string
	keyless    *sgverify.Verifier // nil without identities
	identities []sgverify.PolicyOption
	keys       []keyVerifier
}

type keyVerifier struct {
	source string
	full   *sgverify.Verifier // signature, and the tlog unless IgnoreTlog
	sig    *sgverify.Verifier // signature only: tells a wrong key from a missing log entry
}

// NewVerifier prepares a Verifier. It fails on settings that could never
// verify anything: no key and no identity, a key that is not a PEM public
// key, an identity without issuer or subject, a regular expression that does
// not compile, or a trusted root that does not parse.
func NewVerifier(s Settings) (*Verifier, error) {
	if len(s.Keys) == 0 && len(s.Identities) == 0 {
		return nil, errors.New("verification settings: no key and no keyless identity")
	}
	if s.IgnoreTlog && len(s.Keys) == 0 {
		return nil, errors.New("verification settings: ignoring the transparency log applies to keys only, and there are none")
	}
	rootJSON, rootSource := publicGoodRoot, PublicGoodRootSource
	if s.TrustedRoot != nil {
		rootJSON, rootSource = s.TrustedRoot.JSON, s.TrustedRoot.Source
	}
	tr, err := root.NewTrustedRootFromJSON(rootJSON)
	if err != nil {
		return nil, fmt.Errorf("reading the trusted root from %s: %w", rootSource, err)
	}
	v := &Verifier{hash: settingsHash(s, rootJSON), rootSource: rootSource}

	for i, id := range s.Identities {
		ci, err := certificateIdentity(id)
		if err != nil {
			return nil, fmt.Errorf("verification settings: identity %d: %w", i+1, err)
		}
		v.identities = append(v.identities, sgverify.WithCertificateIdentity(ci))
	}
	if len(s.Identities) > 0 {
		opts := []sgverify.VerifierOption{sgverify.WithTransparencyLog(1), sgverify.WithObserverTimestamps(1)}
		if len(tr.CTLogs()) > 0 {
			// A root that names CT logs is one whose Fulcio embeds SCTs:
			// require them, as cosign does. A private Sigstore without a CT
			// log has nothing to check them against.
			opts = append(opts, sgverify.WithSignedCertificateTimestamps(1))
		}
		if v.keyless, err = sgverify.NewVerifier(tr, opts...); err != nil {
			return nil, fmt.Errorf("verification settings: %w", err)
		}
	}

	for _, k := range s.Keys {
		kv, err := newKeyVerifier(k, tr, s.IgnoreTlog)
		if err != nil {
			return nil, err
		}
		v.keys = append(v.keys, kv)
	}
	return v, nil
}

func newKeyVerifier(k Key, tr *root.TrustedRoot, ignoreTlog bool) (keyVerifier, error) {
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(k.PEM)
	if err != nil {
		return keyVerifier{}, fmt.Errorf("reading the public key from %s: %w", k.Source, err)
	}
	sv, err := signature.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		return keyVerifier{}, fmt.Errorf("loading the public key from %s: %w", k.Source, err)
	}
	// The key is trusted whatever the bundle's key hint says: each key has
	// its own verifier, tried in turn.
	key := root.NewExpiringKey(sv, zeroTime, zeroTime)
	material := root.TrustedMaterialCollection{tr, root.NewTrustedPublicKeyMaterial(
		func(string) (root.TimeConstrainedVerifier, error) { return key, nil })}
	kv := keyVerifier{source: k.Source}
	if kv.sig, err = sgverify.NewVerifier(material, sgverify.WithNoObserverTimestamps()); err != nil {
		return keyVerifier{}, err
	}
	kv.full = kv.sig
	if !ignoreTlog {
		// A key does not expire: the log entry proves publication, and
		// the key's validity is judged now.
		if kv.full, err = sgverify.NewVerifier(material, sgverify.WithTransparencyLog(1), sgverify.WithCurrentTime()); err != nil {
			return keyVerifier{}, err
		}
	}
	return kv, nil
}

// certificateIdentity compiles an Identity, anchoring its expressions.
func certificateIdentity(id Identity) (sgverify.CertificateIdentity, error) {
	if (id.Issuer == "") == (id.IssuerRegExp == "") {
		return sgverify.CertificateIdentity{}, errors.New("set exactly one of issuer and issuerRegExp")
	}
	if (id.Subject == "") == (id.SubjectRegExp == "") {
		return sgverify.CertificateIdentity{}, errors.New("set exactly one of subject and subjectRegExp")
	}
	issRE, err := anchor(id.IssuerRegExp)
	if err != nil {
		return sgverify.CertificateIdentity{}, fmt.Errorf("issuerRegExp: %w", err)
	}
	subRE, err := anchor(id.SubjectRegExp)
	if err != nil {
		return sgverify.CertificateIdentity{}, fmt.Errorf("subjectRegExp: %w", err)
	}
	return sgverify.NewShortCertificateIdentity(id.Issuer, issRE, id.Subject, subRE)
}

// anchor makes a regular expression match whole values only.
func anchor(re string) (string, error) {
	if re == "" {
		return "", nil
	}
	if _, err := regexp.Compile(re); err != nil {
		return "", err
	}
	return `^(?:` + re + `)$`, nil
}

// CheckIdentity reports what is wrong with an identity, for validating
// policy files before any verification.
func CheckIdentity(id Identity) error {
	_, err := certificateIdentity(id)
	return err
}

// Hash identifies the settings (keys, identities, trusted root, tlog rule):
// two Verifiers with the same Hash accept exactly the same signatures.
func (v *Verifier) Hash() string { return v.hash }

func settingsHash(s Settings, rootJSON []byte) string {
	keys := make([]string, len(s.Keys))
	for i, k := range s.Keys {
		keys[i] = string(k.PEM)
	}
	rh := sha256.Sum256(rootJSON)
	data, _ := json.Marshal(struct {
		Keys       []string
		Identities []Identity
		Root       string
		IgnoreTlog bool
	}{keys, s.Identities, hex.EncodeToString(rh[:]), s.IgnoreTlog})
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}
