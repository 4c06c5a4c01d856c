package awssm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/ferrygitops/ferry/deploy/render"
)

// Annotations of a Secret filled from Secrets Manager.
const (
	// AnnotationSecretID names the secret (name or ARN).
	AnnotationSecretID = "ferry.dev/secretsmanager-secret-id"
	// AnnotationKeyPrefix + KEY names the JSON field filling data entry
	// KEY ("" for the whole value).
	AnnotationKeyPrefix = "ferry.dev/secretsmanager-key."
	// AnnotationVersionStage picks the staging label; default AWSCURRENT.
	AnnotationVersionStage = "ferry.dev/secretsmanager-version-stage"
	// AnnotationVersion is set by Ferry: the version id it filled.
	AnnotationVersion = "ferry.dev/secretsmanager-version"
)

// DefaultStage is the staging label read unless a Secret names another.
const DefaultStage = "AWSCURRENT"

// Filler fills Secrets from Secrets Manager, keeping the values it read in
// memory by secret ARN and version id. It is safe for concurrent use.
type Filler struct {
	client   *secretsmanager.Client
	parallel int

	mu    sync.Mutex
	cache map[string]value // by ARN: the last version read
}

type value struct {
	version string
	str     *string
	bin     []byte
}

// Options configure a Filler.
type Options struct {
	// AWS is the SDK configuration (region, credentials, retries).
	AWS aws.Config
	// Endpoint overrides the Secrets Manager endpoint (an emulator); ""
	// uses the configuration's resolution (BaseEndpoint,
	// AWS_ENDPOINT_URL_SECRETS_MANAGER, or the regional endpoint).
	Endpoint string
	// Parallel bounds the concurrent calls; default 8.
	Parallel int
}

// New returns a Filler.
func New(o Options) *Filler {
	c := secretsmanager.NewFromConfig(o.AWS, func(so *secretsmanager.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
	})
	if o.Parallel <= 0 {
		o.Parallel = 8
	}
	return &Filler{client: c, parallel: o.Parallel, cache: map[string]value{}}
}

// Stats count what one Fill did.
type Stats struct {
	Secrets  int `json:"secrets"`  // Secrets filled
	Distinct int `json:"distinct"` // distinct secret ids (and stages)
	Describe int `json:"describe"` // DescribeSecret calls
	Get      int `json:"get"`      // GetSecretValue calls
}

// ref is one Secret's reference.
type ref struct {
	m      *render.Manifest
	id     string
	stage  string
	keys   map[string]string // data key -> JSON field ("" whole value)
	all    bool              // no key annotation: every field
	source string            // manifest source and object, for errors
}

// source is one distinct secret id and stage.
type source struct {
	id, stage string
	arn       string
	val       value
	fields    map[string]any // the JSON object, when it is one
	err       error
}

// Refs reports whether any manifest is a Secret naming a Secrets Manager
// source: only then does a sync need a Filler.
func Refs(ms []render.Manifest) bool {
	for i := range ms {
		if ms[i].Key.GroupKind() == render.GKSecret && ms[i].Object.GetAnnotations()[AnnotationSecretID] != "" {
			return true
		}
	}
	return false
}

// Fill fills, in place, every Secret of ms that names a Secrets Manager
// source: its data entries, AnnotationVersion, and a hash that changes
// with the versions. On error nothing should be applied: the manifests
// may be half filled.
func (f *Filler) Fill(ctx context.Context, ms []render.Manifest) (Stats, error) {
	var st Stats
	var refs []*ref
	for i := range ms {
		m := &ms[i]
		if m.Key.GroupKind() != render.GKSecret || m.Object.GetAnnotations()[AnnotationSecretID] == "" {
			continue
		}
		r, err := parseRef(m)
		if err != nil {
			return st, err
		}
		refs = append(refs, r)
	}
	if len(refs) == 0 {
		return st, nil
	}
	st.Secrets = len(refs)
	srcs := map[[2]string]*source{}
	var order []*source
	for _, r := range refs {
		k := [2]string{r.id, r.stage}
		if srcs[k] == nil {
			s := &source{id: r.id, stage: r.stage}
			srcs[k] = s
			order = append(order, s)
		}
	}
	st.Distinct = len(order)
	var mu sync.Mutex
	sem := make(chan struct{}, f.parallel)
	var wg sync.WaitGroup
	for _, s := range order {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			d, g := f.read(ctx, s)
			mu.Lock()
			st.Describe += d
			st.Get += g
			mu.Unlock()
		})
	}
	wg.Wait()
	for _, s := range order {
		if s.err != nil {
			var users []string
			for _, r := range refs {
				if r.id == s.id && r.stage == s.stage {
					users = append(users, r.source)
				}
			}
			return st, fmt.Errorf("%s: %w", strings.Join(users, ", "), s.err)
		}
	}
	for _, r := range refs {
		if err := fill(r, srcs[[2]string{r.id, r.stage}]); err != nil {
			return st, err
		}
	}
	return st, nil
}

