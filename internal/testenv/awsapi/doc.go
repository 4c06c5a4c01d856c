// Package awsapi is what the AWS API emulators under internal/testenv
// (ecrapi, kmsapi, secretsmanagerapi) share: an HTTP endpoint speaking the
// AWS JSON 1.1 protocol the AWS SDKs use, for tests, end to end runs and
// demos only.
//
// A Server answers POST / with Content-Type application/x-amz-json-1.1 and
// X-Amz-Target: <TargetPrefix>.<Operation>, and is strict the way AWS is:
//
//   - Authentication (SigV4): a request needs an X-Amz-Date header within
//     15 minutes of now and an "Authorization: AWS4-HMAC-SHA256
//     Credential=AKID/DATE/REGION/SERVICE/aws4_request, SignedHeaders=...,
//     Signature=..." header whose date matches X-Amz-Date, whose service is
//     the configured signing name, whose region is well formed, whose signed
//     headers include host and x-amz-date (and x-amz-security-token when one
//     is sent), and whose access key id (and session token, if the principal
//     has one) is one of the configured principals'. The signature itself is
//     verified against that principal's secret key over the method, path,
//     query, signed headers and body (Config.SkipSignature turns only this
//     last check off). Failures answer 403 MissingAuthenticationTokenException,
//     IncompleteSignatureException, UnrecognizedClientException or
//     InvalidSignatureException, never echoing a secret or the signature.
//   - Protocol: POST / only (else 404), a known X-Amz-Target (else 400
//     UnknownOperationException), the exact Content-Type and a well-formed
//     JSON body (else 400 SerializationException). Decode gives operations
//     a strict reading of their input: member names matched exactly, no
//     member the input does not define, members of the declared types.
//   - Errors are the AWS JSON error shape {"__type": ..., "message": ...}
//     with the X-Amzn-ErrorType header and the status of the Error.
//
// The region of a request is the region of its signature's credential
// scope and its account is the signing principal's: operations receive
// both in Request. Faults can be injected per operation (FailNext:
// Throttling with an optional Retry-After, ServerError, Unavailable,
// Delay), and every request is counted per operation (Stats, Requests) and
// logged with its JSON input (Calls), whatever its outcome.
//
// For tests: Server.ClientConfig is an SDK configuration for a client of
// the server (retries without sleeping), Server.Setenv points the SDK's
// default configuration at it through the environment, NewSignedRequest
// signs a hand-made request with the SDK's own signer, and ErrorCode reads
// the AWS error code of an SDK error.
//
// Not emulated: SigV4a, presigned (query string) authentication, chunked
// or unsigned payloads, the AWS JSON 1.0 and REST protocols, and IAM: a
// principal may call every operation (an emulator may refuse resources per
// principal, as kmsapi does).
package awsapi
