package awsapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// NewSignedRequest returns a request of an AWS JSON 1.1 operation to
// endpoint, signed with the AWS SDK's own SigV4 signer for signingName and
// region: for tests that send what an SDK client would not (an unknown
// member, a malformed value). c may be the zero value for an unsigned
// request.
func NewSignedRequest(ctx context.Context, endpoint string, c Credentials, signingName, region, target, body string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(endpoint, "/")+"/", strings.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("making a request to %s: %w", endpoint, err)
	}
	req.Header.Set("Content-Type", ContentType)
	req.Header.Set("X-Amz-Target", target)
	if c.AccessKeyID == "" {
		return req, nil
	}
	if c.SessionToken != "" {
		req.Header.Set("X-Amz-Security-Token", c.SessionToken)
	}
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), signingName, region, time.Now()); err != nil {
		return nil, fmt.Errorf("signing a request to %s: %w", endpoint, err)
	}
	return req, nil
}
