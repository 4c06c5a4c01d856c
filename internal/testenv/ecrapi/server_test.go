package ecrapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/smithy-go"

	"github.com/ferrygitops/ferry/internal/testenv/awsapi"
	"github.com/ferrygitops/ferry/registry"
)

// sdkClient is a real ECR SDK client pointed at srv with creds. Its
// requests go through Ferry's registry transport (retries off), as Ferry's
// own ECR client's do.
func sdkClient(srv *Server, region string, creds Credentials) *ecr.Client {
	return ecr.NewFromConfig(aws.Config{
		HTTPClient:   &http.Client{Transport: registry.NewTransport(nil, registry.Limits{MaxRetries: -1, RatePerSecond: 1e6, Burst: 1000})},
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken),
		BaseEndpoint: aws.String(srv.URL),
		Retryer:      func() aws.Retryer { return aws.NopRetryer{} },
	})
}

func apiCode(t *testing.T, err error) string {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an API error", err)
	}
	return ae.ErrorCode()
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func TestDescribeImagesThroughSDK(t *testing.T) {
	t.Parallel()
	srv := NewServer()
	defer srv.Close()
	d1 := srv.Put("", "", "team/app", []string{"v1", "latest"}, "", t0)
	d2 := srv.Put("", "", "team/app", []string{"v2"}, Digest("two"), t0.Add(1500*time.Millisecond))
	srv.Put("", "", "team/app", nil, "", t0.Add(time.Hour)) // untagged
	srv.Put("", "eu-west-1", "team/app", []string{"other-region"}, "", t0)

	c := sdkClient(srv, DefaultRegion, srv.Credentials())
	ctx := context.Background()
	out, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{
		RepositoryName: aws.String("team/app"),
		Filter:         &types.DescribeImagesFilter{TagStatus: types.TagStatusTagged},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.ImageDetails) != 2 || out.NextToken != nil {
		t.Fatalf("got %d images, token %v; want 2, none", len(out.ImageDetails), out.NextToken)
	}
	got := out.ImageDetails[0]
	if *got.ImageDigest != d1 || strings.Join(got.ImageTags, ",") != "v1,latest" || !got.ImagePushedAt.Equal(t0) ||
		*got.RegistryId != DefaultAccount || *got.RepositoryName != "team/app" {
		t.Errorf("first image = %+v", got)
	}
	second := out.ImageDetails[1]
	if *second.ImageDigest != d2 || second.ImagePushedAt.Sub(t0.Add(1500*time.Millisecond)).Abs() > time.Millisecond {
		t.Errorf("second image = %s at %s", *second.ImageDigest, second.ImagePushedAt)
	}

	all, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("team/app")})
	if err != nil || len(all.ImageDetails) != 3 {
		t.Fatalf("ANY: %v, %d images", err, len(all.ImageDetails))
	}
	untagged, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{
		RepositoryName: aws.String("team/app"),
		Filter:         &types.DescribeImagesFilter{TagStatus: types.TagStatusUntagged},
	})
	if err != nil || len(untagged.ImageDetails) != 1 || len(untagged.ImageDetails[0].ImageTags) != 0 {
		t.Fatalf("UNTAGGED: %v, %+v", err, untagged)
	}

	// By tag, and by tag and digest.
	one, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{
		RepositoryName: aws.String("team/app"),
		ImageIds:       []types.ImageIdentifier{{ImageTag: aws.String("latest")}, {ImageDigest: aws.String(d1), ImageTag: aws.String("v1")}},
	})
	if err != nil || len(one.ImageDetails) != 1 || *one.ImageDetails[0].ImageDigest != d1 {
		t.Fatalf("by tag: %v, %+v", err, one)
	}
	_, err = c.DescribeImages(ctx, &ecr.DescribeImagesInput{
		RepositoryName: aws.String("team/app"),
		ImageIds:       []types.ImageIdentifier{{ImageTag: aws.String("nope")}},
	})
	var inf *types.ImageNotFoundException
	if !errors.As(err, &inf) {
		t.Fatalf("missing tag: %v", err)
	}

	_, err = c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("team/missing")})
	var rnf *types.RepositoryNotFoundException
	if !errors.As(err, &rnf) || !strings.Contains(err.Error(), "team/missing") {
		t.Fatalf("missing repository: %v", err)
	}
	// The region of the signature selects the repository set.
	eu := sdkClient(srv, "eu-west-1", srv.Credentials())
	out, err = eu.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("team/app")})
	if err != nil || len(out.ImageDetails) != 1 || out.ImageDetails[0].ImageTags[0] != "other-region" {
		t.Fatalf("eu-west-1: %v, %+v", err, out)
	}
	// Another account's registry.
	_, err = c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("team/app"), RegistryId: aws.String("999999999999")})
	if !errors.As(err, &rnf) {
		t.Fatalf("other account: %v", err)
	}
}

