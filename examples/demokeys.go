package examples

import _ "embed"

// DemoAgeKey is the DEMO-ONLY age identity that decrypts
// repo/secrets/db-credentials.sops.yaml: it is public, for `make demo` and
// the tests; nothing real may ever be encrypted for it.
//
//go:embed demo-keys/age.agekey
var DemoAgeKey []byte
