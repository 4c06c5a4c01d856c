package verify

// Reason says why a candidate is not verified.
type Reason string

// The reasons, from the least to the most specific: when several signatures
// fail, the result reports the most specific one.
const (
	// Unsigned: neither the referrers nor the .sig tag hold an image
	// signature for the digest (attestations do not count).
	Unsigned Reason = "unsigned"
	// Invalid: a signature or bundle that does not parse, or whose
	// signature does not match its own certificate.
	Invalid Reason = "invalid"
	// Untrusted: a certificate not issued by the trusted root's CAs, or
	// without a trusted timestamp or SCT.
	Untrusted Reason = "untrusted"
	// WrongKey: signed, but with no key the policy names (or with a key
	// while the policy only accepts keyless identities).
	WrongKey Reason = "wrong-key"
	// TlogMissing: a valid signature without a verifiable entry in a
	// transparency log the trusted root names.
	TlogMissing Reason = "tlog-missing"
	// IdentityMismatch: a valid keyless signature by an identity the policy
	// does not accept.
	IdentityMismatch Reason = "identity-mismatch"
	// DigestMismatch: a valid signature by an accepted signer, but for
	// another image: the candidate's content is not what was signed.
	DigestMismatch Reason = "digest-mismatch"
)

// rank orders reasons by how much they tell.
var rank = map[Reason]int{Unsigned: 0, Invalid: 1, Untrusted: 2, WrongKey: 3, TlogMissing: 4, IdentityMismatch: 5, DigestMismatch: 6}

// The places a signature is found.
const (
	SchemeReferrer = "referrer" // a Sigstore bundle attached through the OCI 1.1 referrers API (or its tag fallback)
	SchemeSigTag   = "sig-tag"  // cosign's simple signing under the tag sha256-<hex>.sig
)

// Result is the verdict on one candidate image.
type Result struct {
	Repository string `json:"repository"`
	Tag        string `json:"tag,omitempty"`
	Digest     string `json:"digest,omitempty"`
	Verified   bool   `json:"verified"`
	// Signer names what accepted the signature: "key <source>" or
	// "keyless <subject> (issuer <issuer>)".
	Signer string `json:"signer,omitempty"`
	Scheme string `json:"scheme,omitempty"`
	// Reason and Detail say why the candidate is not verified.
	Reason Reason `json:"reason,omitempty"`
	Detail string `json:"detail,omitempty"`
	// Cached: the verdict came from the cache, without a signature lookup.
	Cached bool `json:"cached,omitempty"`
	// Err is a failure to look (a registry error): no verdict was reached.
	Err error `json:"-"`
}

// outcome is the verdict on one signature.
type outcome struct {
	ok     bool
	signer string
	reason Reason
	detail string
}

// worse keeps the more specific of two failures.
func worse(a, b outcome) outcome {
	if rank[b.reason] > rank[a.reason] {
		return b
	}
	return a
}
