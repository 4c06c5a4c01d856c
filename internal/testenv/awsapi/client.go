package awsapi

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// ClientConfig returns an AWS SDK configuration for a client of the
// server: its URL as BaseEndpoint, region, c as static credentials, and at
// most maxAttempts attempts per call (1: no retries), retried at once
// (the SDK's standard retryer, without its backoff delay, so that tests of
// retries do not sleep).
func (s *Server) ClientConfig(region string, c Credentials, maxAttempts int) aws.Config {
	retryer := func() aws.Retryer { return aws.NopRetryer{} }
	if maxAttempts > 1 {
		retryer = func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = maxAttempts
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			})
		}
	}
	return aws.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken),
		BaseEndpoint: aws.String(s.URL),
		Retryer:      retryer,
	}
}

// Setenv points the AWS SDK's default configuration (config.
// LoadDefaultConfig), in this test's process, at the server: Env, and
// AWS_REGION=region, with no shared config or credentials file and no
// instance metadata to fall back on. It uses t.Setenv, so the test may not
// run in parallel.
func (s *Server) Setenv(t testing.TB, region string) {
	none := filepath.Join(t.TempDir(), "none")
	t.Setenv("AWS_CONFIG_FILE", none)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", none)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_REGION", region)
	for name, value := range s.Env() {
		t.Setenv(name, value)
	}
}
