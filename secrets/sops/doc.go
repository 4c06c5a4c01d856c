// Package sops decrypts files encrypted with SOPS (github.com/getsops/sops)
// in memory, at render time, so that an app's repository can hold its
// Secrets encrypted.
//
// A Decrypter holds the keys: age identities (from a Kubernetes Secret's
// keys ending in ".agekey", as Flux reads them, or from a mounted file,
// SOPS_AGE_KEY_FILE) and an AWS KMS client made from Ferry's own AWS
// configuration (the pod's identity; the endpoint may be overridden for
// emulators). FS wraps the fs.FS a render reads: every YAML or JSON file
// carrying SOPS metadata is decrypted when it is read, its integrity (the
// MAC) checked, and the clear text handed to the renderer; nothing is
// written to disk. Other files pass through unchanged.
//
// A file that cannot be decrypted is an error naming the file and the keys
// it was encrypted for (age recipients, KMS key ARNs), never a value. Only
// age and AWS KMS keys are supported; PGP, GCP KMS, Azure Key Vault,
// HashiCorp Vault and Huawei KMS keys are reported as unsupported.
package sops
