package deploy

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"

	"filippo.io/age"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferrygitops/ferry/deploy/render"
	"github.com/ferrygitops/ferry/secrets/awssm"
	"github.com/ferrygitops/ferry/secrets/sops"
)

// SecretsOptions say how a sync decrypts SOPS files and fills Secrets
// from AWS Secrets Manager (packages secrets/sops and secrets/awssm).
type SecretsOptions struct {
	// AgeKeyFile holds age identities for every app (SOPS_AGE_KEY_FILE,
	// e.g. a mounted Secret); "" for none. It is read at every render,
	// so a remounted file takes effect.
	AgeKeyFile string
	// AWS is the AWS SDK configuration for KMS and Secrets Manager; nil
	// loads the default chain (environment, IRSA or Pod Identity, shared
	// config, instance metadata) on first need, in AWSRegion if set.
	AWS       *aws.Config
	AWSRegion string
	// KMSEndpoint and SecretsManagerEndpoint override the services'
	// endpoints (emulators, VPC endpoints); "" resolves them as the SDK
	// does (AWS_ENDPOINT_URL_KMS, AWS_ENDPOINT_URL_SECRETS_MANAGER, or
	// the regional endpoint).
	KMSEndpoint            string
	SecretsManagerEndpoint string
}

// secretsState is the Syncer's AWS configuration and Secrets Manager
// filler (whose cache of values by version outlives a sync), made on
// first need.
type secretsState struct {
	mu     sync.Mutex
	aws    *aws.Config
	filler *awssm.Filler
}

func (s *Syncer) awsConfig(ctx context.Context) (*aws.Config, error) {
	st := &s.secrets
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.aws != nil {
		return st.aws, nil
	}
	if s.opts.Secrets.AWS != nil {
		st.aws = s.opts.Secrets.AWS
		return st.aws, nil
	}
	var opts []func(*awsconfig.LoadOptions) error
	if r := s.opts.Secrets.AWSRegion; r != "" {
		opts = append(opts, awsconfig.WithRegion(r))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("loading the AWS configuration: %w", err)
	}
	st.aws = &cfg
	return st.aws, nil
}

func (s *Syncer) secretsFiller(ctx context.Context) (*awssm.Filler, error) {
	cfg, err := s.awsConfig(ctx)
	if err != nil {
		return nil, err
	}
	st := &s.secrets
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.filler == nil {
		st.filler = awssm.New(awssm.Options{AWS: *cfg, Endpoint: s.opts.Secrets.SecretsManagerEndpoint})
	}
	return st.filler, nil
}

// decrypter returns the SOPS decrypter of app: the age identities of the
// key file and of the app's spec.decryption Secret, and KMS through
// Ferry's AWS configuration (loaded only when a file needs it).
func (s *Syncer) decrypter(ctx context.Context, app App) (*sops.Decrypter, error) {
	var ids []age.Identity
	if f := s.opts.Secrets.AgeKeyFile; f != "" {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading the age key file: %w", err)
		}
		got, err := sops.ParseAgeIdentities(f, data)
		if err != nil {
			return nil, err
		}
		ids = append(ids, got...)
	}
	if d := app.Decryption; d != nil && d.SecretRef != nil {
		ns := s.inventoryNamespace(app)
		sec, err := s.core.CoreV1().Secrets(ns).Get(ctx, d.SecretRef.Name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("app %s: reading the decryption Secret %s/%s: %w", app.Name, ns, d.SecretRef.Name, err)
		}
		n := 0
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range sec.Data {
				if !yield(k) {
					return
				}
			}
		}) {
			if !strings.HasSuffix(k, ".agekey") {
				continue
			}
			got, err := sops.ParseAgeIdentities(fmt.Sprintf("Secret %s/%s key %s", ns, sec.Name, k), sec.Data[k])
			if err != nil {
				return nil, fmt.Errorf("app %s: %w", app.Name, err)
			}
			ids = append(ids, got...)
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("app %s: the decryption Secret %s/%s has no key ending in .agekey", app.Name, ns, d.SecretRef.Name)
		}
	}
	// The AWS configuration is loaded only if a file names a KMS key.
	return sops.New(sops.Options{AgeIdentities: ids, KMSEndpoint: s.opts.Secrets.KMSEndpoint, AWS: s.awsConfig}), nil
}

// renderSecrets renders app at revision with its SOPS files decrypted in
// memory, then fills its Secrets Manager references: the step between the
// render and the diff, plan and apply. A file that cannot be decrypted, or
// a reference that cannot be filled, fails the render, so the sync stops
// before any change.
func (s *Syncer) renderSecrets(ctx context.Context, app App, revision string) (Rendered, error) {
	dec, err := s.decrypter(ctx, app)
	if err != nil {
		return Rendered{App: app.Name, Path: app.CleanPath()}, fmt.Errorf("rendering app %s: %w", app.Name, err)
	}
	var sfs *sops.FS
	wrap := func(f fs.FS) fs.FS {
		sfs = dec.FS(ctx, f)
		return sfs
	}
	r, err := render.App(ctx, s.clones, app, revision, render.Env{Scope: scoper{s}, Capabilities: render.DiscoveryCapabilities(s.disc), ParseCache: s.parseCache}, render.WithFS(wrap))
	if sfs != nil && sfs.Err() != nil {
		// The decryption error itself, whatever the renderer made of it.
		return r, fmt.Errorf("rendering app %s at %.12s: %w", app.Name, r.Revision, sfs.Err())
	}
	if err != nil {
		return r, err
	}
	if sfs != nil && len(sfs.Decrypted()) > 0 {
		s.log.Info("decrypted sops files", "app", app.Name, "files", sfs.Decrypted())
	}
	if !awssm.Refs(r.Manifests) {
		return r, nil
	}
	f, err := s.secretsFiller(ctx)
	if err != nil {
		return r, fmt.Errorf("app %s: filling Secrets from AWS Secrets Manager: %w", app.Name, err)
	}
	st, err := f.Fill(ctx, r.Manifests)
	if err != nil {
		return r, fmt.Errorf("app %s at %.12s: filling Secrets from AWS Secrets Manager: %w", app.Name, r.Revision, err)
	}
	s.log.Info("filled secrets from AWS Secrets Manager", "app", app.Name, "secrets", st.Secrets, "distinct", st.Distinct,
		"describeSecret", st.Describe, "getSecretValue", st.Get)
	return r, nil
}
