package registry

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/ferrygitops/ferry/image"
)

// scopesPerToken bounds how many repositories share one bearer token, so the
// token request's URL stays short.
const scopesPerToken = 50

// listOCIHost lists the repositories out[idx] of one OCI registry host. The
// authentication handshake happens once for the host, or, for registries
// that issue bearer tokens, once per scopesPerToken repositories.
func (c *Client) listOCIHost(ctx context.Context, host string, idx []int, out []Listing) {
	var opts []name.Option
	if c.isInsecure(host) {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(host, opts...)
	if err != nil {
		for _, i := range idx {
			out[i].Err = fmt.Errorf("parsing registry: %w", err)
		}
		return
	}
	chunk := len(idx)
	if len(idx) > scopesPerToken {
		// Many repositories: learn whether tokens are scoped (bearer) first,
		// at the cost of one more ping.
		ch, err := transport.Ping(ctx, reg, c.oci)
		if err != nil {
			err = c.explainOCI(err, host)
			for _, i := range idx {
				out[i].Err = fmt.Errorf("contacting registry %s: %w", host, err)
			}
			return
		}
		if strings.EqualFold(ch.Scheme, "bearer") {
			chunk = scopesPerToken
		}
	}
	for start := 0; start < len(idx); start += chunk {
		part := idx[start:min(start+chunk, len(idx))]
		repos := make([]name.Repository, len(part))
		scopes := make([]string, 0, len(part))
		for k, i := range part {
			r, err := name.NewRepository(image.Host(out[i].Repository)+"/"+image.Path(out[i].Repository), opts...)
			if err != nil {
				out[i].Err = fmt.Errorf("parsing repository: %w", err)
				continue
			}
			repos[k] = r
			scopes = append(scopes, r.Scope(transport.PullScope))
		}
		rt, failed := c.authTransport(ctx, reg, scopes)
		var wg sync.WaitGroup
		for k, i := range part {
			if out[i].Err != nil {
				continue
			}
			if failed != nil {
				out[i].Err = failed
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				out[i].Tags, out[i].Err = c.listOCI(ctx, rt, repos[k])
				out[i].Err = c.explainOCI(out[i].Err, host)
			}()
		}
		wg.Wait()
	}
}

// authTransport performs the registry's authentication handshake (one ping,
// and one token request for bearer registries) for all scopes at once.
func (c *Client) authTransport(ctx context.Context, reg name.Registry, scopes []string) (http.RoundTripper, error) {
	auth, err := authn.Resolve(ctx, c.opts.Keychain, reg)
	if err != nil {
		return nil, fmt.Errorf("resolving credentials for %s: %w", reg.RegistryStr(), err)
	}
	rt, err := transport.NewWithContext(ctx, reg, auth, c.oci, scopes)
	if err != nil {
		return nil, fmt.Errorf("authenticating to %s: %w", reg.RegistryStr(), c.explainOCI(err, reg.RegistryStr()))
	}
	return rt, nil
}

func (c *Client) listOCI(ctx context.Context, rt http.RoundTripper, repo name.Repository) ([]image.Tag, error) {
	puller, err := remote.NewPuller(remote.WithTransport(rt), remote.WithPageSize(c.opts.PageSize))
	if err != nil {
		return nil, err
	}
	lister, err := puller.Lister(ctx, repo)
	if err != nil {
		return nil, err
	}
	var tags []image.Tag
	for lister.HasNext() {
		page, err := lister.Next(ctx)
		if err != nil {
			return nil, err
		}
		for _, t := range page.Tags {
			tags = append(tags, image.Tag{Name: t})
		}
	}
	return tags, nil
}

func (c *Client) digestOCI(ctx context.Context, repository, tag string) (string, error) {
	host := image.Host(repository)
	var opts []name.Option
	if c.isInsecure(host) {
		opts = append(opts, name.Insecure)
	}
	ref, err := name.NewTag(host+"/"+image.Path(repository)+":"+tag, opts...)
	if err != nil {
		return "", err
	}
	desc, err := remote.Head(ref, append(c.RemoteOptions(), remote.WithContext(ctx))...)
	if err != nil {
		return "", c.explainOCI(err, host)
	}
	return desc.Digest.String(), nil
}
