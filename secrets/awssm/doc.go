// Package awssm fills Kubernetes Secrets from AWS Secrets Manager at sync
// time, so that the Secret's manifest is reviewed in git while its values
// never are.
//
// # The manifest
//
// A Secret names its source with annotations:
//
//	apiVersion: v1
//	kind: Secret
//	metadata:
//	  name: db
//	  annotations:
//	    ferry.dev/secretsmanager-secret-id: prod/myapp/db
//	    ferry.dev/secretsmanager-key.DB_PASSWORD: password
//	    ferry.dev/secretsmanager-key.DB_USER: username
//	type: Opaque
//
// ferry.dev/secretsmanager-secret-id is the secret's name or ARN (an ARN
// names its region; a name is looked up in Ferry's configured region).
// Each ferry.dev/secretsmanager-key.KEY annotation fills data entry KEY
// with the field its value names in the secret's JSON object (a string
// field as it is, any other JSON value as its JSON text); an empty value
// fills KEY with the whole secret value (SecretString, or SecretBinary).
// A Secret with the secret id and no key annotation gets one data entry
// per top-level field of the JSON object. ferry.dev/secretsmanager-version-stage
// picks another staging label than AWSCURRENT (e.g. AWSPREVIOUS). A
// filled key must not also be written in the manifest's data or
// stringData.
//
// # Sync
//
// Fill runs after the render and before the diff and the apply. Per sync
// it calls DescribeSecret once per distinct secret (and stage) to learn
// the version carrying the stage, and GetSecretValue only for a version
// it has not read before: values are cached in memory by secret ARN and
// version id, so a steady state costs one DescribeSecret per distinct
// secret and no GetSecretValue. The filled Secret carries
// ferry.dev/secretsmanager-version (the version id), and its applied hash
// (render.AnnotationAppliedHash) is derived from the rendered hash and the
// version ids, never from a value: a rotation (a new AWSCURRENT version)
// changes the hash, so the Secret is applied again.
//
// Any failure (a secret or field that does not exist, access denied,
// throttling that outlasts the SDK's retries, a malformed manifest) stops
// the sync before any change; errors name the manifest's source, the
// Secret and the secret id, never a value.
package awssm
