package secretsmanagerapi

import (
	"net/http"
	"sync"

	"github.com/ferrygitops/ferry/internal/testenv/awsapi"
)

// Defaults of a Server.
const (
	DefaultAccount         = "123456789012"
	DefaultRegion          = "us-east-1"
	DefaultAccessKeyID     = "AKIAFERRYSMEMULATOR0"
	DefaultSecretAccessKey = "ferry-secretsmanager-emulator-secret-access-key"
)

// TargetPrefix is the X-Amz-Target prefix of the Secrets Manager API.
const TargetPrefix = "secretsmanager"

// Operations the emulator implements.
const (
	OpCreateSecret   = "CreateSecret"
	OpPutSecretValue = "PutSecretValue"
	OpGetSecretValue = "GetSecretValue"
	OpDescribeSecret = "DescribeSecret"
)

// Staging labels Secrets Manager manages itself.
const (
	StageCurrent  = "AWSCURRENT"
	StagePrevious = "AWSPREVIOUS"
	StagePending  = "AWSPENDING"
)

// InternalError is a 500 InternalServiceError, which the SDKs retry: a
// fault for Server.FailNext beside awsapi.Throttling and awsapi.Delay.
func InternalError() awsapi.Fault { return awsapi.ServerError("InternalServiceError") }

// DecryptionFailure is the 400 DecryptionFailure Secrets Manager answers
// when it cannot decrypt a secret with its KMS key (the key was disabled,
// or the service may no longer use it): a fault for Server.FailNext. The
// SDKs do not retry it.
func DecryptionFailure() awsapi.Fault {
	return awsapi.Fault{Status: http.StatusBadRequest, Code: "DecryptionFailure",
		Message: "Secrets Manager can't decrypt the protected secret text using the provided KMS key."}
}

// Server is a running Secrets Manager API emulator. Its methods are safe for
// concurrent use. Close it when done.
//
// The embedded awsapi.Server is the endpoint (URL, e.g.
// AWS_ENDPOINT_URL_SECRETS_MANAGER, see Env) and holds fault injection
// (FailNext, ClearFaults, with awsapi.Throttling, InternalError,
// DecryptionFailure, awsapi.Delay) and the request log (Stats, Requests,
// TotalRequests, Calls, ResetStats).
type Server struct {
	*awsapi.Server

	mu      sync.Mutex
	secrets map[secretKey]*secret
}

// NewServer starts an emulator with no secrets. opts set who may call it
// (awsapi.WithCredentials, WithAccount, WithPrincipal: a principal sees its
// own account's secrets only).
func NewServer(opts ...awsapi.Option) *Server {
	s := &Server{secrets: map[secretKey]*secret{}}
	cfg := awsapi.Config{
		TargetPrefix: TargetPrefix,
		SigningName:  "secretsmanager",
		EndpointEnv:  "AWS_ENDPOINT_URL_SECRETS_MANAGER",
		Operations: map[string]awsapi.Operation{
			OpCreateSecret:   s.createSecret,
			OpPutSecretValue: s.putSecretValue,
			OpGetSecretValue: s.getSecretValue,
			OpDescribeSecret: s.describeSecret,
		},
		Principals: []awsapi.Principal{{
			Credentials: awsapi.Credentials{AccessKeyID: DefaultAccessKeyID, SecretAccessKey: DefaultSecretAccessKey},
			Account:     DefaultAccount,
		}},
	}
	s.Server = awsapi.NewServer(cfg, opts...)
	return s
}
