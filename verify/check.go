package verify

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
)

var zeroTime time.Time

// artifact is what a signature must cover: the image's manifest digest (a
// bundle) or the simple-signing payload (a .sig layer). It yields a fresh
// sigstore-go artifact policy per verification, as a reader is consumed.
type artifact func() sgverify.ArtifactPolicyOption

func digestArtifact(hexDigest string) (artifact, error) {
	raw, err := hex.DecodeString(hexDigest)
	if err != nil || len(raw) != 32 {
		return nil, fmt.Errorf("not a sha256 digest: %q", hexDigest)
	}
	return func() sgverify.ArtifactPolicyOption { return sgverify.WithArtifactDigest("sha256", raw) }, nil
}

func payloadArtifact(payload []byte) artifact {
	return func() sgverify.ArtifactPolicyOption { return sgverify.WithArtifact(bytes.NewReader(payload)) }
}

// check verifies one signed entity with every key and identity of v: the
// first that accepts it wins. All the cryptography is sigstore-go's; this
// only decides which of its verifiers to ask and names the outcome.
func (v *Verifier) check(e sgverify.SignedEntity, art artifact) outcome {
	vc, err := e.VerificationContent()
	if err != nil {
		return outcome{reason: Invalid, detail: err.Error()}
	}
	if cert := vc.Certificate(); cert != nil {
		who := signerOf(cert)
		if v.keyless == nil {
			return outcome{reason: IdentityMismatch, detail: "signed keyless by " + who + ", but the policy accepts only its keys"}
		}
		res, err := v.keyless.Verify(e, sgverify.NewPolicy(art(), v.identities...))
		if err != nil {
			o := classify(err)
			if o.reason == IdentityMismatch {
				o.detail = "signed by " + who + ", which no identity of the policy accepts"
			} else {
				o.detail = "signature by " + who + ": " + o.detail
			}
			return o
		}
		if res.VerifiedIdentity != nil {
			return outcome{ok: true, signer: "keyless " + who}
		}
		return outcome{reason: IdentityMismatch, detail: "signed by " + who + ", but no identity was checked"}
	}
	if vc.PublicKey() == nil {
		return outcome{reason: Invalid, detail: "neither a certificate nor a public key"}
	}
	if len(v.keys) == 0 {
		return outcome{reason: WrongKey, detail: "signed with a key, but the policy accepts only keyless identities"}
	}
	for _, k := range v.keys {
		// The signature alone first: a wrong key would otherwise show up
		// as a log entry that does not match.
		if _, err := k.sig.Verify(e, sgverify.NewPolicy(art(), sgverify.WithKey())); err != nil {
			continue
		}
		if _, err := k.full.Verify(e, sgverify.NewPolicy(art(), sgverify.WithKey())); err != nil {
			o := classify(err)
			o.detail = "signed with key " + k.source + ", but " + o.detail
			return o
		}
		return outcome{ok: true, signer: "key " + k.source}
	}
	return outcome{reason: WrongKey, detail: fmt.Sprintf("the signature matches none of the policy's %d key(s)", len(v.keys))}
}

// checkDigest verifies a bundle for the image digest (hex). A bundle that
// fails but verifies for the digest it claims is reported DigestMismatch:
// an accepted signer signed another image.
func (v *Verifier) checkDigest(e sgverify.SignedEntity, imageHex string) outcome {
	art, err := digestArtifact(imageHex)
	if err != nil {
		return outcome{reason: Invalid, detail: err.Error()}
	}
	o := v.check(e, art)
	if o.ok {
		return o
	}
	if claimed := claimedDigest(e); claimed != "" && claimed != imageHex {
		if cart, err := digestArtifact(claimed); err == nil {
			if co := v.check(e, cart); co.ok {
				return outcome{reason: DigestMismatch, detail: fmt.Sprintf("signed by %s for sha256:%s, not for this image", strings.TrimPrefix(co.signer, "keyless "), claimed)}
			}
		}
	}
	return o
}

// claimedDigest is the sha256 digest (hex) a bundle says it signs, unverified:
// the first subject of a DSSE statement, or a message signature's digest.
func claimedDigest(e sgverify.SignedEntity) string {
	sc, err := e.SignatureContent()
	if err != nil {
		return ""
	}
	if env := sc.EnvelopeContent(); env != nil {
		st, err := env.Statement()
		if err != nil {
			return ""
		}
		for _, s := range st.GetSubject() {
			if d := s.GetDigest()["sha256"]; d != "" {
				return d
			}
		}
		return ""
	}
	if ms := sc.MessageSignatureContent(); ms != nil && ms.DigestAlgorithm() == "SHA2_256" {
		return hex.EncodeToString(ms.Digest())
	}
	return ""
}

// signerOf names a Fulcio certificate's identity: its subject and issuer.
func signerOf(cert *x509.Certificate) string {
	s, err := certificate.SummarizeCertificate(cert)
	if err != nil {
		return "an unreadable certificate (" + err.Error() + ")"
	}
	return s.SubjectAlternativeName + " (issuer " + s.Extensions.Issuer + ")"
}

// classify names a sigstore-go verification failure by the step that failed.
func classify(err error) outcome {
	var idErr *sgverify.ErrNoMatchingCertificateIdentity
	if errors.As(err, &idErr) {
		return outcome{reason: IdentityMismatch, detail: err.Error()}
	}
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "failed to verify log inclusion"):
		return outcome{reason: TlogMissing, detail: "no valid entry in a trusted transparency log (" + msg + ")"}
	case strings.HasPrefix(msg, "failed to verify timestamps"),
		strings.HasPrefix(msg, "failed to verify leaf certificate"),
		strings.HasPrefix(msg, "failed to verify signed certificate timestamp"),
		strings.HasPrefix(msg, "must provide timestamp"):
		return outcome{reason: Untrusted, detail: msg}
	}
	return outcome{reason: Invalid, detail: msg}
}