func TestPaginationThroughSDK(t *testing.T) {
	t.Parallel()
	srv := NewServer()
	defer srv.Close()
	for i := range 250 {
		tags := []string{fmt.Sprintf("t%03d", i)}
		if i%50 == 0 {
			tags = append(tags, fmt.Sprintf("alias%03d", i))
		}
		srv.Put("", "", "app", tags, Digest(fmt.Sprint(i)), t0.Add(time.Duration(i)*time.Second))
	}
	srv.Put("", "", "app", nil, "", t0)
	c := sdkClient(srv, DefaultRegion, srv.Credentials())
	ctx := context.Background()

	var pages, images int
	p := ecr.NewDescribeImagesPaginator(c, &ecr.DescribeImagesInput{
		RepositoryName: aws.String("app"),
		MaxResults:     aws.Int32(100),
		Filter:         &types.DescribeImagesFilter{TagStatus: types.TagStatusTagged},
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, d := range out.ImageDetails {
			if want := Digest(fmt.Sprint(images)); *d.ImageDigest != want {
				t.Fatalf("image %d: digest %s, want %s (order not stable)", images, *d.ImageDigest, want)
			}
			images++
		}
	}
	if pages != 3 || images != 250 || srv.Requests(OpDescribeImages) != 3 {
		t.Fatalf("pages=%d images=%d requests=%d; want 3, 250, 3", pages, images, srv.Requests(OpDescribeImages))
	}

	// Default page size is 100; ListImages has one entry per tag plus the untagged image.
	var ids int
	lp := ecr.NewListImagesPaginator(c, &ecr.ListImagesInput{RepositoryName: aws.String("app")})
	for lp.HasMorePages() {
		out, err := lp.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.ImageIds) > 100 {
			t.Fatalf("page of %d ids", len(out.ImageIds))
		}
		ids += len(out.ImageIds)
	}
	if ids != 250+5+1 || srv.Requests(OpListImages) != 3 {
		t.Fatalf("ids=%d requests=%d; want 256, 3", ids, srv.Requests(OpListImages))
	}
	tagged, err := c.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("app"), MaxResults: aws.Int32(1000),
		Filter: &types.ListImagesFilter{TagStatus: types.TagStatusUntagged}})
	if err != nil || len(tagged.ImageIds) != 1 || tagged.ImageIds[0].ImageTag != nil {
		t.Fatalf("untagged list: %v %+v", err, tagged)
	}

	// A token belongs to its operation, repository and filter.
	first, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("app"), MaxResults: aws.Int32(10)})
	if err != nil || first.NextToken == nil {
		t.Fatal(err)
	}
	for name, in := range map[string]*ecr.DescribeImagesInput{
		"garbage":      {RepositoryName: aws.String("app"), NextToken: aws.String("garbage")},
		"other filter": {RepositoryName: aws.String("app"), NextToken: first.NextToken, Filter: &types.DescribeImagesFilter{TagStatus: types.TagStatusTagged}},
		"maxResults 0": {RepositoryName: aws.String("app"), MaxResults: aws.Int32(0)},
		"maxResults":   {RepositoryName: aws.String("app"), MaxResults: aws.Int32(1001)},
		"ids and max":  {RepositoryName: aws.String("app"), MaxResults: aws.Int32(5), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("t001")}}},
		"bad name":     {RepositoryName: aws.String("App")},
		"bad registry": {RepositoryName: aws.String("app"), RegistryId: aws.String("12")},
	} {
		_, err := c.DescribeImages(ctx, in)
		if code := apiCode(t, err); code != "InvalidParameterException" {
			t.Errorf("%s: code %s (%v)", name, code, err)
		}
	}
	_, err = c.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("app"), NextToken: first.NextToken})
	if code := apiCode(t, err); code != "InvalidParameterException" {
		t.Errorf("DescribeImages token in ListImages: %s", code)
	}
	// The token is reusable.
	again, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("app"), NextToken: first.NextToken, MaxResults: aws.Int32(10)})
	if err != nil || *again.ImageDetails[0].ImageDigest != Digest("10") {
		t.Fatalf("second page: %v", err)
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	creds := Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "s3cret", SessionToken: "session"}
	srv := NewServer(WithCredentials(creds), WithAccount("111122223333"))
	defer srv.Close()
	srv.CreateRepository("", "", "app")
	ctx := context.Background()
	in := &ecr.DescribeImagesInput{RepositoryName: aws.String("app")}

	if _, err := sdkClient(srv, DefaultRegion, creds).DescribeImages(ctx, in); err != nil {
		t.Fatalf("valid credentials: %v", err)
	}
	for name, tc := range map[string]struct {
		creds Credentials
		code  string
	}{
		"wrong key":     {Credentials{"AKIDOTHER", "s3cret", "session"}, "UnrecognizedClientException"},
		"wrong secret":  {Credentials{"AKIDTEST", "guess", "session"}, "InvalidSignatureException"},
		"wrong session": {Credentials{"AKIDTEST", "s3cret", "other"}, "UnrecognizedClientException"},
		"no session":    {Credentials{"AKIDTEST", "s3cret", ""}, "UnrecognizedClientException"},
	} {
		_, err := sdkClient(srv, DefaultRegion, tc.creds).DescribeImages(ctx, in)
		if code := apiCode(t, err); code != tc.code {
			t.Errorf("%s: %s, want %s", name, code, tc.code)
		}
		if strings.Contains(err.Error(), tc.creds.SecretAccessKey) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: error leaks the secret: %v", name, err)
		}
	}
	if st := srv.Stats(OpDescribeImages); st.Requests != 5 || st.OK != 1 || st.Rejected != 4 {
		t.Errorf("stats = %+v", st)
	}
	for _, c := range srv.Calls() {
		if c.Region != DefaultRegion {
			t.Errorf("call region %q", c.Region)
		}
	}
}

