// Package ecrapi is a test emulator of the Amazon ECR API, for tests, end to
// end runs and demos only. It is not a registry (it serves no manifests or
// blobs over the OCI distribution API) and it is not meant for production.
//
// A Server speaks the AWS JSON 1.1 protocol the AWS SDKs use: POST / with
// Content-Type application/x-amz-json-1.1 and
// X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.<Operation>. Point a
// real SDK client at it with the standard endpoint override
// (AWS_ENDPOINT_URL_ECR=srv.URL, see Server.Env) and the credentials it was
// configured with.
//
// It implements DescribeImages, ListImages, BatchGetImage and
// GetAuthorizationToken over repositories and images added with
// Server.CreateRepository, Server.Put and Server.PutImage, and it is strict
// the way AWS is:
//
//   - Authentication: a request needs an X-Amz-Date header within 15 minutes
//     of now and an "Authorization: AWS4-HMAC-SHA256 Credential=AKID/DATE/
//     REGION/ecr/aws4_request, SignedHeaders=..., Signature=..." header whose
//     date matches X-Amz-Date, whose service is ecr, whose signed headers
//     include host and x-amz-date, and whose access key id (and session token,
//     if one is configured) is the emulator's. The signature itself is
//     verified against the configured secret key over the method, path,
//     query, signed headers and body (disable with WithoutSignatureCheck).
//     Failures answer 403 MissingAuthenticationTokenException,
//     IncompleteSignatureException, UnrecognizedClientException or
//     InvalidSignatureException.
//   - Protocol: POST only, the exact Content-Type, a known X-Amz-Target
//     (else 400 UnknownOperationException), a well-formed JSON body of the
//     right member types with no member the operation's input does not
//     define, names matched exactly (else 400 SerializationException).
//   - Parameters: repositoryName required and well formed, registryId twelve
//     digits, maxResults within 1..1000, imageIds 1..100 and not combined
//     with maxResults/nextToken, enum values (tagStatus, imageStatus) checked;
//     violations are 400 InvalidParameterException.
//   - Pagination: nextToken values are opaque random strings bound to the
//     operation, repository and filter that issued them; any other token is
//     400 InvalidParameterException. Results come in a stable order (the
//     order images were first pushed), 100 per page when maxResults is unset.
//   - Errors use the AWS JSON error shape {"__type": ..., "message": ...} and
//     the X-Amzn-ErrorType header: RepositoryNotFoundException and
//     ImageNotFoundException are 400.
//
// The region of a request is the region of its signature's credential
// scope, and registryId defaults to the caller's account (WithAccount), as
// with AWS. Faults can be injected per operation (Server.FailNext: throttling
// with an optional Retry-After, 500/503, delays), and every request is
// counted per operation (Server.Stats, Server.Requests) and logged with its
// JSON input (Server.Calls).
//
// The protocol, SigV4 verification, fault injection and request log are
// package awsapi's, which the KMS and Secrets Manager emulators share.
package ecrapi
