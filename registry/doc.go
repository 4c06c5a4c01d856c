// Package registry lists the tags of container image repositories.
//
// Two back ends sit behind one Client: any OCI distribution registry, through
// go-containerregistry (tags/list with Link pagination, credentials from the
// docker config keychain, plain HTTP for localhost), and AWS ECR, through the
// ECR API (DescribeImages returns every tag with its digest and push time in
// one listing). Every HTTP request of either goes through one Transport that
// keeps, per registry host, an adaptive concurrency window and rate (grown
// while calls succeed, halved on 429, 503 and throttling errors, within
// ceilings per kind of registry: see ProfileFor), a per request timeout,
// retries with capped exponential backoff and jitter (internal/retry,
// honouring Retry-After), and counts the calls made. Each registry is pinged
// once per scan (the answer to GET /v2/ is reused), and authentication
// failures name the credentials tried.
package registry
