package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/sigstore/cosign/v2/pkg/oci"
	"github.com/sigstore/cosign/v2/pkg/oci/signature"
	"github.com/sigstore/sigstore-go/pkg/bundle"
)

// Media types and annotations of the two signature schemes.
const (
	bundleArtifactPrefix = "application/vnd.dev.sigstore.bundle" // artifactType of referrers holding a bundle (v0.3: ".v0.3+json")
	predicateAnnotation  = "dev.sigstore.bundle.predicateType"
	emptyArtifact        = "application/vnd.oci.empty.v1+json"
	// SignPredicate is the in-toto predicate type of a cosign image
	// signature in a bundle (cosign sign --new-bundle-format). Bundles with
	// other predicates (SLSA provenance, SBOMs) are attestations, not
	// signatures, and are ignored.
	SignPredicate   = "https://sigstore.dev/cosign/sign/v1"
	simpleSigningMT = "application/vnd.dev.cosign.simplesigning.v1+json"
)

// Limits on what one candidate may cost.
const (
	// MaxSignatures is the most signatures examined per scheme: a .sig
	// manifest or referrers list with more is read only that far.
	MaxSignatures = 8
	maxBundleSize = 4 << 20
	maxPayload    = 1 << 20
)

// Options configure a Client.
type Options struct {
	// Remote are the go-containerregistry options for every registry call:
	// the transport (Ferry's registry.Transport, which limits, retries and
	// counts), credentials. remote.WithContext is set per call.
	Remote []remote.Option
	// Insecure reports hosts spoken to over plain HTTP.
	Insecure func(host string) bool
	// Cache remembers verified digests; nil means no caching.
	Cache *Cache
}

// Client finds and verifies the signatures of images in registries. It
// shares one authenticated session per repository between calls. It is safe
// for concurrent use.
type Client struct {
	puller   *remote.Puller
	insecure func(string) bool
	cache    *Cache
}

// NewClient returns a Client.
func NewClient(opts Options) (*Client, error) {
	p, err := remote.NewPuller(opts.Remote...)
	if err != nil {
		return nil, fmt.Errorf("preparing registry access for signatures: %w", err)
	}
	return &Client{puller: p, insecure: opts.Insecure, cache: opts.Cache}, nil
}

// Verify checks the image repository:tag against v. digest, when the
// listing already gave it, saves the manifest request. It makes at most: one
// manifest HEAD (only without digest); one referrers request (two on a
// registry without the referrers API, whose tag fallback is read) and, per
// bundle examined, its manifest and blob; one .sig manifest request, only
// when no bundle verified, and per simple-signing layer examined, its
// payload blob. A digest verified before under the same settings costs
// nothing but the manifest HEAD.
//
// A registry failure is Result.Err, not a verdict.
func (c *Client) Verify(ctx context.Context, v *Verifier, repository, tag, digest string) Result {
	res := Result{Repository: repository, Tag: tag, Digest: digest}
	var nopts []name.Option
	if c.insecure != nil && c.insecure(hostOf(repository)) {
		nopts = append(nopts, name.Insecure)
	}
	repo, err := name.NewRepository(repository, nopts...)
	if err != nil {
		res.Err = fmt.Errorf("verifying %s: %w", repository, err)
		return res
	}
	if res.Digest == "" {
		desc, err := c.puller.Head(ctx, repo.Tag(tag))
		if err != nil {
			res.Err = fmt.Errorf("resolving the digest of %s:%s: %w", repository, tag, err)
			return res
		}
		res.Digest = desc.Digest.String()
	}
	h, err := v1.NewHash(res.Digest)
	if err != nil || h.Algorithm != "sha256" {
		res.Reason, res.Detail = Invalid, fmt.Sprintf("digest %q is not a sha256 digest", res.Digest)
		return res
	}
	key := res.Digest + " " + v.Hash()
	if cached, ok := c.cache.get(key); ok {
		cached.Repository, cached.Tag, cached.Cached = repository, tag, true
		return cached
	}

	o, scheme, err := c.lookup(ctx, v, repo, h)
	if err != nil {
		res.Err = fmt.Errorf("verifying the signatures of %s@%s: %w", repository, res.Digest, err)
		return res
	}
	res.Scheme = scheme
	if o.ok {
		res.Verified, res.Signer = true, o.signer
		c.cache.put(key, res)
		return res
	}
	res.Reason, res.Detail = o.reason, o.detail
	return res
}