// raw sends a hand-made request and returns status, __type and header error type.
func raw(t *testing.T, srv *Server, target, contentType string, hdr map[string]string, body string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/", strings.NewReader(body))
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var e struct {
		Type string `json:"__type"`
	}
	_ = json.Unmarshal(data, &e)
	return resp.StatusCode, e.Type, resp.Header
}

func TestProtocolStrictness(t *testing.T) {
	t.Parallel()
	srv := NewServer()
	defer srv.Close()
	const ct = "application/x-amz-json-1.1"
	target := TargetPrefix + "." + OpDescribeImages
	now := time.Now().UTC()
	date := now.Format(awsapi.AmzDateFormat)
	goodAuth := "AWS4-HMAC-SHA256 Credential=" + DefaultAccessKeyID + "/" + date[:8] + "/us-east-1/ecr/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("0", 64)

	for name, tc := range map[string]struct {
		target, ct string
		hdr        map[string]string
		status     int
		code       string
	}{
		"unsigned":       {target, ct, nil, 403, "MissingAuthenticationTokenException"},
		"no date":        {target, ct, map[string]string{"Authorization": goodAuth}, 403, "IncompleteSignatureException"},
		"wrong service":  {target, ct, map[string]string{"X-Amz-Date": date, "Authorization": strings.Replace(goodAuth, "/ecr/", "/s3/", 1)}, 403, "InvalidSignatureException"},
		"wrong key":      {target, ct, map[string]string{"X-Amz-Date": date, "Authorization": strings.Replace(goodAuth, DefaultAccessKeyID, "AKIDNOPE", 1)}, 403, "UnrecognizedClientException"},
		"bad signature":  {target, ct, map[string]string{"X-Amz-Date": date, "Authorization": goodAuth}, 403, "InvalidSignatureException"},
		"old date":       {target, ct, map[string]string{"X-Amz-Date": now.Add(-time.Hour).Format(awsapi.AmzDateFormat), "Authorization": goodAuth}, 403, "InvalidSignatureException"},
		"basic auth":     {target, ct, map[string]string{"X-Amz-Date": date, "Authorization": "Basic Zm9vOmJhcg=="}, 403, "IncompleteSignatureException"},
		"unknown target": {TargetPrefix + ".DeleteEverything", ct, nil, 400, "UnknownOperationException"},
		"other service":  {"DynamoDB_20120810.GetItem", ct, nil, 400, "UnknownOperationException"},
		"no target":      {"", ct, nil, 400, "UnknownOperationException"},
		"content type":   {target, "application/json", nil, 400, "SerializationException"},
	} {
		status, code, h := raw(t, srv, tc.target, tc.ct, tc.hdr, `{"repositoryName":"app"}`)
		if status != tc.status || code != tc.code || h.Get("X-Amzn-ErrorType") != tc.code {
			t.Errorf("%s: %d %s (header %q), want %d %s", name, status, code, h.Get("X-Amzn-ErrorType"), tc.status, tc.code)
		}
	}
	if st := srv.Stats(OpDescribeImages); st.OK != 0 || st.Rejected != 8 {
		t.Errorf("stats = %+v", st)
	}
	if srv.TotalRequests() != 11 {
		t.Errorf("total = %d", srv.TotalRequests())
	}
}

