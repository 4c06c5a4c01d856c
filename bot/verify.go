package bot

// Signature verification in Scan: a policy with spec.verify gets the newest
// candidate that an accepted signer signed, walking down from the newest
// allowed tag and stopping at the current references; unverified candidates
// are reported with the reason. No unverified image becomes a target, so
// none is ever written to git.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"k8s.io/client-go/kubernetes"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ferrygitops/ferry/image"
	"github.com/ferrygitops/ferry/policy"
	"github.com/ferrygitops/ferry/registry"
	"github.com/ferrygitops/ferry/updater"
	"github.com/ferrygitops/ferry/verify"
)

// MaxVerifyCandidates bounds the candidates examined per policy and scan.
const MaxVerifyCandidates = 10

// signatureCache remembers verified digests for the life of the process, so
// that `ferry run` checks a digest once (the cache is keyed by the
// verification settings too).
var signatureCache = verify.NewCache(0)

// Signatures verifies one candidate (verify.Client).
type Signatures interface {
	Verify(ctx context.Context, v *verify.Verifier, repository, tag, digest string) verify.Result
}

// remoteRegistry is a Registry that lends its transport and credentials
// (registry.Client), so signature lookups are limited and counted with the
// listings.
type remoteRegistry interface {
	RemoteOptions() []remote.Option
	IsInsecure(host string) bool
}

// statsRegistry is a Registry that counts its requests (registry.Client).
type statsRegistry interface {
	Stats() registry.Stats
}

// VerifyReport is what signature verification decided for a policy.
type VerifyReport struct {
	// Tag and Digest are the verified candidate chosen; empty when none.
	Tag      string      `json:"tag,omitempty"`
	Digest   string      `json:"digest,omitempty"`
	Signer   string      `json:"signer,omitempty"`
	Scheme   string      `json:"scheme,omitempty"`
	Rejected []Rejection `json:"rejected,omitempty"`
	Checked  int         `json:"checked"` // candidates examined
	Cached   int         `json:"cached"`  // of which verified before, without a signature lookup
	// Note explains an empty Tag.
	Note string `json:"note,omitempty"`
}

// Rejection is a candidate skipped because its signature did not verify.
type Rejection struct {
	Tag    string        `json:"tag"`
	Digest string        `json:"digest,omitempty"`
	Reason verify.Reason `json:"reason"`
	Detail string        `json:"detail"`
}

// verifier holds one scan's verification state.
type verifier struct {
	reg     Registry
	opts    *ScanOptions
	client  Signatures
	secrets corev1client.SecretsGetter
	once    sync.Once
	err     error
	calls   int64 // registry requests made for signatures
}

func newVerifier(reg Registry, opts *ScanOptions) *verifier {
	return &verifier{reg: reg, opts: opts, client: opts.Signatures, secrets: opts.Secrets}
}

func (s *verifier) signatures() (Signatures, error) {
	s.once.Do(func() {
		if s.client != nil {
			return
		}
		rr, ok := s.reg.(remoteRegistry)
		if !ok {
			s.err = errors.New("signature verification needs a registry client that lends its transport")
			return
		}
		cache := s.opts.SignatureCache
		if cache == nil {
			cache = signatureCache
		}
		s.client, s.err = verify.NewClient(verify.Options{Remote: rr.RemoteOptions(), Insecure: rr.IsInsecure, Cache: cache})
	})
	return s.client, s.err
}

// settings reads a policy's keys and trusted root.
func (s *verifier) settings(ctx context.Context, p *policy.Policy) (verify.Settings, error) {
	pv := p.Verify
	st := verify.Settings{IgnoreTlog: pv.InsecureIgnoreTlog}
	for _, k := range pv.Keys {
		data, src, err := s.read(ctx, k)
		if err != nil {
			return st, err
		}
		st.Keys = append(st.Keys, verify.Key{PEM: data, Source: src})
	}
	for _, id := range pv.Keyless {
		st.Identities = append(st.Identities, verify.Identity(id))
	}
	if pv.TrustedRoot != nil {
		data, src, err := s.read(ctx, *pv.TrustedRoot)
		if err != nil {
			return st, err
		}
		st.TrustedRoot = &verify.TrustedRoot{JSON: data, Source: src}
	}
	return st, nil
}

