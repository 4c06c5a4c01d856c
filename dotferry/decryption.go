package dotferry

import (
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/ferrygitops/ferry/document"
)

// DecryptionSOPS is the only decryption provider.
const DecryptionSOPS = "sops"

// Decryption is an App's spec.decryption, as Flux's Kustomization has it:
//
//	decryption:
//	  provider: sops
//	  secretRef:
//	    name: sops-age
//
// The Secret, in the app's inventory namespace (Ferry's own), holds age
// identities in its keys ending in ".agekey"; they are used beside the
// keys Ferry is configured with (an age key file, AWS KMS).
type Decryption struct {
	Provider  string     `json:"provider"`
	SecretRef *SecretRef `json:"secretRef,omitempty"`
}

// SecretRef names a Secret.
type SecretRef struct {
	Name string `json:"name"`
}

func appDecryption(d *document.Doc, f document.Field) *Decryption {
	const p = "spec.decryption"
	if document.IsNull(f.Val) {
		return nil
	}
	fs := d.Fields(f.Val, p, "provider", "secretRef")
	out := &Decryption{Provider: DecryptionSOPS}
	if pf := fs["provider"]; pf.Present() {
		if v, ok := d.Str(pf, p+".provider"); ok && v != DecryptionSOPS {
			d.Errorf(pf.Val, p+".provider", "unknown provider %q: want sops", v)
		}
	}
	if sf, ok := fs["secretRef"]; ok && !document.IsNull(sf.Val) {
		ref := d.Fields(sf.Val, p+".secretRef", "name")
		nf, ok := ref["name"]
		if !ok {
			d.Missing(sf.Val, p+".secretRef.name")
			return out
		}
		name, _ := d.Str(nf, p+".secretRef.name")
		if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
			d.Errorf(nf.Val, p+".secretRef.name", "invalid Secret name %q", name)
		}
		out.SecretRef = &SecretRef{Name: name}
	}
	return out
}
