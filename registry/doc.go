// Package registry lists the tags of container image repositories.
//
// Two back ends sit behind one Client: any OCI distribution registry, through
// go-containerregistry (tags/list with Link pagination, credentials from the
// docker config keychain, plain HTTP for localhost), and AWS ECR, through the
// ECR API (DescribeImages returns every tag with its digest and push time in
// one listing). Every HTTP request of either goes through one Transport that
// applies a per-registry request-rate limit, bounded concurrency, a per
// request timeout, retries with capped exponential backoff and jitter on
// 429, 5xx, throttling errors and timeouts (honouring Retry-After), and counts
// the calls made.
package registry
