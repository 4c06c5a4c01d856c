package registry

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferrygitops/ferry/image"
)

// Options configure a Client.
type Options struct {
	Limits Limits
	// Keychain resolves OCI registry credentials; nil means the docker
	// config keychain (~/.docker/config.json, DOCKER_CONFIG).
	Keychain authn.Keychain
	// PageSize is the tags/list and DescribeImages page size; default 1000.
	PageSize int
	// Insecure lists registry hosts spoken to over plain HTTP. Loopback
	// hosts (localhost, 127.0.0.0/8, [::1]) always are.
	Insecure []string
	// HTTP is the innermost transport (nil: a clone of http.DefaultTransport).
	HTTP http.RoundTripper
}

// Client lists tags from OCI registries and ECR. It is safe for concurrent use.
type Client struct {
	opts      Options
	transport *Transport
	oci       *pingCache // c.transport, with each registry's ping answer reused
	insecure  map[string]bool

	ecrMu      sync.Mutex
	ecrClients map[string]ecrAPI                  // by region
	ecrCreds   map[string]aws.CredentialsProvider // by region
}

// New returns a Client.
func New(opts Options) *Client {
	if opts.PageSize <= 0 {
		opts.PageSize = 1000
	}
	if opts.Keychain == nil {
		opts.Keychain = authn.DefaultKeychain
	}
	c := &Client{
		opts:       opts,
		transport:  NewTransport(opts.HTTP, opts.Limits),
		insecure:   map[string]bool{},
		ecrClients: map[string]ecrAPI{},
		ecrCreds:   map[string]aws.CredentialsProvider{},
	}
	for _, h := range opts.Insecure {
		c.insecure[strings.ToLower(h)] = true
	}
	c.transport.plainHTTP = c.isInsecure
	c.oci = newPingCache(c.transport)
	return c
}

// Transport returns the Client's rate-limiting, retrying transport, whose
// Stats count every request made.
func (c *Client) Transport() *Transport { return c.transport }

// Stats is a snapshot of the requests made so far.
func (c *Client) Stats() Stats { return c.transport.Stats() }

// Listing is the outcome of listing one repository.
type Listing struct {
	Repository string
	Tags       []image.Tag
	Err        error
}

// ListTags lists every tag of one normalised repository (see
// image.NormalizeRepository), in the order the registry gave them.
func (c *Client) ListTags(ctx context.Context, repository string) ([]image.Tag, error) {
	out := c.List(ctx, []string{repository})
	return out[0].Tags, out[0].Err
}

// List lists several repositories concurrently, each once however often it
// appears in repos. The result has one Listing per distinct repository,
// sorted by repository. A failure of one does not stop the others.
func (c *Client) List(ctx context.Context, repos []string) []Listing {
	seen := map[string]bool{}
	var distinct []string
	for _, r := range repos {
		if !seen[r] {
			seen[r] = true
			distinct = append(distinct, r)
		}
	}
	sort.Strings(distinct)

	// Group OCI repositories by host, so each registry's authentication
	// handshake happens once per call for all its repositories.
	byHost := map[string][]int{}
	out := make([]Listing, len(distinct))
	var wg sync.WaitGroup
	for i, r := range distinct {
		out[i].Repository = r
		host := image.Host(r)
		if e, ok := parseECRHost(host); ok {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out[i].Tags, out[i].Err = c.listECR(ctx, e, image.Path(r))
			}()
			continue
		}
		byHost[host] = append(byHost[host], i)
	}
	for host, idx := range byHost {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.listOCIHost(ctx, host, idx, out)
		}()
	}
	wg.Wait()
	for i := range out {
		if out[i].Err != nil {
			out[i].Err = fmt.Errorf("listing tags for %s: %w", out[i].Repository, out[i].Err)
		}
	}
	return out
}

// Digest resolves the manifest digest a tag points to.
func (c *Client) Digest(ctx context.Context, repository, tag string) (string, error) {
	host := image.Host(repository)
	if e, ok := parseECRHost(host); ok {
		d, err := c.digestECR(ctx, e, image.Path(repository), tag)
		if err != nil {
			return "", fmt.Errorf("resolving digest of %s:%s: %w", repository, tag, err)
		}
		return d, nil
	}
	d, err := c.digestOCI(ctx, repository, tag)
	if err != nil {
		return "", fmt.Errorf("resolving digest of %s:%s: %w", repository, tag, err)
	}
	return d, nil
}

// RemoteOptions are the go-containerregistry options that send requests
// through the Client's transport (limited, retried, counted) with its
// credentials, for packages that read more than tags (signatures).
func (c *Client) RemoteOptions() []remote.Option {
	return []remote.Option{remote.WithTransport(c.oci), remote.WithAuthFromKeychain(c.opts.Keychain), remote.WithRetryStatusCodes()}
}

// IsInsecure reports whether host is spoken to over plain HTTP: a host in
// Options.Insecure, or a loopback host.
func (c *Client) IsInsecure(host string) bool { return c.isInsecure(host) }

func (c *Client) isInsecure(host string) bool {
	h := strings.ToLower(host)
	if c.insecure[h] {
		return true
	}
	name := h
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.HasSuffix(h, "]") {
		name = h[:i]
	}
	return name == "localhost" || strings.HasPrefix(name, "127.") || name == "[::1]"
}
