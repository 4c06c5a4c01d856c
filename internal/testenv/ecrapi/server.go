package ecrapi

import (
	"strings"
	"sync"
	"time"

	"github.com/ferrygitops/ferry/internal/testenv/awsapi"
)

// Defaults of a Server.
const (
	DefaultAccount         = "123456789012"
	DefaultRegion          = "us-east-1"
	DefaultAccessKeyID     = "AKIAFERRYECREMULATOR"
	DefaultSecretAccessKey = "ferry-ecr-emulator-secret-access-key"
)

// TargetPrefix is the X-Amz-Target prefix of the ECR API.
const TargetPrefix = "AmazonEC2ContainerRegistry_V20150921"

// Operations the emulator implements.
const (
	OpDescribeImages        = "DescribeImages"
	OpListImages            = "ListImages"
	OpBatchGetImage         = "BatchGetImage"
	OpGetAuthorizationToken = "GetAuthorizationToken"
)

// Credentials are the one identity a Server accepts.
type Credentials awsapi.Credentials

// Option configures a Server.
type Option = awsapi.Option

// WithCredentials sets the credentials the server accepts (default
// DefaultAccessKeyID / DefaultSecretAccessKey).
func WithCredentials(c Credentials) Option { return awsapi.WithCredentials(awsapi.Credentials(c)) }

// WithAccount sets the caller's account: the registry of requests without a
// registryId, and the default of Put's account (default DefaultAccount).
func WithAccount(account string) Option { return awsapi.WithAccount(account) }

// WithoutSignatureCheck keeps every authentication check but the
// cryptographic verification of the signature.
func WithoutSignatureCheck() Option { return awsapi.WithoutSignatureCheck() }

// Server is a running ECR API emulator. Its methods are safe for concurrent
// use. Close it when done.
//
// The embedded awsapi.Server is the endpoint (URL, e.g.
// AWS_ENDPOINT_URL_ECR, see Env) and holds fault injection (FailNext,
// ClearFaults) and the request log (Stats, Requests, TotalRequests, Calls,
// ResetStats).
type Server struct {
	*awsapi.Server

	account string // the caller's
	now     func() time.Time

	mu         sync.Mutex
	repos      map[repoKey]*repository
	cursors    map[string]cursor
	authTokens map[string]time.Time // registry password → expiry
}

// NewServer starts an emulator.
func NewServer(opts ...Option) *Server {
	s := &Server{
		now:        time.Now,
		repos:      map[repoKey]*repository{},
		cursors:    map[string]cursor{},
		authTokens: map[string]time.Time{},
	}
	cfg := awsapi.Config{
		TargetPrefix: TargetPrefix,
		SigningName:  "ecr",
		EndpointEnv:  "AWS_ENDPOINT_URL_ECR",
		Operations: map[string]awsapi.Operation{
			OpDescribeImages:        s.describeImages,
			OpListImages:            s.listImages,
			OpBatchGetImage:         s.batchGetImage,
			OpGetAuthorizationToken: s.getAuthorizationToken,
		},
		Principals: []awsapi.Principal{{
			Credentials: awsapi.Credentials{AccessKeyID: DefaultAccessKeyID, SecretAccessKey: DefaultSecretAccessKey},
			Account:     DefaultAccount,
		}},
		Now: s.now,
	}
	s.Server = awsapi.NewServer(cfg, opts...)
	s.account = s.Server.Account()
	return s
}

// Credentials returns the credentials the server accepts.
func (s *Server) Credentials() Credentials { return Credentials(s.Principal().Credentials) }

// Host returns the registry host of an account and region as image
// references spell it: "<account>.dkr.ecr.<region>.amazonaws.com" (".cn" for
// China regions). Empty arguments mean the defaults.
func Host(account, region string) string {
	if account == "" {
		account = DefaultAccount
	}
	if region == "" {
		region = DefaultRegion
	}
	suffix := "amazonaws.com"
	if strings.HasPrefix(region, "cn-") {
		suffix = "amazonaws.com.cn"
	}
	return account + ".dkr.ecr." + region + "." + suffix
}

// Repository returns the full repository reference (host and name) of a
// repository, e.g. for a manifest's image field. An empty account means the
// server's; an empty region DefaultRegion.
func (s *Server) Repository(account, region, name string) string {
	if account == "" {
		account = s.account
	}
	return Host(account, region) + "/" + name
}

// Fault injection and the request log are awsapi's.
type (
	// Fault is an injected failure of one request (see FailNext).
	Fault = awsapi.Fault
	// OpStats count the requests of one operation.
	OpStats = awsapi.OpStats
	// Call is one request received, in arrival order.
	Call = awsapi.Call
)

// AnyOperation, given to FailNext, matches a request of any operation.
const AnyOperation = awsapi.AnyOperation

// Throttling is the fault AWS answers when a caller exceeds its request
// rate: 400 ThrottlingException. retryAfter > 0 adds a Retry-After header
// (in whole seconds, rounded up).
func Throttling(retryAfter time.Duration) Fault { return awsapi.Throttling(retryAfter) }

// ServerError is a 500 ServerException.
func ServerError() Fault { return awsapi.ServerError("ServerException") }

// Unavailable is a 503 ServiceUnavailableException.
func Unavailable() Fault { return awsapi.Unavailable() }

// Delay is a fault that only delays the answer by d.
func Delay(d time.Duration) Fault { return awsapi.Delay(d) }

func invalidParameter(format string, args ...any) *awsapi.Error {
	return awsapi.BadRequest("InvalidParameterException", format, args...)
}