func parseRef(m *render.Manifest) (*ref, error) {
	ann := m.Object.GetAnnotations()
	r := &ref{m: m, id: strings.TrimSpace(ann[AnnotationSecretID]), stage: DefaultStage, keys: map[string]string{},
		source: fmt.Sprintf("%s: Secret %s/%s", m.Source, m.Object.GetNamespace(), m.Object.GetName())}
	if s, ok := ann[AnnotationVersionStage]; ok {
		if s = strings.TrimSpace(s); s == "" {
			return nil, fmt.Errorf("%s: annotation %s is empty", r.source, AnnotationVersionStage)
		}
		r.stage = s
	}
	for k, v := range ann {
		key, ok := strings.CutPrefix(k, AnnotationKeyPrefix)
		if !ok {
			continue
		}
		if errs := validation.IsConfigMapKey(key); len(errs) > 0 {
			return nil, fmt.Errorf("%s: annotation %s: %q is not a valid Secret key: %s", r.source, k, key, strings.Join(errs, "; "))
		}
		r.keys[key] = v
	}
	r.all = len(r.keys) == 0
	for _, field := range []string{"data", "stringData"} {
		have, _ := m.Object.Object[field].(map[string]any)
		for k := range r.keys {
			if _, dup := have[k]; dup {
				return nil, fmt.Errorf("%s: key %s is both in %s and filled from Secrets Manager (%s%s)", r.source, k, field, AnnotationKeyPrefix, k)
			}
		}
	}
	return r, nil
}

// read learns the version carrying s.stage and its value, from the cache
// when it holds that version; it returns the calls it made.
func (f *Filler) read(ctx context.Context, s *source) (describe, get int) {
	opt := f.regionOf(s.id)
	d, err := f.client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(s.id)}, opt)
	describe++
	if err != nil {
		s.err = explain("DescribeSecret", s.id, err)
		return
	}
	s.arn = aws.ToString(d.ARN)
	var version string
	for id, stages := range d.VersionIdsToStages {
		if slices.Contains(stages, s.stage) {
			version = id
		}
	}
	if version == "" {
		s.err = fmt.Errorf("secrets manager secret %s has no version labelled %s", s.id, s.stage)
		return
	}
	f.mu.Lock()
	v, ok := f.cache[s.arn]
	f.mu.Unlock()
	if !ok || v.version != version {
		g, err := f.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.arn), VersionId: aws.String(version)}, opt)
		get++
		if err != nil {
			s.err = explain("GetSecretValue", s.id, err)
			return
		}
		v = value{version: aws.ToString(g.VersionId), str: g.SecretString, bin: g.SecretBinary}
		f.mu.Lock()
		f.cache[s.arn] = v
		f.mu.Unlock()
	}
	s.val = v
	if v.str != nil {
		var obj map[string]any
		dec := json.NewDecoder(strings.NewReader(*v.str))
		dec.UseNumber()
		if dec.Decode(&obj) == nil && !dec.More() {
			s.fields = obj
		}
	}
	return
}

// regionOf makes a call on an ARN go to the ARN's region.
func (f *Filler) regionOf(id string) func(*secretsmanager.Options) {
	return func(o *secretsmanager.Options) {
		if a, err := arn.Parse(id); err == nil && a.Region != "" {
			o.Region = a.Region
		}
	}
}

// explain turns an SDK error into one that says what to do; SDK errors
// carry the service's message, never a secret value.
func explain(op, id string, err error) error {
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return fmt.Errorf("secrets manager secret %s not found (or no such version): %w", id, err)
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded":
			return fmt.Errorf("secrets manager throttled %s of %s beyond the SDK's retries; the next sync tries again: %w", op, id, err)
		case "AccessDeniedException":
			return fmt.Errorf("secrets manager denied %s of %s to Ferry's AWS identity (grant secretsmanager:%s): %w", op, id, op, err)
		}
	}
	return fmt.Errorf("secrets manager %s of %s: %w", op, id, err)
}

// fill writes r's data entries from s and derives the new hash.
func fill(r *ref, s *source) error {
	data, _ := r.m.Object.Object["data"].(map[string]any)
	if data == nil {
		data = map[string]any{}
	}
	put := func(key string, b []byte) { data[key] = base64.StdEncoding.EncodeToString(b) }
	whole := func() []byte {
		if s.val.str != nil {
			return []byte(*s.val.str)
		}
		return s.val.bin
	}
	switch {
	case r.all:
		if s.fields == nil {
			return fmt.Errorf("%s: secrets manager secret %s is not a JSON object: name the data key with %sKEY: \"\"", r.source, r.id, AnnotationKeyPrefix)
		}
		for k, v := range s.fields {
			if errs := validation.IsConfigMapKey(k); len(errs) > 0 {
				return fmt.Errorf("%s: secrets manager secret %s: field %q is not a valid Secret key: name the fields to use with %sKEY annotations", r.source, r.id, k, AnnotationKeyPrefix)
			}
			put(k, fieldBytes(v))
		}
	default:
		for _, key := range slices.Sorted(maps.Keys(r.keys)) {
			field := r.keys[key]
			if field == "" {
				put(key, whole())
				continue
			}
			if s.fields == nil {
				return fmt.Errorf("%s: %s%s names field %q but secrets manager secret %s is not a JSON object", r.source, AnnotationKeyPrefix, key, field, r.id)
			}
			v, ok := s.fields[field]
			if !ok {
				return fmt.Errorf("%s: secrets manager secret %s (version %s) has no field %q (for key %s)", r.source, r.id, s.val.version, field, key)
			}
			put(key, fieldBytes(v))
		}
	}
	r.m.Object.Object["data"] = data
	ann := r.m.Object.GetAnnotations()
	ann[AnnotationVersion] = s.val.version
	sum := sha256.Sum256([]byte(r.m.Hash + "\x00" + s.arn + "\x00" + s.val.version))
	r.m.Hash = hex.EncodeToString(sum[:16])
	ann[render.AnnotationAppliedHash] = r.m.Hash
	r.m.Object.SetAnnotations(ann)
	return nil
}

// fieldBytes is a JSON field's value as a Secret holds it: a string as it
// is, anything else as its JSON text.
func fieldBytes(v any) []byte {
	if s, ok := v.(string); ok {
		return []byte(s)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}