func TestSerializationErrors(t *testing.T) {
	t.Parallel()
	srv := NewServer(WithoutSignatureCheck())
	defer srv.Close()
	srv.CreateRepository("", "", "app")
	date := time.Now().UTC().Format(awsapi.AmzDateFormat)
	hdr := map[string]string{
		"X-Amz-Date":    date,
		"Authorization": "AWS4-HMAC-SHA256 Credential=" + DefaultAccessKeyID + "/" + date[:8] + "/us-east-1/ecr/aws4_request, SignedHeaders=host;x-amz-date, Signature=00",
	}
	for body, want := range map[string]string{
		`{"repositoryName":"app"}`:                               "",
		`{"repositoryName":"app","maxResults":"10"}`:             "SerializationException",
		`{"repositoryName":"app","maxResults":1.5}`:              "SerializationException",
		`{"repositoryName":"app"`:                                "SerializationException",
		`{"repositoryName":"app"} {}`:                            "SerializationException",
		`{"maxResults":10}`:                                      "InvalidParameterException",
		`{"repositoryName":"app","imageIds":[]}`:                 "InvalidParameterException",
		`{"repositoryName":"app","imageIds":[{}]}`:               "InvalidParameterException",
		`{"repositoryName":"app","filter":{"tagStatus":"SOME"}}`: "InvalidParameterException",
		`{"repositoryName":"app","nextToken":""}`:                "InvalidParameterException",
	} {
		status, code, _ := raw(t, srv, TargetPrefix+"."+OpDescribeImages, "application/x-amz-json-1.1", hdr, body)
		if code != want || (want == "" && status != 200) || (want != "" && status != 400) {
			t.Errorf("%s: %d %q, want %q", body, status, code, want)
		}
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	srv := NewServer()
	defer srv.Close()
	srv.Put("", "", "app", []string{"v1"}, "", t0)
	c := sdkClient(srv, DefaultRegion, srv.Credentials())
	ctx := context.Background()
	in := &ecr.DescribeImagesInput{RepositoryName: aws.String("app")}

	srv.FailNext(OpDescribeImages, 1, Throttling(1500*time.Millisecond))
	srv.FailNext(OpDescribeImages, 1, ServerError())
	srv.FailNext(AnyOperation, 1, Unavailable())
	var codes []string
	var status []int
	for range 4 {
		_, err := c.DescribeImages(ctx, in)
		if err == nil {
			codes = append(codes, "")
			continue
		}
		codes = append(codes, apiCode(t, err))
		var re interface{ HTTPStatusCode() int }
		if errors.As(err, &re) {
			status = append(status, re.HTTPStatusCode())
		}
	}
	if got := strings.Join(codes, ","); got != "ThrottlingException,ServerException,ServiceUnavailableException," {
		t.Errorf("codes = %s", got)
	}
	if fmt.Sprint(status) != "[400 500 503]" {
		t.Errorf("statuses = %v", status)
	}
	calls := srv.Calls()
	if calls[0].ErrorCode != "ThrottlingException" || calls[0].Status != 400 {
		t.Errorf("first call = %+v", calls[0])
	}
	if st := srv.Stats(OpDescribeImages); st.Requests != 4 || st.Faults != 3 || st.OK != 1 {
		t.Errorf("stats = %+v", st)
	}

	// Retry-After and X-Amzn-ErrorType reach the wire.
	srv.FailNext(OpDescribeImages, 1, Throttling(2*time.Second))
	var gotHeader http.Header
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err == nil {
			gotHeader = resp.Header
		}
		return resp, err
	})}
	c2 := ecr.NewFromConfig(aws.Config{
		Region:       DefaultRegion,
		Credentials:  credentials.NewStaticCredentialsProvider(DefaultAccessKeyID, DefaultSecretAccessKey, ""),
		BaseEndpoint: aws.String(srv.URL),
		Retryer:      func() aws.Retryer { return aws.NopRetryer{} },
		HTTPClient:   hc,
	})
	if _, err := c2.DescribeImages(ctx, in); err == nil {
		t.Fatal("no throttling")
	}
	if gotHeader.Get("Retry-After") != "2" || gotHeader.Get("X-Amzn-ErrorType") != "ThrottlingException" {
		t.Errorf("headers = %v", gotHeader)
	}

	// A delay is cut short by the client's deadline.
	srv.FailNext(OpDescribeImages, 1, Delay(time.Minute))
	dctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := c.DescribeImages(dctx, in); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("delay: %v", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestBatchGetImageAndAuthorizationToken(t *testing.T) {
	t.Parallel()
	srv := NewServer()
	defer srv.Close()
	d := srv.Put("", "", "app", []string{"v1"}, "", t0)
	srv.Put("", "", "app", []string{"v2"}, "", t0)
	c := sdkClient(srv, "eu-central-1", srv.Credentials())
	ctx := context.Background()

	_, err := c.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String("app"), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}}})
	var rnf *types.RepositoryNotFoundException
	if !errors.As(err, &rnf) {
		t.Fatalf("app is in us-east-1, not eu-central-1: %v", err)
	}
	c = sdkClient(srv, DefaultRegion, srv.Credentials())
	out, err := c.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String("app"), ImageIds: []types.ImageIdentifier{
		{ImageTag: aws.String("v1")},
		{ImageTag: aws.String("v9")},
		{ImageDigest: aws.String(d), ImageTag: aws.String("v2")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Images) != 1 || *out.Images[0].ImageId.ImageDigest != d || !strings.Contains(*out.Images[0].ImageManifest, `"schemaVersion":2`) {
		t.Errorf("images = %+v", out.Images)
	}
	if Digest(*out.Images[0].ImageManifest) != d {
		t.Errorf("a synthesised manifest's digest is the image digest")
	}
	if len(out.Failures) != 2 || out.Failures[0].FailureCode != types.ImageFailureCodeImageNotFound ||
		out.Failures[1].FailureCode != types.ImageFailureCodeImageTagDoesNotMatchDigest {
		t.Errorf("failures = %+v", out.Failures)
	}

	tok, err := c.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	ad := tok.AuthorizationData[0]
	if *ad.ProxyEndpoint != "https://"+DefaultAccount+".dkr.ecr.us-east-1.amazonaws.com" || time.Until(*ad.ExpiresAt) < 11*time.Hour {
		t.Errorf("authorization data = %s, %s", *ad.ProxyEndpoint, ad.ExpiresAt)
	}
	dec, err := base64.StdEncoding.DecodeString(*ad.AuthorizationToken)
	user, pass, ok := strings.Cut(string(dec), ":")
	if err != nil || !ok || user != "AWS" || !srv.ValidRegistryCredentials(user, pass) {
		t.Errorf("token %q does not decode to a valid AWS:<password>", dec)
	}
	if srv.ValidRegistryCredentials("AWS", "guess") {
		t.Error("a guessed password is valid")
	}
}