// lookup tries the referrers first, then the .sig tag.
func (c *Client) lookup(ctx context.Context, v *Verifier, repo name.Repository, h v1.Hash) (outcome, string, error) {
	best := outcome{reason: Unsigned}
	var notes []string
	o, n, err := c.referrers(ctx, v, repo, h)
	if err != nil {
		return outcome{}, "", err
	}
	if o.ok {
		return o, SchemeReferrer, nil
	}
	best, notes = worse(best, o), append(notes, n...)
	o, n, err = c.sigTag(ctx, v, repo, h)
	if err != nil {
		return outcome{}, "", err
	}
	if o.ok {
		return o, SchemeSigTag, nil
	}
	best, notes = worse(best, o), append(notes, n...)
	if best.reason == Unsigned {
		best.detail = "no signature in the referrers or under the " + sigTagName(h) + " tag"
	}
	if len(notes) > 0 {
		best.detail += " (" + strings.Join(notes, "; ") + ")"
	}
	return best, "", nil
}

func sigTagName(h v1.Hash) string { return h.Algorithm + "-" + h.Hex + ".sig" }

// referrers verifies the Sigstore bundles attached to the digest.
func (c *Client) referrers(ctx context.Context, v *Verifier, repo name.Repository, h v1.Hash) (outcome, []string, error) {
	best := outcome{reason: Unsigned}
	idx, err := remote.Referrers(repo.Digest(h.String()), remote.Reuse(c.puller), remote.WithContext(ctx))
	if err != nil {
		return best, nil, fmt.Errorf("listing referrers: %w", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return best, nil, fmt.Errorf("reading the referrers list: %w", err)
	}
	examined, attestations, skipped := 0, 0, 0
	for _, d := range im.Manifests {
		// A registry that takes the artifact type from the config (as
		// go-containerregistry's does) lists cosign's bundles as empty
		// artifacts: those are read to see what they hold.
		if !strings.HasPrefix(d.ArtifactType, bundleArtifactPrefix) && d.ArtifactType != emptyArtifact {
			continue
		}
		if pt := d.Annotations[predicateAnnotation]; pt != "" && pt != SignPredicate {
			attestations++ // told by the annotation: not even fetched
			continue
		}
		if examined == MaxSignatures {
			skipped++
			continue
		}
		examined++
		b, err := c.fetchBundle(ctx, repo, d)
		if errors.Is(err, errNotBundle) {
			continue
		}
		if err != nil {
			if isRegistryError(err) {
				return best, nil, err
			}
			best = worse(best, outcome{reason: Invalid, detail: "bundle " + d.Digest.String() + ": " + err.Error()})
			continue
		}
		if !isSignature(b) {
			attestations++
			continue
		}
		o := v.checkDigest(b, h.Hex)
		if o.ok {
			return o, nil, nil
		}
		best = worse(best, o)
	}
	return best, counts(attestations, "attestation bundle(s) ignored", skipped), nil
}

func counts(ignored int, what string, skipped int) []string {
	var out []string
	if ignored > 0 {
		out = append(out, fmt.Sprintf("%d %s", ignored, what))
	}
	if skipped > 0 {
		out = append(out, fmt.Sprintf("%d signature(s) beyond the first %d not examined", skipped, MaxSignatures))
	}
	return out
}

// fetchBundle reads the bundle a referrer manifest holds.
func (c *Client) fetchBundle(ctx context.Context, repo name.Repository, d v1.Descriptor) (*bundle.Bundle, error) {
	desc, err := c.puller.Get(ctx, repo.Digest(d.Digest.String()))
	if err != nil {
		return nil, fmt.Errorf("reading referrer %s: %w", d.Digest, err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		return nil, fmt.Errorf("parsing the referrer manifest: %w", err)
	}
	if len(m.Layers) == 0 || !strings.HasPrefix(string(m.Layers[0].MediaType), bundleArtifactPrefix) {
		return nil, errNotBundle
	}
	data, err := c.blob(ctx, repo, m.Layers[0], maxBundleSize)
	if err != nil {
		return nil, err
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(data); err != nil {
		return nil, fmt.Errorf("parsing the bundle: %w", err)
	}
	return &b, nil
}

var errNotBundle = errors.New("the referrer's first layer is not a Sigstore bundle")

// isSignature tells an image signature (a message signature, or a DSSE
// statement with the cosign signing predicate) from an attestation.
func isSignature(b *bundle.Bundle) bool {
	env, err := b.Envelope()
	if err != nil {
		return true // a message signature
	}
	st, err := env.Statement()
	return err != nil || st.GetPredicateType() == SignPredicate
}

// sigTag verifies the simple-signing layers under the sha256-<hex>.sig tag.
func (c *Client) sigTag(ctx context.Context, v *Verifier, repo name.Repository, h v1.Hash) (outcome, []string, error) {
	best := outcome{reason: Unsigned}
	desc, err := c.puller.Get(ctx, repo.Tag(sigTagName(h)))
	if err != nil {
		if notFound(err) {
			return best, nil, nil
		}
		return best, nil, fmt.Errorf("reading %s: %w", sigTagName(h), err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		return outcome{reason: Invalid, detail: sigTagName(h) + " is not an image manifest: " + err.Error()}, nil, nil
	}
	examined, skipped := 0, 0
	for _, l := range m.Layers {
		if l.MediaType != simpleSigningMT {
			continue
		}
		if examined == MaxSignatures {
			skipped++
			continue
		}
		examined++
		p, err := c.blob(ctx, repo, l, maxPayload)
		if err != nil {
			if isRegistryError(err) {
				return best, nil, err
			}
			best = worse(best, outcome{reason: Invalid, detail: err.Error()})
			continue
		}
		o := checkLegacy(v, signature.New(nil, l), p, h)
		if o.ok {
			return o, nil, nil
		}
		best = worse(best, o)
	}
	return best, counts(0, "", skipped), nil
}

// checkLegacy verifies one simple-signing signature: sigstore-go checks the
// signature over the payload, then the payload must name the image.
func checkLegacy(v *Verifier, sig oci.Signature, payload []byte, h v1.Hash) outcome {
	b, err := legacyBundle(sig, payload)
	if err != nil {
		return outcome{reason: Invalid, detail: "simple-signing layer: " + err.Error()}
	}
	o := v.check(b, payloadArtifact(payload))
	if !o.ok {
		return o
	}
	signed, err := payloadDigest(payload)
	if err != nil {
		return outcome{reason: Invalid, detail: "signed by " + o.signer + ", but " + err.Error()}
	}
	if signed != h.String() {
		return outcome{reason: DigestMismatch, detail: fmt.Sprintf("signed by %s for %s, not for this image", strings.TrimPrefix(o.signer, "keyless "), signed)}
	}
	return o
}

// blob reads a blob of at most limit bytes.
func (c *Client) blob(ctx context.Context, repo name.Repository, d v1.Descriptor, limit int64) ([]byte, error) {
	if d.Size > limit {
		return nil, fmt.Errorf("blob %s is %d bytes, more than the %d allowed", d.Digest, d.Size, limit)
	}
	l, err := c.puller.Layer(ctx, repo.Digest(d.Digest.String()))
	if err != nil {
		return nil, registryError{fmt.Errorf("reading blob %s: %w", d.Digest, err)}
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, registryError{fmt.Errorf("reading blob %s: %w", d.Digest, err)}
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		// A digest mismatch is reported by the verifying reader here.
		return nil, fmt.Errorf("reading blob %s: %w", d.Digest, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("blob %s is larger than the %d bytes allowed", d.Digest, limit)
	}
	return data, nil
}

// registryError marks a failure to talk to the registry (as opposed to
// content that is wrong): it fails the verification instead of judging.
type registryError struct{ error }

func (e registryError) Unwrap() error { return e.error }

func isRegistryError(err error) bool {
	var re registryError
	if !errors.As(err, &re) {
		var terr *transport.Error
		return errors.As(err, &terr) && terr.StatusCode != http.StatusNotFound
	}
	return !notFound(err)
}

func notFound(err error) bool {
	var terr *transport.Error
	return errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound
}

func hostOf(repository string) string {
	host, _, _ := strings.Cut(repository, "/")
	return host
}

// Cache remembers verified digests per verification settings, so that a
// repeated check makes no signature lookup. Only verified results are kept:
// a signature may be pushed after its image. It holds at most its size,
// forgetting the oldest first. It is safe for concurrent use; a nil *Cache
// remembers nothing.
type Cache struct {
	mu    sync.Mutex
	max   int
	m     map[string]Result
	order []string
}

// NewCache returns a Cache of at most size entries (default 4096).
func NewCache(size int) *Cache {
	if size <= 0 {
		size = 4096
	}
	return &Cache{max: size, m: map[string]Result{}}
}

// Len is the number of verified digests remembered.
func (c *Cache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

func (c *Cache) get(key string) (Result, bool) {
	if c == nil {
		return Result{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.m[key]
	return r, ok
}

func (c *Cache) put(key string, r Result) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[key]; ok {
		return
	}
	if len(c.order) >= c.max {
		delete(c.m, c.order[0])
		c.order = c.order[1:]
	}
	c.m[key] = r
	c.order = append(c.order, key)
}
