// Package verify checks that a container image is signed, with Sigstore's Go
// libraries: sigstore-go does all the cryptography (signatures, certificate
// chains, transparency-log entries and their signed timestamps, RFC 3161
// timestamps, SCTs, identities) and cosign's oci packages read its legacy
// signature format. Nothing here verifies a signature by hand.
//
// # What is accepted
//
// Settings name the signers a policy trusts: cosign public keys, keyless
// identities (an OIDC issuer and a subject, each exact or a regular
// expression matching the whole value), or both; any of them may sign. A
// trusted root (trusted_root.json) says which Fulcio CAs, Rekor logs, CT
// logs and timestamp authorities are trusted; by default it is the public
// Sigstore instance's, embedded in the binary (see PublicGoodRootSource), so
// verification needs no network beyond the registry. Keyless signatures
// must be in a trusted transparency log, have a trusted observer timestamp
// and, when the root names CT logs, an SCT. Key signatures must be in a
// trusted log too, as cosign requires by default, unless IgnoreTlog is set.
//
// # Where signatures are found
//
// For an image digest both of cosign's storage schemes are tried:
//
//  1. Sigstore bundles attached through the OCI 1.1 referrers API (artifact
//     type application/vnd.dev.sigstore.bundle.v0.3+json), falling back to
//     the referrers tag (sha256-<hex>) on registries without the API, as
//     cosign sign --new-bundle-format writes them. A bundle counts as an
//     image signature when it holds a message signature over the manifest
//     digest or a DSSE in-toto statement with the predicate SignPredicate
//     whose subject is the digest; other predicates (provenance, SBOMs) are
//     attestations and are ignored.
//  2. cosign's simple signing under the tag sha256-<hex>.sig: each layer's
//     payload is verified with its signature, certificate, Rekor bundle and
//     timestamp annotations, and must name the digest.
//
// The first signature an accepted signer made wins. Otherwise the Result
// says why: Unsigned, Invalid, Untrusted, WrongKey, TlogMissing,
// IdentityMismatch or DigestMismatch (an accepted signer signed another
// image: the content is not what was signed), the most specific when
// several signatures fail.
//
// # What it costs
//
// Every request goes through the caller's remote options, so Ferry's
// registry transport limits, retries and counts them. Per candidate: one
// manifest HEAD when the tag's digest is not known; one referrers request
// (plus the tag fallback on registries without the API); for each bundle
// examined, its manifest and blob; then, only when no bundle verified, one
// .sig manifest request and one blob per simple-signing layer examined. At
// most MaxSignatures signatures are examined per scheme. A verified digest
// is remembered in the Cache under the settings' hash: checking it again
// makes no signature request.
package verify
