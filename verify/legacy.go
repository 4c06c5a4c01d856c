package verify

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-openapi/runtime"
	"github.com/sigstore/cosign/v2/pkg/oci"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/rekor/pkg/types"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// bundleV01 is the media type of the bundles built from .sig layers: v0.1
// is the version whose log entries carry an inclusion promise (the signed
// entry timestamp cosign stores) rather than an inclusion proof.
const bundleV01 = "application/vnd.dev.sigstore.bundle+json;version=0.1"

// legacyBundle turns one cosign simple-signing layer (read by cosign's own
// oci.Signature: the signature, certificate, Rekor bundle and RFC 3161
// timestamp annotations) and its payload into a Sigstore bundle, so that
// sigstore-go verifies it like any other: the signature over the payload,
// the certificate chain and identity, and the log entry's signed timestamp.
func legacyBundle(sig oci.Signature, payloadBytes []byte) (*bundle.Bundle, error) {
	rawSig, err := sig.Signature()
	if err != nil {
		return nil, err
	}
	cert, err := sig.Cert()
	if err != nil {
		return nil, fmt.Errorf("reading the certificate annotation: %w", err)
	}
	material := &protobundle.VerificationMaterial{}
	if cert != nil {
		material.Content = &protobundle.VerificationMaterial_X509CertificateChain{
			X509CertificateChain: &protocommon.X509CertificateChain{
				Certificates: []*protocommon.X509Certificate{{RawBytes: cert.Raw}},
			},
		}
	} else {
		// The key is the policy's: each key verifier answers for any hint.
		material.Content = &protobundle.VerificationMaterial_PublicKey{PublicKey: &protocommon.PublicKeyIdentifier{}}
	}
	rb, err := sig.Bundle()
	if err != nil {
		return nil, fmt.Errorf("reading the Rekor bundle annotation: %w", err)
	}
	if rb != nil {
		tle, err := logEntry(rb.SignedEntryTimestamp, rb.Payload.Body, rb.Payload.IntegratedTime, rb.Payload.LogIndex, rb.Payload.LogID)
		if err != nil {
			return nil, fmt.Errorf("reading the Rekor bundle annotation: %w", err)
		}
		material.TlogEntries = []*protorekor.TransparencyLogEntry{tle}
	}
	ts, err := sig.RFC3161Timestamp()
	if err != nil {
		return nil, fmt.Errorf("reading the RFC 3161 timestamp annotation: %w", err)
	}
	if ts != nil && len(ts.SignedRFC3161Timestamp) > 0 {
		material.TimestampVerificationData = &protobundle.TimestampVerificationData{
			Rfc3161Timestamps: []*protocommon.RFC3161SignedTimestamp{{SignedTimestamp: ts.SignedRFC3161Timestamp}},
		}
	}
	digest := sha256.Sum256(payloadBytes)
	return bundle.NewBundle(&protobundle.Bundle{
		MediaType:            bundleV01,
		VerificationMaterial: material,
		Content: &protobundle.Bundle_MessageSignature{MessageSignature: &protocommon.MessageSignature{
			MessageDigest: &protocommon.HashOutput{Algorithm: protocommon.HashAlgorithm_SHA2_256, Digest: digest[:]},
			Signature:     rawSig,
		}},
	})
}

// logEntry builds the transparency-log entry of cosign's Rekor bundle
// annotation; rekor's own types parse the entry body for its kind and
// version.
func logEntry(set []byte, body any, integratedTime, logIndex int64, logID string) (*protorekor.TransparencyLogEntry, error) {
	b64, ok := body.(string)
	if !ok {
		return nil, errors.New("the entry body is not a string")
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("decoding the entry body: %w", err)
	}
	pe, err := models.UnmarshalProposedEntry(bytes.NewReader(raw), runtime.JSONConsumer())
	if err != nil {
		return nil, fmt.Errorf("parsing the entry body: %w", err)
	}
	impl, err := types.UnmarshalEntry(pe)
	if err != nil {
		return nil, fmt.Errorf("parsing the entry body: %w", err)
	}
	id, err := hex.DecodeString(logID)
	if err != nil {
		return nil, fmt.Errorf("decoding the log ID: %w", err)
	}
	return &protorekor.TransparencyLogEntry{
		LogIndex:          logIndex,
		LogId:             &protocommon.LogId{KeyId: id},
		KindVersion:       &protorekor.KindVersion{Kind: pe.Kind(), Version: impl.APIVersion()},
		IntegratedTime:    integratedTime,
		InclusionPromise:  &protorekor.InclusionPromise{SignedEntryTimestamp: set},
		CanonicalizedBody: raw,
	}, nil
}

// payloadDigest reads the image digest a simple-signing payload names, in
// sigstore's payload format, checking that it is a cosign image signature.
func payloadDigest(p []byte) (string, error) {
	var sci payload.SimpleContainerImage
	if err := json.Unmarshal(p, &sci); err != nil {
		return "", fmt.Errorf("parsing the simple-signing payload: %w", err)
	}
	if sci.Critical.Type != payload.CosignSignatureType {
		return "", fmt.Errorf("the payload's type is %q, not %q", sci.Critical.Type, payload.CosignSignatureType)
	}
	return sci.Critical.Image.DockerManifestDigest, nil
}