func TestPutSemantics(t *testing.T) {
	t.Parallel()
	srv := NewServer()
	defer srv.Close()
	a := srv.Put("", "", "app", []string{"latest", "v1"}, "", t0)
	b := srv.Put("", "", "app", []string{"latest", "v2"}, "", t0.Add(time.Hour)) // moves latest
	srv.Put("", "", "app", []string{"v1-again"}, a, t0.Add(2*time.Hour))         // same digest: adds a tag
	if srv.Untag("", "", "app", "missing") || !srv.Untag("", "", "app", "v2") {
		t.Fatal("Untag")
	}
	c := sdkClient(srv, DefaultRegion, srv.Credentials())
	out, err := c.DescribeImages(context.Background(), &ecr.DescribeImagesInput{RepositoryName: aws.String("app")})
	if err != nil || len(out.ImageDetails) != 2 {
		t.Fatalf("%v %+v", err, out)
	}
	first, second := out.ImageDetails[0], out.ImageDetails[1]
	if *first.ImageDigest != a || strings.Join(first.ImageTags, ",") != "v1,v1-again" || !first.ImagePushedAt.Equal(t0) {
		t.Errorf("first = %s %v %s", *first.ImageDigest, first.ImageTags, first.ImagePushedAt)
	}
	if *second.ImageDigest != b || strings.Join(second.ImageTags, ",") != "latest" {
		t.Errorf("second = %s %v", *second.ImageDigest, second.ImageTags)
	}
	if got := srv.Repository("", "", "app"); got != DefaultAccount+".dkr.ecr.us-east-1.amazonaws.com/app" {
		t.Errorf("Repository = %s", got)
	}
	if got := Host("123456789012", "cn-north-1"); got != "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn" {
		t.Errorf("Host = %s", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("a bad digest does not panic")
		}
	}()
	srv.Put("", "", "app", nil, "md5:abc", t0)
}