// read reads a key or trusted root: a file of the repository (never outside
// it, symlinks included), a file of this machine, or a Secret's key.
func (s *verifier) read(ctx context.Context, m policy.Material) ([]byte, string, error) {
	at := fmt.Sprintf("%s:%d: %s", m.Source.File, m.Source.Line, m.Field)
	switch {
	case m.File != "":
		root, err := os.OpenRoot(s.opts.Repo)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", at, err)
		}
		defer root.Close()
		data, err := root.ReadFile(filepath.FromSlash(m.File))
		if err != nil {
			return nil, "", fmt.Errorf("%s.file: reading %s in the repository: %w", at, m.File, err)
		}
		return data, "file " + m.File, nil
	case m.Path != "":
		data, err := os.ReadFile(m.Path)
		if err != nil {
			return nil, "", fmt.Errorf("%s.path: %w", at, err)
		}
		return data, "path " + m.Path, nil
	case m.Secret != nil:
		if s.secrets == nil {
			cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
				clientcmd.NewDefaultClientConfigLoadingRules(), &clientcmd.ConfigOverrides{}).ClientConfig()
			if err != nil {
				return nil, "", fmt.Errorf("%s.secret: no Kubernetes API to read the Secret from (in-cluster or KUBECONFIG): %w", at, err)
			}
			cs, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				return nil, "", fmt.Errorf("%s.secret: %w", at, err)
			}
			s.secrets = cs.CoreV1()
		}
		k, err := verify.KeyFromSecret(ctx, s.secrets, m.Secret.Namespace, m.Secret.Name, m.Secret.Key)
		if err != nil {
			return nil, "", fmt.Errorf("%s.secret: %w", at, err)
		}
		return k.PEM, k.Source, nil
	}
	return nil, "", fmt.Errorf("%s: nothing to read", at)
}

// choose walks ranked (best first) down to the first verified candidate,
// examining only candidates that rank above every current reference of the
// policy that can be ordered, and at most MaxVerifyCandidates of them. An
// error is a failure to verify (registry, unreadable key), not a verdict.
func (s *verifier) choose(ctx context.Context, p *policy.Policy, ranked []image.Tag, refs []updater.Reference) (*VerifyReport, error) {
	st, err := s.settings(ctx, p)
	if err != nil {
		return nil, err
	}
	v, err := verify.NewVerifier(st)
	if err != nil {
		return nil, fmt.Errorf("%s:%d: spec.verify: %w", p.Verify.Source.File, p.Verify.Source.Line, err)
	}
	client, err := s.signatures()
	if err != nil {
		return nil, err
	}
	floor, floorOK := lowestCurrent(p, refs, ranked)
	rep := &VerifyReport{}
	before := s.requests()
	defer func() { s.calls += s.requests() - before }()
	for _, cand := range ranked {
		if floorOK {
			if c, err := p.Compare(cand, floor); err == nil && c <= 0 {
				rep.Note = fmt.Sprintf("no verified tag newer than the current %s", floor.Name)
				break
			}
		}
		if rep.Checked == MaxVerifyCandidates {
			rep.Note = fmt.Sprintf("no verified tag among the newest %d candidates", MaxVerifyCandidates)
			break
		}
		rep.Checked++
		r := client.Verify(ctx, v, p.Image, cand.Name, cand.Digest)
		if r.Err != nil {
			return rep, r.Err
		}
		if r.Cached {
			rep.Cached++
		}
		if r.Verified {
			rep.Tag, rep.Digest, rep.Signer, rep.Scheme, rep.Note = cand.Name, r.Digest, r.Signer, r.Scheme, ""
			return rep, nil
		}
		rep.Rejected = append(rep.Rejected, Rejection{Tag: cand.Name, Digest: r.Digest, Reason: r.Reason, Detail: r.Detail})
	}
	if rep.Note == "" {
		rep.Note = "no verified tag"
	}
	return rep, nil
}

func (s *verifier) requests() int64 {
	if sr, ok := s.reg.(statsRegistry); ok {
		return sr.Stats().Total().Requests
	}
	return 0
}

// lowestCurrent is the lowest-ranked tag among the policy's references whose
// current tag the policy can order: candidates at or below it are not
// examined, since no reference would move to them.
func lowestCurrent(p *policy.Policy, refs []updater.Reference, tags []image.Tag) (image.Tag, bool) {
	var low image.Tag
	found := false
	for _, r := range refs {
		if r.Policy != p.Name {
			continue
		}
		var tag string
		switch r.Form {
		case updater.FormTag:
			tag = r.Current
		case updater.FormImage:
			_, tag, _ = image.Split(r.Current)
		}
		if tag == "" {
			continue
		}
		cur := tagInfo(tag, tags)
		if !found {
			if _, err := p.Compare(cur, cur); err == nil {
				low, found = cur, true
			}
			continue
		}
		if c, err := p.Compare(cur, low); err == nil && c < 0 {
			low = cur
		}
	}
	return low, found
}

func tagInfo(name string, tags []image.Tag) image.Tag {
	for _, t := range tags {
		if t.Name == name {
			return t
		}
	}
	return image.Tag{Name: name}
}

// explainUnverified says, on the references of a policy that verification
// left without a target, why.
func (r *Report) explainUnverified() {
	notes := map[string]string{}
	for _, p := range r.Policies {
		if p.Verify != nil && p.Verify.Tag == "" && p.Error == "" {
			notes[p.Name] = "signature verification: " + p.Verify.Note
		}
	}
	for i := range r.Decisions {
		d := &r.Decisions[i]
		if note, ok := notes[d.Policy]; ok && d.Status == updater.StatusNoTarget {
			d.Why = note
		}
	}
}

// SignatureRequests is the number of registry requests the scan's
// signature verification made.
func (r *Report) SignatureRequests() int64 { return r.signatureCalls }
