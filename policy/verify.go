package policy

// spec.verify: the signatures a candidate needs before Ferry bumps to it.
// dotferry reads it (strictly, like the rest of the document); reading the
// keys and the trusted root, and verifying, happen at scan time (bot,
// package verify).

import "github.com/ferrygitops/ferry/document"

// Verify is a validated spec.verify.
type Verify struct {
	Keys        []Material // cosign public keys (PEM)
	Keyless     []Identity
	TrustedRoot *Material // nil: the public Sigstore instance's
	// InsecureIgnoreTlog accepts key signatures without a transparency-log
	// entry (cosign sign --tlog-upload=false).
	InsecureIgnoreTlog bool
	Source             document.Source // where spec.verify is
}

// Material is a file Ferry reads: exactly one of File (relative to the
// manifest repository's root), Path (absolute, on the machine Ferry runs on,
// such as a mounted Secret) or Secret (read through the Kubernetes API).
type Material struct {
	File   string          `json:"file,omitempty"`
	Path   string          `json:"path,omitempty"`
	Secret *SecretRef      `json:"secret,omitempty"`
	Field  string          `json:"-"` // e.g. "spec.verify.keys[0]", for errors
	Source document.Source `json:"-"`
}

// SecretRef names one data key of a Kubernetes Secret.
type SecretRef struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Key       string `json:"key"`
}

// Identity is a keyless signer: exactly one of Issuer and IssuerRegExp, and
// one of Subject and SubjectRegExp; an expression must match the whole value.
type Identity struct {
	Issuer        string `json:"issuer,omitempty"`
	IssuerRegExp  string `json:"issuerRegExp,omitempty"`
	Subject       string `json:"subject,omitempty"`
	SubjectRegExp string `json:"subjectRegExp,omitempty"`
}
