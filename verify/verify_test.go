package verify

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ferrygitops/ferry/internal/testenv/distribution"
	"github.com/ferrygitops/ferry/internal/testenv/ociregistry"
	testsig "github.com/ferrygitops/ferry/internal/testenv/sigstore"
	"github.com/ferrygitops/ferry/registry"
)

// registryKind is a real registry the tests run against, and what a
// referrers lookup costs on it.
type registryKind struct {
	name      string
	start     func(t *testing.T) string // returns host:port
	referrers int64                     // requests of one referrers lookup
}

var registries = []registryKind{
	{"ggcr", func(t *testing.T) string {
		s := ociregistry.New(ociregistry.WithReferrers())
		t.Cleanup(s.Close)
		return s.Host
	}, 1},
	// distribution 2.8 has no referrers API: the lookup is a 404, then
	// the referrers tag.
	{"docker-registry", func(t *testing.T) string { return distribution.Start(t).Host }, 2},
}

// counted is a Client whose requests the registry transport counts.
type counted struct {
	*Client
	reg *registry.Client
}

func newCounted(t testing.TB, cache *Cache) counted {
	t.Helper()
	return newCountedWith(t, cache, registry.Options{})
}

func newCountedWith(t testing.TB, cache *Cache, opts registry.Options) counted {
	t.Helper()
	reg := registry.New(opts)
	c, err := NewClient(Options{Remote: reg.RemoteOptions(), Insecure: reg.IsInsecure, Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	return counted{c, reg}
}

func (c counted) requests() int64 { return c.reg.Stats().Total().Requests }

// verifyCounting verifies and returns the requests it made.
func (c counted) verifyCounting(t testing.TB, v *Verifier, d name.Digest, tag, digest string) (Result, int64) {
	t.Helper()
	before := c.requests()
	r := c.Verify(context.Background(), v, d.Repository.Name(), tag, digest)
	return r, c.requests() - before
}

func mustVerifier(t testing.TB, s Settings) *Verifier {
	t.Helper()
	v, err := NewVerifier(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVerify(t *testing.T) {
	const (
		issuer  = "https://token.actions.example"
		subject = "release@acme.example"
	)
	for _, rk := range registries {
		t.Run(rk.name, func(t *testing.T) {
			host := rk.start(t)
			ss := newSigstore(t)
			other := newSigstore(t)
			kp, key := newKey(t)
			kp2, key2 := newKey(t)
			R := rk.referrers

			keyOnly := Settings{Keys: []Key{key}, TrustedRoot: ss.root(t)}
			keyNoTlog := Settings{Keys: []Key{key}, TrustedRoot: ss.root(t), IgnoreTlog: true}
			keyless := func(ids ...Identity) Settings { return Settings{Identities: ids, TrustedRoot: ss.root(t)} }
			exact := Identity{Issuer: issuer, Subject: subject}

			type want struct {
				verified bool
				reason   Reason
				scheme   string
				signer   string // substring of Signer (verified) or Detail
				requests int64  // after the first request (the ping)
			}
			cases := []struct {
				name     string
				settings Settings
				setup    func(t *testing.T, repo string) name.Digest
				want     want
			}{
				{"key, .sig only", keyOnly, func(t *testing.T, repo string) name.Digest {
					d := pushImage(t, host, repo, "v1")
					signSigKey(t, d, kp, ss)
					return d
				}, want{verified: true, scheme: SchemeSigTag, signer: "key " + key.Source, requests: 3 + R}},

				{"key, referrer only, log entry not required", keyNoTlog, func(t *testing.T, repo string) name.Digest {
					d := pushImage(t, host, repo, "v1")
					signBundleKey(t, d, d, kp, SignPredicate)
					return d
				}, want{verified: true, scheme: SchemeReferrer, signer: "key " + key.Source, requests: 3 + R}},

				{"key, referrer without log entry, log required", keyOnly, func(t *testing.T, repo string) name.Digest {
					d := pushImage(t, host, repo, "v1")
					signBundleKey(t, d, d, kp, SignPredicate)
					return d
				}, want{reason: TlogMissing, signer: "signed with key " + key.Source, requests: 4 + R}},

				{"key, .sig without log entry, log required", keyOnly, func(t *testing.T, repo string) name.Digest {
					d := pushImage(t, host, repo, "v1")
					signSigKey(t, d, kp, nil)
					return d
				}, want{reason: TlogMissing, requests: 3 + R}},

				{"wrong key", keyOnly, func(t *testing.T, repo string) name.Digest {
					d := pushImage(t, host, repo, "v1")
					signSigKey(t, d, kp2, ss)
					return d
				}, want{reason: WrongKey, signer: "none of the policy's 1 key", requests: 3 + R}},

				{"any key may match", Settings{Keys: []Key{key2, key}, TrustedRoot: ss.root(t)}, func(t *testing.T, repo string) name.Digest {
					d := pushImage(t, host, repo, "v1")
					signSigKey(t, d, kp, ss)
					return d
				}, want{verified: true, scheme: SchemeSigTag, signer: "key " + key.Source, requests: 3 + R}},

				{"right key, tampered image (.sig copied to another digest)", keyOnly, func(t *testing.T, repo string) name.Digest {
					signed := pushImage(t, host, repo, "v1")
					signSigKey(t, signed, kp, ss)
					other := pushImage(t, host, repo, "v1") // the tag now names other content
					testsig.CopySig(t, signed, other)
					return other
				}, want{reason: DigestMismatch, signer: "for " + "sha256:", requests: 3 + R}},

				{"right key, tampered image (bundle of another digest)", keyNoTlog, func(t *testing.T, repo string) name.Digest {
					signed := pushImage(t, host, repo, "v0")
					other := pushImage(t, host, repo, "v1")
					signBundleKey(t, other, signed, kp, SignPredicate)
					return other
				}, want{reason: DigestMismatch, signer: "for sha256:", requests: 4 + R}},

				{"unsigned", keyOnly, func(t *testing.T, repo string) name.Digest {
					return pushImage(t, host, repo, "v1")
				}, want{reason: Unsigned, signer: "no signature", requests: 2 + R}},

				{"attestation only is not a signature", keyNoTlog, func(t *testing.T, repo string) name.Digest {
					d := pushImage(t, host, repo, "v1")
					signBundleKey(t, d, d, kp, "https://slsa.dev/provenance/v1")
					return d
				}, want{reason: Unsigned, signer: "1 attestation bundle(s) ignored", requests: 2 + R}},

				{"keyless .sig, exact identity", keyless(exact), func(t *testing.T, repo string) name.Digest {
					d := pushImage(t, host, repo, "v1")
					signSigKeyless(t, d, ss, subject, issuer)
					return d
				}, want{verified: true, scheme: SchemeSigTag, signer: "keyless " + subject + " (issuer " + issuer + ")", requests: 3 + R}},

				{"keyless .sig, regular expressions", keyless(Identity{IssuerRegExp: `https://token\.actions\..*`, SubjectRegExp: `.*@acme\.example`}), func(t *testing.T, repo string) name.Digest {
					d := pushImage(t, host, repo, "v1")
					signSigKeyless(t, d, ss, subject, issuer)
					return d
				}, want{verified: true, scheme: SchemeSigTag, signer: "keyless " + subject, requests: 3 + R}},

				{"keyless, wrong exact identity", keyless(Identity{Issuer: issuer, Subject: "intruder@acme.example"}), func(t *testing.T, repo string) name.Digest {
					d := pushImage(t, host, repo, "v1")
					signSigKeyless(t, d, ss, subject, issuer)
					return d
				}, want{reason: IdentityMismatch, signer: "signed by " + subject, requests: 3 + R}},

				{"keyless, wrong issuer", keyless(Identity{Issuer: "https://accounts.example", Subject: subject}), func(t *testing.T, repo string) name.Digest {
					d := pushImage(t, host, repo, "v1")
					signSigKeyless(t, d, ss, subject, issuer)
					return d
				}, want{reason: IdentityMismatch, requests: 3 + R}},

				{"keyless, a regular expression matches whole values only", keyless(Identity{Issuer: issuer, SubjectRegExp: `acme\.example`}), func(t *testing.T, repo string) name.Digest {
					d := pushImage(t, host, repo, "v1")
					signSigKeyless(t, d, ss, subject, issuer)
					return d
				}, want{reason: IdentityMismatch, requests: 3 + R}},

				{"keyless referrer, exact identity", keyless(exact), func(t *testing.T, repo string) name.Digest {
					d := pushImage(t, host, repo, "v1")
					signBundleKeyless(t, d, d, ss, subject, issuer)
					return d
				}, want{verified: true, scheme: SchemeReferrer, signer: "keyless " + subject, requests: 3 + R}},

				{"keyless referrer, wrong identity", keyless(Identity{Issuer: issuer, SubjectRegExp: `.*@evil\.example`}), func(t *testing.T, repo string) name.Digest {
					d := pushImage(t, host, repo, "v1")
					signBundleKeyless(t, d, d, ss, subject, issuer)
					return d
				}, want{reason: IdentityMismatch, requests: 4 + R}},

				{"keyless, another Sigstore's signature", keyless(exact), func(t *testing.T, repo string) name.Digest {
					d := pushImage(t, host, repo, "v1")
					signSigKeyless(t, d, other, subject, issuer)
					return d
				}, want{reason: TlogMissing, requests: 3 + R}},

				{"keyless signature, policy trusts only keys", keyOnly, func(t *testing.T, repo string) name.Digest {
					d := pushImage(t, host, repo, "v1")
					signSigKeyless(t, d, ss, subject, issuer)
					return d
				}, want{reason: IdentityMismatch, signer: "accepts only its keys", requests: 3 + R}},

				{"referrer tried first, then .sig", keyOnly, func(t *testing.T, repo string) name.Digest {
					d := pushImage(t, host, repo, "v1")
					signBundleKey(t, d, d, kp2, SignPredicate) // a bundle by another key
					signSigKey(t, d, kp, ss)
					return d
				}, want{verified: true, scheme: SchemeSigTag, requests: 5 + R}},
			}
			for i, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					repo := "team/app" + string(rune('a'+i))
					d := tc.setup(t, repo)
					c := newCounted(t, nil)
					v := mustVerifier(t, tc.settings)
					// The first request to a repository pings the registry.
					r, n := c.verifyCounting(t, v, d, "v1", "")
					if r.Err != nil {
						t.Fatalf("Verify: %v", r.Err)
					}
					if r.Digest != d.DigestStr() {
						t.Errorf("digest %s, want %s", r.Digest, d.DigestStr())
					}
					if r.Verified != tc.want.verified || r.Reason != tc.want.reason || r.Scheme != tc.want.scheme {
						t.Fatalf("got verified=%v reason=%q scheme=%q (%s%s), want verified=%v reason=%q scheme=%q",
							r.Verified, r.Reason, r.Scheme, r.Signer, r.Detail, tc.want.verified, tc.want.reason, tc.want.scheme)
					}
					if got := r.Signer + r.Detail; !strings.Contains(got, tc.want.signer) {
						t.Errorf("signer/detail %q, want it to contain %q", got, tc.want.signer)
					}
					if n != tc.want.requests+1 {
						t.Errorf("%d registry requests, want %d (and the ping)", n, tc.want.requests)
					}
				})
			}
		})
	}
}

func TestVerifyCache(t *testing.T) {
	s := ociregistry.New(ociregistry.WithReferrers())
	defer s.Close()
	ss := newSigstore(t)
	kp, key := newKey(t)
	d := pushImage(t, s.Host, "team/app", "v1")
	signSigKey(t, d, kp, ss)
	unsigned := pushImage(t, s.Host, "team/app", "v2")

	cache := NewCache(0)
	c := newCounted(t, cache)
	v := mustVerifier(t, Settings{Keys: []Key{key}, TrustedRoot: ss.root(t)})
	if r, _ := c.verifyCounting(t, v, d, "v1", ""); !r.Verified || r.Cached {
		t.Fatalf("first check: %+v", r)
	}
	r, n := c.verifyCounting(t, v, d, "v1", "")
	if !r.Verified || !r.Cached || n != 1 {
		t.Errorf("by tag again: verified=%v cached=%v, %d requests; want a cached verdict for the manifest HEAD alone", r.Verified, r.Cached, n)
	}
	r, n = c.verifyCounting(t, v, d, "v1", d.DigestStr())
	if !r.Verified || !r.Cached || n != 0 {
		t.Errorf("by known digest again: verified=%v cached=%v, %d requests; want a cached verdict and no request", r.Verified, r.Cached, n)
	}
	// Other settings are another key: no cached verdict for them.
	_, key2 := newKey(t)
	v2 := mustVerifier(t, Settings{Keys: []Key{key2}, TrustedRoot: ss.root(t)})
	if r, n := c.verifyCounting(t, v2, d, "v1", d.DigestStr()); r.Verified || r.Cached || n == 0 {
		t.Errorf("other settings: verified=%v cached=%v after %d requests", r.Verified, r.Cached, n)
	}
	// Failures are not remembered: a signature may come later.
	if r, _ := c.verifyCounting(t, v, unsigned, "v2", ""); r.Verified {
		t.Fatal("unsigned image verified")
	}
	signSigKey(t, unsigned, kp, ss)
	if r, _ := c.verifyCounting(t, v, unsigned, "v2", ""); !r.Verified || r.Cached {
		t.Errorf("signed later: %+v", r)
	}
	if cache.Len() != 2 {
		t.Errorf("cache holds %d verdicts, want 2", cache.Len())
	}
}

func TestVerifyRegistryError(t *testing.T) {
	s := ociregistry.New()
	defer s.Close()
	_, key := newKey(t)
	c := newCounted(t, nil)
	v := mustVerifier(t, Settings{Keys: []Key{key}})
	r := c.Verify(context.Background(), v, s.Host+"/team/none", "v1", "")
	if r.Err == nil || r.Verified || r.Reason != "" {
		t.Fatalf("missing tag: %+v, want an error and no verdict", r)
	}
	if !strings.Contains(r.Err.Error(), "resolving the digest of "+s.Host+"/team/none:v1") {
		t.Errorf("error %q", r.Err)
	}
}

func TestNewVerifierRejects(t *testing.T) {
	_, key := newKey(t)
	cases := []struct {
		name string
		s    Settings
		want string
	}{
		{"nothing", Settings{}, "no key and no keyless identity"},
		{"not a key", Settings{Keys: []Key{{PEM: []byte("hello"), Source: "file k.pub"}}}, "reading the public key from file k.pub"},
		{"ignore tlog without keys", Settings{Identities: []Identity{{Issuer: "i", Subject: "s"}}, IgnoreTlog: true}, "applies to keys only"},
		{"identity without subject", Settings{Identities: []Identity{{Issuer: "i"}}}, "identity 1: set exactly one of subject and subjectRegExp"},
		{"identity with both", Settings{Identities: []Identity{{Issuer: "i", IssuerRegExp: "i", Subject: "s"}}}, "set exactly one of issuer and issuerRegExp"},
		{"bad expression", Settings{Identities: []Identity{{Issuer: "i", SubjectRegExp: "("}}}, "subjectRegExp: error parsing regexp"},
		{"bad root", Settings{Keys: []Key{key}, TrustedRoot: &TrustedRoot{JSON: []byte("{}"), Source: "file root.json"}}, "reading the trusted root from file root.json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewVerifier(tc.s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestSettingsHash(t *testing.T) {
	_, k1 := newKey(t)
	_, k2 := newKey(t)
	a := mustVerifier(t, Settings{Keys: []Key{k1}})
	b := mustVerifier(t, Settings{Keys: []Key{{PEM: k1.PEM, Source: "elsewhere"}}})
	c := mustVerifier(t, Settings{Keys: []Key{k2}})
	d := mustVerifier(t, Settings{Keys: []Key{k1}, IgnoreTlog: true})
	if a.Hash() != b.Hash() {
		t.Error("the same key from another source hashes differently")
	}
	if a.Hash() == c.Hash() || a.Hash() == d.Hash() {
		t.Error("different settings hash the same")
	}
}

func TestEmbeddedRoot(t *testing.T) {
	// The embedded public root parses and names CT logs, so keyless
	// signatures need SCTs against it.
	v := mustVerifier(t, Settings{Identities: []Identity{{Issuer: "https://token.actions.githubusercontent.com", SubjectRegExp: `https://github\.com/acme/.*`}}})
	if v.rootSource != PublicGoodRootSource || v.keyless == nil {
		t.Fatalf("root %q", v.rootSource)
	}
}
