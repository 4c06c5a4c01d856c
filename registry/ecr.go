package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"

	"github.com/ferrygitops/ferry/image"
)

// ecrMaxPageSize is the largest maxResults DescribeImages accepts.
const ecrMaxPageSize = 1000

// ecrAPI is the part of the ECR API client Ferry uses.
type ecrAPI interface {
	DescribeImages(ctx context.Context, in *ecr.DescribeImagesInput, optFns ...func(*ecr.Options)) (*ecr.DescribeImagesOutput, error)
}

// ecrHost is a parsed private ECR registry host name.
type ecrHost struct {
	Account string // 12-digit registry (account) id
	Region  string
	Host    string // lower-cased host name
	FIPS    bool   // the host is a FIPS endpoint; API calls then use one too
}

// ecrHostPattern matches the host names of private ECR registries:
//
//	<account>.dkr.ecr.<region>.amazonaws.com           (IPv4)
//	<account>.dkr.ecr-fips.<region>.amazonaws.com      (FIPS)
//	<account>.dkr-ecr[-fips].<region>.on.aws           (dual-stack)
//	<account>.dkr-fips.ecr.<region>.amazonaws.com      (accepted alias)
//
// and the same in the China (amazonaws.com.cn, on.amazonwebservices.com.cn),
// European Sovereign Cloud and isolated partitions. It is applied to the
// lower-cased host.
var ecrHostPattern = regexp.MustCompile(`^(\d{12})\.(dkr\.ecr|dkr\.ecr-fips|dkr-fips\.ecr|dkr-ecr|dkr-ecr-fips)\.` +
	`([a-z]{2,5}(?:-[a-z]+)+-\d{1,2})\.` +
	`(amazonaws\.com|amazonaws\.com\.cn|amazonaws\.eu|on\.aws|on\.amazonwebservices\.com\.cn|sc2s\.sgov\.gov|c2s\.ic\.gov|cloud\.adc-e\.uk|csp\.hci\.ic\.gov)$`)

// parseECRHost reports whether host is a private ECR registry and, if so,
// returns its account and region. Matching is case-insensitive.
func parseECRHost(host string) (ecrHost, bool) {
	h := strings.TrimSuffix(strings.ToLower(host), ":443")
	m := ecrHostPattern.FindStringSubmatch(h)
	if m == nil {
		return ecrHost{}, false
	}
	return ecrHost{Account: m[1], Region: m[3], Host: h, FIPS: strings.Contains(m[2], "fips")}, true
}

// ecrClient returns the cached ECR API client of region, creating it on first
// use. Credentials come from the SDK's default chain (environment, shared
// config and credentials files, web identity/IRSA, EKS Pod Identity and ECS
// container credentials, EC2 instance metadata); the standard endpoint
// overrides AWS_ENDPOINT_URL_ECR and AWS_ENDPOINT_URL are honoured (both by
// LoadDefaultConfig and ecr.NewFromConfig).
//
// ECR API requests go through c.transport, which alone retries them: the
// client's retryer is a no-op, so a throttled call is retried in one place.
// The transport and no-op retryer are set on the ECR client rather than on
// the shared aws.Config, which the credential providers also use: routed
// through c.transport, the instance metadata client would lose the SDK's
// fail-fast timeouts (250ms dial, 500ms response header) and have its
// timeouts retried, so a host without credentials would hang for minutes
// before reporting so; STS (IRSA) and the container endpoint keep the
// SDK's own retries.
func (c *Client) ecrClient(ctx context.Context, region string) (ecrAPI, error) {
	c.ecrMu.Lock()
	defer c.ecrMu.Unlock()
	if api, ok := c.ecrClients[region]; ok {
		return api, nil
	}
	// The configuration outlives this call: do not tie it to ctx's cancellation.
	cfg, err := config.LoadDefaultConfig(context.WithoutCancel(ctx),
		config.WithRegion(region),
		config.WithAppID("ferry"),
		// The SDK's own warnings (an IMDSv1 fallback, say) would go to
		// stderr unstructured; what matters reaches the caller as errors.
		config.WithLogger(logging.Nop{}),
	)
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration for region %s: %w", region, err)
	}
	api := ecr.NewFromConfig(cfg, func(o *ecr.Options) {
		o.HTTPClient = &http.Client{Transport: ecrTransport{c.transport}}
		o.Retryer = aws.NopRetryer{}
		o.RetryMaxAttempts = 0 // ignore AWS_MAX_ATTEMPTS: the transport retries
	})
	c.ecrClients[region] = api
	c.ecrCreds[region] = cfg.Credentials
	return api, nil
}

// ecrCallOptions are the per-call options for registry e: a FIPS registry
// host means the FIPS API endpoint, unless an endpoint override is set (the
// SDK rejects FIPS with a custom endpoint).
func ecrCallOptions(e ecrHost) []func(*ecr.Options) {
	if !e.FIPS {
		return nil
	}
	return []func(*ecr.Options){func(o *ecr.Options) {
		if o.BaseEndpoint == nil {
			o.EndpointOptions.UseFIPSEndpoint = aws.FIPSEndpointStateEnabled
		}
	}}
}

