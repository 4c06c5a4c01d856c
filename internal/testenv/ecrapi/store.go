package ecrapi

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/ferrygitops/ferry/internal/testenv/awsapi"
)

// Media types of synthesised images.
const (
	MediaTypeOCIManifest = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeOCIConfig   = "application/vnd.oci.image.config.v1+json"
)

var (
	repoPattern   = regexp.MustCompile(`^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$`)
	tagPattern    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	digestPattern = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
)

func validRepositoryName(n string) bool {
	return len(n) >= 2 && len(n) <= 256 && repoPattern.MatchString(n)
}

// Image is an image to add with PutImage.
type Image struct {
	// Digest is the manifest digest, "sha256:<64 hex>". Empty means the
	// digest of Manifest.
	Digest string
	// Tags point at the image. A tag already on another image of the
	// repository moves here (ECR's mutable tags); the other image stays,
	// untagged if that was its last tag.
	Tags []string
	// PushedAt is the push time; zero means now. Re-putting an existing
	// digest keeps its first push time.
	PushedAt time.Time
	// SizeBytes is the reported image size; zero means a size derived from
	// the digest.
	SizeBytes int64
	// MediaType is the manifest media type; default MediaTypeOCIManifest.
	MediaType string
	// Manifest is what BatchGetImage returns; empty means a small OCI
	// manifest synthesised from the repository, tags and push time (whose
	// digest is then Digest only if Digest is empty).
	Manifest string
}

type repoKey struct{ account, region, name string }

func (k repoKey) String() string { return k.account + "/" + k.region + "/" + k.name }

type repository struct {
	images   []*storedImage // in first-push order
	byDigest map[string]*storedImage
	byTag    map[string]*storedImage
}

type storedImage struct {
	digest    string
	tags      []string
	pushedAt  time.Time
	size      int64
	mediaType string
	manifest  string
}

// Digest returns a deterministic, well-formed digest derived from seed, for
// tests that need distinct digests.
func Digest(seed string) string {
	h := sha256.Sum256([]byte(seed))
	return "sha256:" + hex.EncodeToString(h[:])
}

func (s *Server) key(account, region, name string) repoKey {
	if account == "" {
		account = s.account
	}
	if region == "" {
		region = DefaultRegion
	}
	if !awsapi.ValidAccount(account) {
		panic(fmt.Sprintf("ecrapi: invalid account %q: want 12 digits", account))
	}
	if !awsapi.ValidRegion(region) {
		panic(fmt.Sprintf("ecrapi: invalid region %q", region))
	}
	if !validRepositoryName(name) {
		panic(fmt.Sprintf("ecrapi: invalid repository name %q", name))
	}
	return repoKey{account, region, name}
}

// repo returns the repository of k, creating it if create is set. The
// caller holds s.mu.
func (s *Server) repo(k repoKey, create bool) *repository {
	r := s.repos[k]
	if r == nil && create {
		r = &repository{byDigest: map[string]*storedImage{}, byTag: map[string]*storedImage{}}
		s.repos[k] = r
	}
	return r
}

// CreateRepository creates an empty repository (if it does not exist yet).
// An empty account means the server's, an empty region DefaultRegion. Like
// the other setup methods, it panics on malformed names.
func (s *Server) CreateRepository(account, region, name string) {
	k := s.key(account, region, name)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repo(k, true)
}

// DeleteRepository deletes a repository and its images.
func (s *Server) DeleteRepository(account, region, name string) {
	k := s.key(account, region, name)
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.repos, k)
}

// Put adds an image with tags (possibly none) to a repository, creating the
// repository if needed, and returns its digest. An empty digest means a
// synthesised one. See PutImage.
func (s *Server) Put(account, region, repo string, tags []string, digest string, pushedAt time.Time) string {
	return s.PutImage(account, region, repo, Image{Digest: digest, Tags: tags, PushedAt: pushedAt})
}

// PutImage adds img to a repository, creating the repository if needed, and
// returns the image's digest. An empty account means the server's, an empty
// region DefaultRegion.
func (s *Server) PutImage(account, region, repo string, img Image) string {
	k := s.key(account, region, repo)
	for _, t := range img.Tags {
		if !tagPattern.MatchString(t) {
			panic(fmt.Sprintf("ecrapi: invalid tag %q", t))
		}
	}
	if img.PushedAt.IsZero() {
		img.PushedAt = s.now()
	}
	if img.MediaType == "" {
		img.MediaType = MediaTypeOCIManifest
	}
	if img.Manifest == "" {
		seed := k.String() + "|" + img.Digest + "|" + img.PushedAt.UTC().Format(time.RFC3339Nano)
		for _, t := range img.Tags {
			seed += "|" + t
		}
		img.Manifest = fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":2},"layers":[]}`,
			img.MediaType, MediaTypeOCIConfig, Digest(seed))
	}
	if img.Digest == "" {
		img.Digest = Digest(img.Manifest)
	}
	if !digestPattern.MatchString(img.Digest) {
		panic(fmt.Sprintf("ecrapi: invalid digest %q: want sha256:<64 lower-case hex>", img.Digest))
	}
	if img.SizeBytes == 0 {
		h := sha256.Sum256([]byte(img.Digest))
		img.SizeBytes = 1<<20 + int64(binary.BigEndian.Uint32(h[:4])%(64<<20))
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repo(k, true)
	im := r.byDigest[img.Digest]
	if im == nil {
		im = &storedImage{digest: img.Digest, pushedAt: img.PushedAt, size: img.SizeBytes, mediaType: img.MediaType, manifest: img.Manifest}
		r.images = append(r.images, im)
		r.byDigest[img.Digest] = im
	}
	for _, t := range img.Tags {
		if old := r.byTag[t]; old != nil && old != im {
			old.tags = slices.DeleteFunc(old.tags, func(x string) bool { return x == t })
		}
		if !slices.Contains(im.tags, t) {
			im.tags = append(im.tags, t)
		}
		r.byTag[t] = im
	}
	return img.Digest
}

// Untag removes tag from the repository's image it points to and reports
// whether it existed. The image stays.
func (s *Server) Untag(account, region, repo, tag string) bool {
	k := s.key(account, region, repo)
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repo(k, false)
	if r == nil || r.byTag[tag] == nil {
		return false
	}
	im := r.byTag[tag]
	im.tags = slices.DeleteFunc(im.tags, func(x string) bool { return x == tag })
	delete(r.byTag, tag)
	return true
}
