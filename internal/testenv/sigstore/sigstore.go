// Package sigstore signs container images for tests, with Sigstore's own code: sigstore-go's signer
// (ephemeral keys, bundles) and its virtual Sigstore (a Fulcio-like CA, a
// Rekor-like log key and a timestamp authority created in the test), rekor's
// entry types, and cosign's oci packages to write .sig tags and referrers as
// cosign sign does. Nothing here verifies: that is package verify's job.
package sigstore

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	cbundle "github.com/sigstore/cosign/v2/pkg/cosign/bundle"
	"github.com/sigstore/cosign/v2/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/rekor/pkg/pki"
	"github.com/sigstore/rekor/pkg/types"
	"github.com/sigstore/rekor/pkg/types/hashedrekord"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/payload"
	"google.golang.org/protobuf/encoding/protojson"
)

// Instance is a private Sigstore instance made for one test.
type Instance struct {
	vs       *ca.VirtualSigstore
	RootFile string // its trusted_root.json
}

func New(t testing.TB) *Instance {
	t.Helper()
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	// The virtual Sigstore names its log by the hex of its key ID; a
	// trusted_root.json holds the key ID's bytes.
	logs := map[string]*root.TransparencyLog{}
	for id, l := range vs.RekorLogs() {
		raw, err := hex.DecodeString(id)
		if err != nil {
			t.Fatal(err)
		}
		l.ID = raw
		logs[id] = l
	}
	// No CT log: the virtual Fulcio embeds no SCTs.
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, vs.FulcioCertificateAuthorities(), nil,
		vs.TimestampingAuthorities(), logs)
	if err != nil {
		t.Fatal(err)
	}
	data, err := tr.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "trusted_root.json")
	if err := os.WriteFile(f, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return &Instance{vs: vs, RootFile: f}
}