// listECR lists every tag of repository path in registry e with
// DescribeImages, which reports each image's tags, digest and push time, so
// no per-tag call is needed. An image with several tags yields one Tag each.
func (c *Client) listECR(ctx context.Context, e ecrHost, path string) ([]image.Tag, error) {
	api, err := c.ecrClient(ctx, e.Region)
	if err != nil {
		return nil, err
	}
	pageSize := int32(min(max(c.opts.PageSize, 1), ecrMaxPageSize))
	in := &ecr.DescribeImagesInput{
		RepositoryName: aws.String(path),
		RegistryId:     aws.String(e.Account),
		MaxResults:     aws.Int32(pageSize),
		Filter:         &types.DescribeImagesFilter{TagStatus: types.TagStatusTagged},
	}
	var tags []image.Tag
	seen := map[string]bool{}
	for {
		out, err := api.DescribeImages(ctx, in, ecrCallOptions(e)...)
		if err != nil {
			return nil, c.ecrError(ctx, e, path, err)
		}
		for _, d := range out.ImageDetails {
			digest := aws.ToString(d.ImageDigest)
			for _, name := range d.ImageTags {
				t := image.Tag{Name: name, Digest: digest}
				if d.ImagePushedAt != nil {
					t.PushedAt = d.ImagePushedAt.UTC()
				}
				tags = append(tags, t)
			}
		}
		next := aws.ToString(out.NextToken)
		if next == "" {
			return tags, nil
		}
		if seen[next] {
			return nil, fmt.Errorf("ECR DescribeImages of repository %q in account %s, region %s: the pagination token repeated", path, e.Account, e.Region)
		}
		seen[next] = true
		in.NextToken = aws.String(next)
	}
}

// digestECR resolves tag to its image digest with one DescribeImages call.
func (c *Client) digestECR(ctx context.Context, e ecrHost, path, tag string) (string, error) {
	api, err := c.ecrClient(ctx, e.Region)
	if err != nil {
		return "", err
	}
	out, err := api.DescribeImages(ctx, &ecr.DescribeImagesInput{
		RepositoryName: aws.String(path),
		RegistryId:     aws.String(e.Account),
		ImageIds:       []types.ImageIdentifier{{ImageTag: aws.String(tag)}},
	}, ecrCallOptions(e)...)
	if err != nil {
		return "", c.ecrError(ctx, e, path, err)
	}
	for _, d := range out.ImageDetails {
		if d.ImageDigest != nil && *d.ImageDigest != "" {
			return *d.ImageDigest, nil
		}
	}
	return "", fmt.Errorf("ECR repository %q in account %s, region %s: tag %q: no image digest in the response", path, e.Account, e.Region, tag)
}

// ecrError explains an ECR API error, keeping it in the chain (errors.As
// finds the SDK's typed error and smithy.APIError). SDK errors carry no
// secrets: request signatures and credentials are never part of them.
func (c *Client) ecrError(ctx context.Context, e ecrHost, path string, err error) error {
	var (
		notFound *types.RepositoryNotFoundException
		noImage  *types.ImageNotFoundException
	)
	switch {
	case errors.As(err, &notFound):
		return fmt.Errorf("ECR repository %q does not exist in account %s, region %s: %w", path, e.Account, e.Region, err)
	case errors.As(err, &noImage):
		return fmt.Errorf("image not found in ECR repository %q in account %s, region %s: %w", path, e.Account, e.Region, err)
	case strings.Contains(err.Error(), "get identity:"):
		// The SDK could not sign the request; nothing was sent.
		return fmt.Errorf("ECR repository %q in account %s, region %s: no usable AWS credentials "+
			"(looked for environment variables, shared config/credentials files, web identity (IRSA), "+
			"container credentials (EKS Pod Identity, ECS) and instance metadata): %w", path, e.Account, e.Region, err)
	case isAWSAuthError(err):
		return fmt.Errorf("ECR repository %q in account %s, region %s: %w (credentials tried: %s)",
			path, e.Account, e.Region, err, c.awsCredentialSource(ctx, e.Region))
	default:
		return fmt.Errorf("ECR repository %q in account %s, region %s: %w", path, e.Account, e.Region, err)
	}
}

// isAWSAuthError reports whether err is AWS refusing the request's
// credentials or their permissions.
func isAWSAuthError(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "UnrecognizedClientException", "InvalidSignatureException", "IncompleteSignatureException",
		"AccessDeniedException", "ExpiredTokenException", "InvalidClientTokenId", "MissingAuthenticationToken":
		return true
	}
	return false
}

// awsCredentialSource names the provider of the SDK's default credential
// chain that supplied region's credentials (environment, shared files and
// profile, web identity, container or instance metadata), never the
// credentials.
func (c *Client) awsCredentialSource(ctx context.Context, region string) string {
	c.ecrMu.Lock()
	p := c.ecrCreds[region]
	c.ecrMu.Unlock()
	const chain = "the AWS SDK's default credential chain"
	if p == nil {
		return chain
	}
	creds, err := p.Retrieve(ctx)
	if err != nil || creds.Source == "" {
		return chain
	}
	return chain + ", from " + creds.Source
}
