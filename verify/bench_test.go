package verify

import (
	"context"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ferrygitops/ferry/internal/testenv/ociregistry"
	"github.com/ferrygitops/ferry/registry"
)

// BenchmarkVerifyCandidate measures one candidate's verification against
// the in-process registry (with the referrers API), reporting the registry
// requests it makes (requests/op) through Ferry's counting transport, with
// its rate limit lifted; the authentication handshake is made before the
// timer starts.
//
//	go test -run '^$' -bench VerifyCandidate -benchtime 200x ./verify/
func BenchmarkVerifyCandidate(b *testing.B) {
	s := ociregistry.New(ociregistry.WithReferrers())
	defer s.Close()
	ss := newSigstore(b)
	kp, key := newKey(b)
	const subject, issuer = "release@acme.example", "https://token.actions.example"

	sigKey := pushImage(b, s.Host, "bench/app", "sig-key")
	signSigKey(b, sigKey, kp, ss)
	bundleKey := pushImage(b, s.Host, "bench/app", "bundle-key")
	signBundleKey(b, bundleKey, bundleKey, kp, SignPredicate)
	sigKeyless := pushImage(b, s.Host, "bench/app", "sig-keyless")
	signSigKeyless(b, sigKeyless, ss, subject, issuer)
	bundleKeyless := pushImage(b, s.Host, "bench/app", "bundle-keyless")
	signBundleKeyless(b, bundleKeyless, bundleKeyless, ss, subject, issuer)
	unsigned := pushImage(b, s.Host, "bench/app", "unsigned")

	keys := mustVerifier(b, Settings{Keys: []Key{key}, TrustedRoot: ss.root(b), IgnoreTlog: false})
	keysNoTlog := mustVerifier(b, Settings{Keys: []Key{key}, TrustedRoot: ss.root(b), IgnoreTlog: true})
	keyless := mustVerifier(b, Settings{Identities: []Identity{{Issuer: issuer, Subject: subject}}, TrustedRoot: ss.root(b)})

	for _, bc := range []struct {
		name        string
		v           *Verifier
		d           name.Digest
		tag         string
		knownDigest bool
		cache       bool
		verified    bool
	}{
		{"sig-tag/key", keys, sigKey, "sig-key", false, false, true},
		{"referrer/key", keysNoTlog, bundleKey, "bundle-key", false, false, true},
		{"sig-tag/keyless", keyless, sigKeyless, "sig-keyless", false, false, true},
		{"referrer/keyless", keyless, bundleKeyless, "bundle-keyless", false, false, true},
		{"unsigned", keys, unsigned, "unsigned", false, false, false},
		{"cached/tag", keys, sigKey, "sig-key", false, true, true},
		{"cached/digest-known", keys, sigKey, "sig-key", true, true, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var cache *Cache
			if bc.cache {
				cache = NewCache(0)
			}
			// No rate limit: the benchmark measures the work, not the limiter.
			c := newCountedWith(b, cache, registry.Options{Limits: registry.Limits{RatePerSecond: 1e9, Burst: 1 << 20}})
			digest := ""
			if bc.knownDigest {
				digest = bc.d.DigestStr()
			}
			ctx := context.Background()
			// Warm: the registry handshake, and the cache when asked.
			if r := c.Verify(ctx, bc.v, bc.d.Repository.Name(), bc.tag, digest); r.Verified != bc.verified || r.Err != nil {
				b.Fatalf("%+v", r)
			}
			before := c.requests()
			b.ResetTimer()
			for range b.N {
				if r := c.Verify(ctx, bc.v, bc.d.Repository.Name(), bc.tag, digest); r.Verified != bc.verified {
					b.Fatalf("%+v", r)
				}
			}
			b.ReportMetric(float64(c.requests()-before)/float64(b.N), "requests/op")
		})
	}
}