// RootJSON reads the trusted root back from its file.
func (s *Instance) RootJSON(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile(s.RootFile)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// logEntry records a hashedrekord entry for (artifact, sig, key or
// certificate PEM) and returns cosign's Rekor bundle for it, with the
// signed entry timestamp of the virtual log.
func (s *Instance) logEntry(t testing.TB, artifact, sig, pubPEM []byte) *cbundle.RekorBundle {
	t.Helper()
	ctx := context.Background()
	h := sha256.Sum256(artifact)
	pe, err := types.NewProposedEntry(ctx, hashedrekord.KIND, "0.0.1", types.ArtifactProperties{
		ArtifactHash:   hex.EncodeToString(h[:]),
		SignatureBytes: sig,
		PublicKeyBytes: [][]byte{pubPEM},
		PKIFormat:      string(pki.X509),
	})
	if err != nil {
		t.Fatal(err)
	}
	impl, err := types.CreateVersionedEntry(pe)
	if err != nil {
		t.Fatal(err)
	}
	body, err := types.CanonicalizeEntry(ctx, impl)
	if err != nil {
		t.Fatal(err)
	}
	logID, err := s.vs.RekorLogID()
	if err != nil {
		t.Fatal(err)
	}
	p := tlog.RekorPayload{LogID: logID, IntegratedTime: time.Now().Add(time.Minute).Unix(), LogIndex: 7, Body: base64.StdEncoding.EncodeToString(body)}
	set, err := s.vs.RekorSignPayload(p)
	if err != nil {
		t.Fatal(err)
	}
	return &cbundle.RekorBundle{SignedEntryTimestamp: set, Payload: cbundle.RekorPayload{
		Body: p.Body, IntegratedTime: p.IntegratedTime, LogIndex: p.LogIndex, LogID: p.LogID,
	}}
}

// PushImage pushes a random image as repo:tag and returns its digest reference.
func PushImage(t testing.TB, host, repo, tag string) name.Digest {
	t.Helper()
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewTag(host+"/"+repo+":"+tag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return ref.Context().Digest(d.String())
}

// cosignPayload is the simple-signing payload cosign signs for an image.
func cosignPayload(t testing.TB, d name.Digest) []byte {
	t.Helper()
	p, err := payload.Cosign{Image: d}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// writeSig appends a simple-signing signature to the image's .sig tag with
// cosign's oci packages, as cosign sign (without --new-bundle-format) does.
func writeSig(t testing.TB, d name.Digest, p, sig []byte, opts ...static.Option) {
	t.Helper()
	s, err := static.NewSignature(p, base64.StdEncoding.EncodeToString(sig), opts...)
	if err != nil {
		t.Fatal(err)
	}
	se, err := ociremote.SignedEntity(d)
	if err != nil {
		t.Fatal(err)
	}
	se, err = mutate.AttachSignatureToEntity(se, s)
	if err != nil {
		t.Fatal(err)
	}
	if err := ociremote.WriteSignatures(d.Repository, se); err != nil {
		t.Fatal(err)
	}
}

// SignSigKey signs image d with a key under its .sig tag, with a log entry
// in s's log unless s is nil.
func SignSigKey(t testing.TB, d name.Digest, kp *sign.EphemeralKeypair, s *Instance) {
	t.Helper()
	p := cosignPayload(t, d)
	sig, _, err := kp.SignData(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	var opts []static.Option
	if s != nil {
		pemKey, err := kp.GetPublicKeyPem()
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, static.WithBundle(s.logEntry(t, p, sig, []byte(pemKey))))
	}
	writeSig(t, d, p, sig, opts...)
}

// SignSigKeyless signs image d keyless under its .sig tag: a certificate
// from s's CA for (subject, issuer), the entry in s's log, a timestamp.
func (s *Instance) SignSigKeyless(t testing.TB, d name.Digest, subject, issuer string) {
	t.Helper()
	p := cosignPayload(t, d)
	cert, priv, err := s.vs.GenerateLeafCert(subject, issuer)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := signature.LoadSigner(priv, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signer.SignMessage(bytes.NewReader(p))
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := cryptoutils.MarshalCertificateToPEM(cert)
	if err != nil {
		t.Fatal(err)
	}
	tsr, err := s.vs.TimestampResponse(sig)
	if err != nil {
		t.Fatal(err)
	}
	writeSig(t, d, p, sig, static.WithCertChain(certPEM, nil), static.WithBundle(s.logEntry(t, p, sig, certPEM)),
		static.WithRFC3161Timestamp(cbundle.TimestampToRFC3161Timestamp(tsr)))
}

// SignPredicate is the predicate type of a cosign image signature bundle.
const SignPredicate = "https://sigstore.dev/cosign/sign/v1"

// statement is the in-toto statement cosign sign --new-bundle-format signs.
func statement(t testing.TB, d name.Digest, predicateType string) []byte {
	t.Helper()
	st, err := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": d.Repository.Name(), "digest": map[string]string{"sha256": d.DigestStr()[len("sha256:"):]}}},
		"predicateType": predicateType,
		"predicate":     map[string]any{},
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// writeBundle attaches a bundle to image d as a referrer, with cosign's
// writer for the new bundle format.
func writeBundle(t testing.TB, d name.Digest, b *protobundle.Bundle, predicateType string) {
	t.Helper()
	data, err := protojson.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := ociremote.WriteAttestationNewBundleFormat(d, data, predicateType); err != nil {
		t.Fatal(err)
	}
}

// SignBundleKey attaches a key-signed bundle (no log entry) for subject to d.
func SignBundleKey(t testing.TB, d, subject name.Digest, kp *sign.EphemeralKeypair, predicateType string) {
	t.Helper()
	b, err := sign.Bundle(&sign.DSSEData{Data: statement(t, subject, predicateType), PayloadType: "application/vnd.in-toto+json"}, kp, sign.BundleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	writeBundle(t, d, b, predicateType)
}

// SignBundleKeyless attaches a keyless bundle for subject to d: the virtual
// Sigstore's certificate, DSSE signature, log entry (with inclusion proof
// and signed entry timestamp) and timestamp.
func (s *Instance) SignBundleKeyless(t testing.TB, d, subject name.Digest, id, issuer string) {
	t.Helper()
	e, err := s.vs.AttestAtTime(id, issuer, statement(t, subject, SignPredicate), time.Now().Add(time.Minute), true)
	if err != nil {
		t.Fatal(err)
	}
	vc, err := e.VerificationContent()
	if err != nil {
		t.Fatal(err)
	}
	sc, err := e.SignatureContent()
	if err != nil {
		t.Fatal(err)
	}
	env := sc.EnvelopeContent().RawEnvelope()
	pl, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := e.TlogEntries()
	if err != nil {
		t.Fatal(err)
	}
	// tlog.Entry keeps its kind and signed entry timestamp to itself: name
	// the kind, and sign the timestamp again.
	tle := entries[0].TransparencyLogEntry()
	tle.KindVersion = &protorekor.KindVersion{Kind: "dsse", Version: "0.0.1"} // what AttestAtTime logs
	logID, _ := s.vs.RekorLogID()
	set, err := s.vs.RekorSignPayload(tlog.RekorPayload{LogID: logID, IntegratedTime: tle.IntegratedTime, LogIndex: tle.LogIndex,
		Body: base64.StdEncoding.EncodeToString(tle.CanonicalizedBody)})
	if err != nil {
		t.Fatal(err)
	}
	tle.InclusionPromise = &protorekor.InclusionPromise{SignedEntryTimestamp: set}
	tss, err := e.Timestamps()
	if err != nil {
		t.Fatal(err)
	}
	b := &protobundle.Bundle{
		MediaType: "application/vnd.dev.sigstore.bundle.v0.3+json",
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content:     &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: vc.Certificate().Raw}},
			TlogEntries: []*protorekor.TransparencyLogEntry{tle},
			TimestampVerificationData: &protobundle.TimestampVerificationData{
				Rfc3161Timestamps: []*protocommon.RFC3161SignedTimestamp{{SignedTimestamp: tss[0]}},
			},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload: pl, PayloadType: env.PayloadType,
			Signatures: []*protodsse.Signature{{Sig: mustB64(t, env.Signatures[0].Sig)}},
		}},
	}
	writeBundle(t, d, b, SignPredicate)
}

func mustB64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func NewKey(t testing.TB) (*sign.EphemeralKeypair, []byte) {
	t.Helper()
	kp, err := sign.NewEphemeralKeypair(nil)
	if err != nil {
		t.Fatal(err)
	}
	pemKey, err := kp.GetPublicKeyPem()
	if err != nil {
		t.Fatal(err)
	}
	return kp, []byte(pemKey)
}

// CopySig copies the .sig manifest of one image to another's .sig tag, as
// someone who can push but not sign would.
func CopySig(t testing.TB, from, to name.Digest) {
	t.Helper()
	src := from.Repository.Tag(strings.Replace(from.DigestStr(), ":", "-", 1) + ".sig")
	desc, err := remote.Get(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := to.Repository.Tag(strings.Replace(to.DigestStr(), ":", "-", 1) + ".sig")
	if err := remote.Put(dst, desc); err != nil {
		t.Fatal(err)
	}
}
