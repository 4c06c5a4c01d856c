package verify

// The tests sign with internal/testenv/sigstore (sigstore-go's signer and
// virtual Sigstore, cosign's writers); these adapters give its keys and
// trusted roots the shapes Settings takes.

import (
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/sigstore-go/pkg/sign"

	testsig "github.com/ferrygitops/ferry/internal/testenv/sigstore"
)

type sigstore struct{ *testsig.Instance }

func newSigstore(t testing.TB) *sigstore { return &sigstore{testsig.New(t)} }

func (s *sigstore) root(t testing.TB) *TrustedRoot {
	return &TrustedRoot{JSON: s.RootJSON(t), Source: "file " + s.RootFile}
}

func newKey(t testing.TB) (*sign.EphemeralKeypair, Key) {
	kp, pem := testsig.NewKey(t)
	return kp, Key{PEM: pem, Source: "test key " + string(kp.GetHint()[:8])}
}

var pushImage = testsig.PushImage

func signSigKey(t testing.TB, d name.Digest, kp *sign.EphemeralKeypair, s *sigstore) {
	var inst *testsig.Instance
	if s != nil {
		inst = s.Instance
	}
	testsig.SignSigKey(t, d, kp, inst)
}

func signSigKeyless(t testing.TB, d name.Digest, s *sigstore, subject, issuer string) {
	s.SignSigKeyless(t, d, subject, issuer)
}

var signBundleKey = testsig.SignBundleKey

func signBundleKeyless(t testing.TB, d, subject name.Digest, s *sigstore, id, issuer string) {
	s.SignBundleKeyless(t, d, subject, id, issuer)
}
