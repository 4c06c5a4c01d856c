// Package kmsapi is a test emulator of the AWS Key Management Service
// (KMS) API, for tests, end to end runs and demos only: its keys live in
// memory and its ciphertexts open only in the process that made them.
//
// A Server speaks the AWS JSON 1.1 protocol the AWS SDKs use (POST / with
// X-Amz-Target: TrentService.<Operation>, SigV4 signed for the service
// "kms"; see package awsapi for the authentication and protocol checks it
// shares with the other emulators). Point a real SDK client at it with the
// endpoint override (BaseEndpoint, or AWS_ENDPOINT_URL_KMS=srv.URL: see
// Server.Env) and the credentials it was configured with.
//
// Emulated, for symmetric encryption keys (key spec SYMMETRIC_DEFAULT,
// origin AWS_KMS), with every member of each operation's input in the
// service model accepted and checked:
//
//   - CreateKey, DescribeKey, EnableKey, DisableKey, CreateAlias; keys and
//     aliases are per account and region as in AWS. A key id is a UUID, a
//     key ARN is arn:aws:kms:<region>:<account>:key/<id> (partition aws-cn
//     or aws-us-gov in those regions), an alias is "alias/<name>" and its
//     ARN arn:aws:kms:<region>:<account>:alias/<name>. Where AWS takes a
//     KeyId (Encrypt, Decrypt, GenerateDataKey, DescribeKey) it may be any
//     of the four; EnableKey, DisableKey and CreateAlias's TargetKeyId take
//     a key id or key ARN. A key id or alias name is resolved in the
//     caller's account and the request's region; an ARN must name the
//     request's region.
//   - Encrypt, Decrypt and GenerateDataKey (NumberOfBytes 1..1024 or
//     KeySpec AES_128/AES_256): what SOPS's KMS key source calls is Encrypt
//     and Decrypt, each with KeyId (a key or alias ARN), the blob or
//     plaintext, and EncryptionContext (always sent, often {}).
//     Ciphertext blobs are really encrypted: AES-256-GCM under the key's own
//     random material, with the key's ARN and the encryption context as
//     authenticated data. Decrypt finds the key in the blob, as KMS does;
//     a blob presented with another encryption context (an absent context
//     and {} are the same), tampered with, or of a key of another region is
//     400 InvalidCiphertextException; a KeyId naming another key than the
//     blob's is IncorrectKeyException. DryRun answers 412
//     DryRunOperationException when the call would have succeeded.
//   - Errors: NotFoundException (a key or alias that does not exist, a
//     malformed key id or ARN), DisabledException (a disabled key used for
//     a cryptographic operation), AccessDeniedException (a key the caller
//     may not use: another account's key, or a key whose KeyOptions.Users
//     do not name the caller), AlreadyExistsException,
//     InvalidAliasNameException, InvalidKeyUsageException (an asymmetric
//     encryption algorithm), MalformedPolicyDocumentException, TagException,
//     ValidationException (a missing or out of range parameter, an unknown
//     enum value), UnsupportedOperationException (what the emulator does
//     not do, below), with the HTTP statuses of the service model. Faults
//     are injected per operation (Server.FailNext with Throttling,
//     InternalError, Delay): ThrottlingException and KMSInternalException
//     are retried by the SDKs.
//
// Every request is counted per operation and logged with its JSON input
// (Server.Stats, Server.Requests, Server.Calls): tests assert how many
// calls a feature makes. Keys and aliases can also be made without the API
// (Server.CreateKey, Server.SetEnabled), in any account and region.
//
// Not emulated: asymmetric, HMAC, multi-Region, imported-material and
// custom key store keys (UnsupportedOperationException), Recipient
// (Nitro Enclaves attestation), key policies and grants (a policy must be a
// JSON document but is not evaluated; grant tokens are accepted and
// ignored: access is KeyOptions.Users or the key's account), key rotation,
// deletion, tags beyond CreateKey, and every other operation (400
// UnknownOperationException).
package kmsapi
