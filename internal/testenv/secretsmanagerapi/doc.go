// Package secretsmanagerapi is a test emulator of the AWS Secrets Manager
// API, for tests, end to end runs and demos only: its secrets live in
// memory, in the clear.
//
// A Server speaks the AWS JSON 1.1 protocol the AWS SDKs use (POST / with
// X-Amz-Target: secretsmanager.<Operation>, SigV4 signed for the service
// "secretsmanager"; see package awsapi for the authentication and protocol
// checks it shares with the other emulators). Point a real SDK client at it
// with the endpoint override (BaseEndpoint, or
// AWS_ENDPOINT_URL_SECRETS_MANAGER=srv.URL: see Server.Env) and the
// credentials it was configured with.
//
// Emulated, with every member of each operation's input in the service
// model accepted and checked:
//
//   - CreateSecret (with or without a value; ClientRequestToken, which the
//     SDKs fill in, is the first version's id, and a retry with the same
//     token and value answers again instead of failing), PutSecretValue,
//     GetSecretValue and DescribeSecret, per account and region. A secret's
//     ARN is arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6
//     random letters and digits>, as AWS forms it; a SecretId is the name,
//     the ARN, or the ARN without its random suffix (a partial ARN).
//   - Versions and staging labels: a new version gets the labels it is put
//     with (AWSCURRENT by default); a label lives on one version at a time,
//     and the version that loses AWSCURRENT gets AWSPREVIOUS, so a rotation
//     (PutSecretValue, or Server.PutSecretString) leaves the new value
//     AWSCURRENT and the one before AWSPREVIOUS. GetSecretValue reads
//     AWSCURRENT unless given a VersionId or VersionStage (both must then
//     agree); DescribeSecret's VersionIdsToStages lists the versions that
//     have a label (the others are deprecated, still readable by id).
//     PutSecretValue with an existing version id and the same value changes
//     nothing; with another value it is ResourceExistsException.
//   - Errors: ResourceNotFoundException (no such secret, version or label,
//     or a label not on the given version), ResourceExistsException,
//     InvalidParameterException (a malformed name, both or neither of
//     SecretString and SecretBinary), InvalidRequestException (what the
//     emulator does not do, below), ValidationException (a missing or out
//     of range parameter), all 400. Faults are injected per operation
//     (Server.FailNext with Throttling, InternalError, DecryptionFailure,
//     Delay): ThrottlingException and InternalServiceError are retried by
//     the SDKs, DecryptionFailure is not.
//
// Every request is counted per operation and logged with its JSON input
// (Server.Stats, Server.Requests, Server.Calls), and successful reads per
// secret (Server.Reads): tests assert that a sync reads each distinct
// secret once. Secrets can also be made, rotated and deleted without the
// API (Server.CreateSecret, Server.PutSecretString, Server.DeleteSecret),
// in any account and region.
//
// Not emulated: encryption (KmsKeyId is stored and shown, never used;
// DecryptionFailure only as an injected fault), deletion and restore
// through the API, rotation configuration (RotationToken), replica regions,
// managed external and cross-account secrets (InvalidRequestException),
// resource policies (a principal sees its own account's secrets only), and
// every other operation, ListSecrets and BatchGetSecretValue included (400
// UnknownOperationException).
package secretsmanagerapi
