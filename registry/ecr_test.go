package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/smithy-go"

	"github.com/docker/cli/cli/config/configfile"
	dockertypes "github.com/docker/cli/cli/config/types"
	"github.com/ferrygitops/ferry/image"
	"github.com/ferrygitops/ferry/internal/testenv/ecrapi"
)

// ecrTestLimits keep retries fast.
var ecrTestLimits = Limits{BaseBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}

// awsEnvVars are the environment variables that steer the AWS SDK's
// configuration; tests start from none of them.
var awsEnvVars = []string{
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY", "AWS_SECRET_KEY",
	"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SDK_LOAD_CONFIG",
	"AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_WEB_IDENTITY_TOKEN_FILE",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
	"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ECR", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
	"AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE", "AWS_CA_BUNDLE",
	"AWS_EC2_METADATA_SERVICE_ENDPOINT",
}

// isolateAWSEnv removes every AWS setting from the environment for the
// test, points the shared config and credentials files at empty files and
// disables instance metadata, so only what the test sets is seen.
func isolateAWSEnv(t testing.TB) {
	t.Helper()
	for _, k := range awsEnvVars {
		t.Setenv(k, "") // restores the old value after the test
		os.Unsetenv(k)
	}
	dir := t.TempDir()
	for k, name := range map[string]string{"AWS_CONFIG_FILE": "config", "AWS_SHARED_CREDENTIALS_FILE": "credentials"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv(k, p)
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// useEmulator isolates the environment and points the SDK at srv with its
// credentials (AWS_ENDPOINT_URL_ECR, AWS_ACCESS_KEY_ID, ...). The region is
// left unset: it must come from the registry host.
func useEmulator(t testing.TB, srv *ecrapi.Server) {
	t.Helper()
	isolateAWSEnv(t)
	for k, v := range srv.Env() {
		t.Setenv(k, v)
	}
}

func newECRServer(t testing.TB) *ecrapi.Server {
	srv := ecrapi.NewServer()
	t.Cleanup(srv.Close)
	return srv
}

// emulatorStats are the Transport's counters of the emulator's host.
func emulatorStats(c *Client, srv *ecrapi.Server) HostStats {
	u, _ := url.Parse(srv.URL)
	return c.Stats().Hosts[strings.ToLower(u.Host)]
}

// apiErrorCode returns the AWS error code in err's chain.
func apiErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestParseECRHost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		host            string
		ok              bool
		account, region string
		fips            bool
	}{
		{"123456789012.dkr.ecr.us-east-1.amazonaws.com", true, "123456789012", "us-east-1", false},
		{"123456789012.DKR.ECR.EU-West-1.AmazonAWS.com", true, "123456789012", "eu-west-1", false},
		{"123456789012.dkr.ecr.eu-west-1.amazonaws.com:443", true, "123456789012", "eu-west-1", false},
		{"123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com", true, "123456789012", "us-gov-west-1", true},
		{"123456789012.dkr-fips.ecr.us-east-2.amazonaws.com", true, "123456789012", "us-east-2", true},
		{"123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", true, "123456789012", "cn-north-1", false},
		{"123456789012.dkr-ecr.ap-southeast-2.on.aws", true, "123456789012", "ap-southeast-2", false},
		{"123456789012.dkr-ecr-fips.us-east-1.on.aws", true, "123456789012", "us-east-1", true},
		{"123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov", true, "123456789012", "us-iso-east-1", false},
		{"000000000000.dkr.ecr.me-central-1.amazonaws.com", true, "000000000000", "me-central-1", false},

		{"12345678901.dkr.ecr.us-east-1.amazonaws.com", false, "", "", false},   // 11 digits
		{"1234567890123.dkr.ecr.us-east-1.amazonaws.com", false, "", "", false}, // 13 digits
		{"abcdefghijkl.dkr.ecr.us-east-1.amazonaws.com", false, "", "", false},
		{"123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example", false, "", "", false},
		{"evil.123456789012.dkr.ecr.us-east-1.amazonaws.com", false, "", "", false},
		{"123456789012.dkr.ecr.us-east-1.amazonaws.com:5000", false, "", "", false},
		{"123456789012.dkr.ecr..amazonaws.com", false, "", "", false},
		{"123456789012.dkr.ecr.useast1.amazonaws.com", false, "", "", false},
		{"public.ecr.aws", false, "", "", false},
		{"api.ecr.us-east-1.amazonaws.com", false, "", "", false},
		{"ghcr.io", false, "", "", false},
		{"docker.io", false, "", "", false},
		{"", false, "", "", false},
	} {
		e, ok := parseECRHost(tc.host)
		if ok != tc.ok || e.Account != tc.account || e.Region != tc.region || e.FIPS != tc.fips {
			t.Errorf("parseECRHost(%q) = %+v, %v; want account %q region %q fips %v, %v", tc.host, e, ok, tc.account, tc.region, tc.fips, tc.ok)
		}
		if ok && e.Host != strings.TrimSuffix(strings.ToLower(tc.host), ":443") {
			t.Errorf("parseECRHost(%q).Host = %q", tc.host, e.Host)
		}
	}
}

// seedLargeRepository puts 2,500 tags on 2,300 tagged images (100 of them
// with three tags) plus 50 untagged images, and returns the expected tags.
func seedLargeRepository(srv *ecrapi.Server, region, repo string) map[string]image.Tag {
	base := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	want := map[string]image.Tag{}
	for i := range 2300 {
		tags := []string{fmt.Sprintf("1.%d.0", i)}
		if i%23 == 0 { // 100 images
			tags = append(tags, fmt.Sprintf("1.%d", i), fmt.Sprintf("release-%d", i))
		}
		pushed := base.Add(time.Duration(i) * time.Minute)
		d := srv.Put("", region, repo, tags, ecrapi.Digest(fmt.Sprintf("%s-%d", repo, i)), pushed)
		for _, tg := range tags {
			want[tg] = image.Tag{Name: tg, Digest: d, PushedAt: pushed}
		}
		if i%46 == 0 { // 50 untagged images between the others
			srv.Put("", region, repo, nil, ecrapi.Digest(fmt.Sprintf("%s-untagged-%d", repo, i)), pushed)
		}
	}
	return want
}

func TestListECRPaginatesDescribeImages(t *testing.T) {
	srv := newECRServer(t)
	useEmulator(t, srv)
	want := seedLargeRepository(srv, "eu-west-1", "team/app")
	if len(want) != 2500 {
		t.Fatalf("seeded %d tags", len(want))
	}

	c := New(Options{Limits: ecrTestLimits})
	repo := ecrapi.Host("", "eu-west-1") + "/team/app"
	tags, err := c.ListTags(context.Background(), repo)
	if err != nil {
		t.Fatal(err)
	}
	if len(tags) != 2500 {
		t.Fatalf("got %d tags, want 2500", len(tags))
	}
	for _, got := range tags {
		w, ok := want[got.Name]
		if !ok {
			t.Fatalf("unexpected tag %q", got.Name)
		}
		if got.Digest != w.Digest || !got.PushedAt.Equal(w.PushedAt) || got.PushedAt.Location() != time.UTC {
			t.Fatalf("tag %q = %+v, want %+v", got.Name, got, w)
		}
		delete(want, got.Name)
	}
	if len(want) != 0 {
		t.Fatalf("%d tags missing", len(want))
	}
	// The three tags of a multi-tag image come together, with its digest.
	for i, tg := range tags {
		if tg.Name == "1.23.0" {
			if tags[i+1].Name != "1.23" || tags[i+2].Name != "release-23" || tags[i+2].Digest != tg.Digest {
				t.Errorf("multi-tag image: %+v", tags[i:i+3])
			}
		}
	}

	// Exactly three DescribeImages calls (2,300 tagged images, 1,000 a page), nothing else.
	if n := srv.Requests(ecrapi.OpDescribeImages); n != 3 || srv.TotalRequests() != 3 {
		t.Errorf("DescribeImages calls = %d, total = %d; want 3, 3", n, srv.TotalRequests())
	}
	if st := emulatorStats(c, srv); st.Requests != 3 || st.Retries != 0 || st.Errors != 0 {
		t.Errorf("transport stats = %+v", st)
	}
	for i, call := range srv.Calls() {
		var in struct {
			RegistryID     string `json:"registryId"`
			RepositoryName string `json:"repositoryName"`
			MaxResults     int    `json:"maxResults"`
			NextToken      string `json:"nextToken"`
			Filter         struct {
				TagStatus string `json:"tagStatus"`
			} `json:"filter"`
		}
		if err := json.Unmarshal(call.Input, &in); err != nil {
			t.Fatal(err)
		}
		if in.RegistryID != ecrapi.DefaultAccount || in.RepositoryName != "team/app" || in.MaxResults != 1000 ||
			in.Filter.TagStatus != "TAGGED" || (i == 0) != (in.NextToken == "") {
			t.Errorf("call %d input = %s", i, call.Input)
		}
		if call.Region != "eu-west-1" || call.AccessKeyID != ecrapi.DefaultAccessKeyID {
			t.Errorf("call %d signed for %s by %s", i, call.Region, call.AccessKeyID)
		}
	}
}

func TestListECRPageSize(t *testing.T) {
	srv := newECRServer(t)
	useEmulator(t, srv)
	for i := range 25 {
		srv.Put("", "", "app", []string{fmt.Sprint("v", i)}, "", time.Unix(int64(1e9+i), 0))
	}
	ctx := context.Background()
	repo := srv.Repository("", "", "app")

	c := New(Options{Limits: ecrTestLimits, PageSize: 10})
	tags, err := c.ListTags(ctx, repo)
	if err != nil || len(tags) != 25 || srv.Requests(ecrapi.OpDescribeImages) != 3 {
		t.Fatalf("page size 10: %v, %d tags, %d calls", err, len(tags), srv.Requests(ecrapi.OpDescribeImages))
	}

	// A page size above the API's maximum is capped at 1000.
	srv.ResetStats()
	c = New(Options{Limits: ecrTestLimits, PageSize: 5000})
	if _, err := c.ListTags(ctx, repo); err != nil {
		t.Fatal(err)
	}
	calls := srv.Calls()
	if len(calls) != 1 || !strings.Contains(string(calls[0].Input), `"maxResults":1000`) {
		t.Errorf("calls = %+v", calls)
	}
}

func TestListECRTagPrecision(t *testing.T) {
	srv := newECRServer(t)
	useEmulator(t, srv)
	pushed := time.Date(2025, 1, 2, 3, 4, 5, 678_000_000, time.UTC)
	d := srv.Put("", "", "app", []string{"v1", "stable", "latest"}, "", pushed)
	srv.Put("", "", "app", nil, "", pushed) // untagged: ignored

	tags, err := New(Options{Limits: ecrTestLimits}).ListTags(context.Background(), srv.Repository("", "", "app"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tags) != 3 {
		t.Fatalf("tags = %+v", tags)
	}
	for i, name := range []string{"v1", "stable", "latest"} {
		// The SDK parses epoch seconds to the millisecond, truncating.
		if tags[i].Name != name || tags[i].Digest != d || tags[i].PushedAt.Sub(pushed).Abs() > time.Millisecond {
			t.Errorf("tag %d = %+v, want %s %s %s", i, tags[i], name, d, pushed)
		}
	}
}

func TestListECRMissingRepositoryIsIsolated(t *testing.T) {
	srv := newECRServer(t)
	useEmulator(t, srv)
	srv.Put("", "us-west-2", "present", []string{"v1"}, "", time.Unix(1.7e9, 0))

	c := New(Options{Limits: ecrTestLimits})
	present := srv.Repository("", "us-west-2", "present")
	missing := srv.Repository("", "us-west-2", "team/missing")
	out := c.List(context.Background(), []string{missing, present, missing})
	if len(out) != 2 {
		t.Fatalf("listings = %+v", out)
	}
	byRepo := map[string]Listing{}
	for _, l := range out {
		byRepo[l.Repository] = l
	}
	if l := byRepo[present]; l.Err != nil || len(l.Tags) != 1 || l.Tags[0].Name != "v1" {
		t.Errorf("present: %+v", l)
	}
	err := byRepo[missing].Err
	if err == nil {
		t.Fatal("missing repository: no error")
	}
	msg := err.Error()
	t.Log(msg)
	for _, want := range []string{"does not exist", `"team/missing"`, ecrapi.DefaultAccount, "us-west-2", missing} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	var rnf *types.RepositoryNotFoundException
	if !errors.As(err, &rnf) || apiErrorCode(err) != "RepositoryNotFoundException" {
		t.Errorf("error %v: not a RepositoryNotFoundException / smithy.APIError", err)
	}
	if strings.Contains(msg, ecrapi.DefaultSecretAccessKey) || strings.Contains(msg, "Signature=") {
		t.Errorf("error leaks credentials: %s", msg)
	}
	if st := emulatorStats(c, srv); st.Requests != 2 || st.Errors != 1 || st.Retries != 0 {
		t.Errorf("transport stats = %+v (a 4xx is not retried)", st)
	}
}

func TestListECRRetriesThrottling(t *testing.T) {
	srv := newECRServer(t)
	useEmulator(t, srv)
	srv.Put("", "", "app", []string{"v1", "v2"}, "", time.Unix(1.7e9, 0))
	srv.FailNext(ecrapi.OpDescribeImages, 1, ecrapi.Throttling(0))
	srv.FailNext(ecrapi.OpDescribeImages, 1, ecrapi.Throttling(time.Second)) // Retry-After: 1, capped by MaxBackoff

	c := New(Options{Limits: ecrTestLimits})
	start := time.Now()
	tags, err := c.ListTags(context.Background(), srv.Repository("", "", "app"))
	if err != nil || len(tags) != 2 {
		t.Fatalf("%v, %+v", err, tags)
	}
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Errorf("took %s: Retry-After not capped by MaxBackoff", d)
	}
	if st := emulatorStats(c, srv); st.Requests != 3 || st.Retries != 2 || st.Errors != 0 {
		t.Errorf("transport stats = %+v, want 3 requests, 2 retries", st)
	}
	if st := srv.Stats(ecrapi.OpDescribeImages); st.Requests != 3 || st.Faults != 2 || st.OK != 1 {
		t.Errorf("emulator stats = %+v (the SDK must not retry on its own)", st)
	}

	// 500 and 503 are retried the same way.
	srv.ResetStats()
	srv.FailNext(ecrapi.OpDescribeImages, 1, ecrapi.ServerError())
	srv.FailNext(ecrapi.OpDescribeImages, 1, ecrapi.Unavailable())
	c = New(Options{Limits: ecrTestLimits})
	if _, err := c.ListTags(context.Background(), srv.Repository("", "", "app")); err != nil {
		t.Fatal(err)
	}
	if st := emulatorStats(c, srv); st.Requests != 3 || st.Retries != 2 {
		t.Errorf("5xx: transport stats = %+v", st)
	}
}

func TestListECRGivesUpOnPersistentThrottling(t *testing.T) {
	srv := newECRServer(t)
	useEmulator(t, srv)
	srv.CreateRepository("", "", "app")
	srv.FailNext(ecrapi.OpDescribeImages, 10, ecrapi.Throttling(0))
	// Even when the environment asks the SDK to retry, only the transport does.
	t.Setenv("AWS_MAX_ATTEMPTS", "4")
	t.Setenv("AWS_RETRY_MODE", "adaptive")

	limits := ecrTestLimits
	limits.MaxRetries = 2
	c := New(Options{Limits: limits})
	_, err := c.ListTags(context.Background(), srv.Repository("", "", "app"))
	if apiErrorCode(err) != "ThrottlingException" {
		t.Fatalf("err = %v, want a ThrottlingException", err)
	}
	if st := emulatorStats(c, srv); st.Requests != 3 || st.Retries != 2 || st.Errors != 1 {
		t.Errorf("transport stats = %+v", st)
	}
}

func TestECRMissingCredentials(t *testing.T) {
	srv := newECRServer(t)
	isolateAWSEnv(t)
	t.Setenv("AWS_ENDPOINT_URL_ECR", srv.URL) // endpoint, but no credentials anywhere
	srv.Put("", "", "app", []string{"v1"}, "", time.Unix(1.7e9, 0))

	c := New(Options{Limits: ecrTestLimits})
	_, err := c.ListTags(context.Background(), srv.Repository("", "", "app"))
	if err == nil {
		t.Fatal("listing without credentials succeeded")
	}
	if st := srv.Stats(ecrapi.OpDescribeImages); st.OK != 0 {
		t.Errorf("emulator answered %d requests without credentials", st.OK)
	}
	if n := srv.TotalRequests(); n != 0 {
		t.Errorf("the SDK sent %d unsigned requests", n)
	}
	t.Log(err)
	if !strings.Contains(err.Error(), "no usable AWS credentials") {
		t.Errorf("error does not mention credentials: %v", err)
	}
}

func TestECRWrongCredentials(t *testing.T) {
	srv := newECRServer(t)
	useEmulator(t, srv)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAWRONGWRONGWRONG0")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-do-not-print")
	srv.CreateRepository("", "", "app")

	c := New(Options{Limits: ecrTestLimits})
	_, err := c.ListTags(context.Background(), srv.Repository("", "", "app"))
	if apiErrorCode(err) != "UnrecognizedClientException" {
		t.Fatalf("err = %v", err)
	}
	t.Log(err)
	if strings.Contains(err.Error(), "wrong-secret-do-not-print") {
		t.Errorf("error leaks the secret: %v", err)
	}
	if st := srv.Stats(ecrapi.OpDescribeImages); st.OK != 0 || st.Rejected != 1 {
		t.Errorf("emulator stats = %+v", st)
	}
}

func TestECRSharedCredentialsFile(t *testing.T) {
	srv := newECRServer(t)
	isolateAWSEnv(t)
	t.Setenv("AWS_ENDPOINT_URL_ECR", srv.URL)
	creds := srv.Credentials()
	file := fmt.Sprintf("[ferry]\naws_access_key_id = %s\naws_secret_access_key = %s\n", creds.AccessKeyID, creds.SecretAccessKey)
	if err := os.WriteFile(os.Getenv("AWS_SHARED_CREDENTIALS_FILE"), []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_PROFILE", "ferry")
	srv.Put("", "ap-south-1", "app", []string{"v1"}, "", time.Unix(1.7e9, 0))

	tags, err := New(Options{Limits: ecrTestLimits}).ListTags(context.Background(), srv.Repository("", "ap-south-1", "app"))
	if err != nil || len(tags) != 1 {
		t.Fatalf("%v, %+v", err, tags)
	}
}

// TestECRContainerCredentials uses the container credentials endpoint, as
// EKS Pod Identity (and ECS task roles) provide it.
func TestECRContainerCredentials(t *testing.T) {
	creds := ecrapi.Credentials{AccessKeyID: "ASIAPODIDENTITY00001", SecretAccessKey: "pod-secret", SessionToken: "pod-session-token"}
	srv := ecrapi.NewServer(ecrapi.WithCredentials(creds))
	t.Cleanup(srv.Close)
	var credCalls int
	var mu sync.Mutex
	agent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		credCalls++
		mu.Unlock()
		if r.Header.Get("Authorization") != "pod-identity-token" {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"AccessKeyId":%q,"SecretAccessKey":%q,"Token":%q,"Expiration":%q}`,
			creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	}))
	t.Cleanup(agent.Close)

	isolateAWSEnv(t)
	t.Setenv("AWS_ENDPOINT_URL_ECR", srv.URL)
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", agent.URL+"/v1/credentials")
	t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "pod-identity-token")
	srv.Put("", "", "app-a", []string{"v1"}, "", time.Unix(1.7e9, 0))
	srv.Put("", "", "app-b", []string{"v1"}, "", time.Unix(1.7e9, 0))

	c := New(Options{Limits: ecrTestLimits})
	for _, l := range c.List(context.Background(), []string{srv.Repository("", "", "app-a"), srv.Repository("", "", "app-b")}) {
		if l.Err != nil || len(l.Tags) != 1 {
			t.Fatalf("%s: %v %+v", l.Repository, l.Err, l.Tags)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if credCalls != 1 {
		t.Errorf("credentials fetched %d times, want 1 (cached)", credCalls)
	}
	// Credential providers use the SDK's own HTTP client, not the registry transport.
	if hosts := c.Stats().Hosts; len(hosts) != 1 || emulatorStats(c, srv).Requests != 2 {
		t.Errorf("transport stats = %+v, want the emulator's 2 requests only", hosts)
	}
}

func TestECREndpointOverrides(t *testing.T) {
	srv := newECRServer(t)
	srv.Put("", "", "app", []string{"v1"}, "", time.Unix(1.7e9, 0))
	repo := srv.Repository("", "", "app")
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "wrong endpoint", http.StatusTeapot)
	}))
	t.Cleanup(dead.Close)

	t.Run("AWS_ENDPOINT_URL", func(t *testing.T) {
		useEmulator(t, srv)
		os.Unsetenv("AWS_ENDPOINT_URL_ECR")
		t.Setenv("AWS_ENDPOINT_URL", srv.URL)
		if _, err := New(Options{Limits: ecrTestLimits}).ListTags(context.Background(), repo); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("AWS_ENDPOINT_URL_ECR wins", func(t *testing.T) {
		useEmulator(t, srv)
		t.Setenv("AWS_ENDPOINT_URL", dead.URL)
		if _, err := New(Options{Limits: ecrTestLimits}).ListTags(context.Background(), repo); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("FIPS host with an override", func(t *testing.T) {
		useEmulator(t, srv)
		fips := strings.Replace(repo, ".dkr.ecr.", ".dkr.ecr-fips.", 1)
		if _, err := New(Options{Limits: ecrTestLimits}).ListTags(context.Background(), fips); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("region from the host", func(t *testing.T) {
		useEmulator(t, srv)
		t.Setenv("AWS_REGION", "eu-north-1") // ignored: the host says us-east-1
		if _, err := New(Options{Limits: ecrTestLimits}).ListTags(context.Background(), repo); err != nil {
			t.Fatal(err)
		}
		_, err := New(Options{Limits: ecrTestLimits}).ListTags(context.Background(), srv.Repository("", "eu-north-1", "app"))
		if apiErrorCode(err) != "RepositoryNotFoundException" {
			t.Fatalf("app in eu-north-1: %v", err)
		}
	})
}

// recordingRT records request URLs and fails them, so nothing leaves the test.
type recordingRT struct {
	mu    sync.Mutex
	hosts []string
	auth  []string
}

var errBlocked = errors.New("blocked by test")

func (r *recordingRT) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hosts = append(r.hosts, req.URL.Host)
	r.auth = append(r.auth, req.Header.Get("Authorization"))
	return nil, errBlocked
}

func TestECRDefaultEndpoints(t *testing.T) {
	isolateAWSEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE00")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "example")
	for _, tc := range []struct{ host, api, region string }{
		{"123456789012.dkr.ecr.eu-west-1.amazonaws.com", "api.ecr.eu-west-1.amazonaws.com", "eu-west-1"},
		{"123456789012.dkr.ecr-fips.us-east-1.amazonaws.com", "api.ecr-fips.us-east-1.amazonaws.com", "us-east-1"},
		{"123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", "api.ecr.cn-north-1.amazonaws.com.cn", "cn-north-1"},
	} {
		rt := &recordingRT{}
		c := New(Options{Limits: ecrTestLimits, HTTP: rt})
		_, err := c.ListTags(context.Background(), tc.host+"/app")
		if !errors.Is(err, errBlocked) {
			t.Errorf("%s: err = %v", tc.host, err)
		}
		if len(rt.hosts) != 1 || rt.hosts[0] != tc.api {
			t.Errorf("%s: requests went to %v, want %s once", tc.host, rt.hosts, tc.api)
		}
		if len(rt.auth) == 1 && !strings.Contains(rt.auth[0], "/"+tc.region+"/ecr/aws4_request") {
			t.Errorf("%s: signed as %q", tc.host, rt.auth[0])
		}
	}
}

func TestDigestECR(t *testing.T) {
	srv := newECRServer(t)
	useEmulator(t, srv)
	d := srv.Put("", "", "team/app", []string{"v1", "latest"}, "", time.Unix(1.7e9, 0))
	srv.Put("", "", "team/app", []string{"v2"}, "", time.Unix(1.7e9+60, 0))
	repo := srv.Repository("", "", "team/app")
	c := New(Options{Limits: ecrTestLimits})

	got, err := c.Digest(context.Background(), repo, "latest")
	if err != nil || got != d {
		t.Fatalf("Digest = %q, %v; want %q", got, err, d)
	}
	if n := srv.Requests(ecrapi.OpDescribeImages); n != 1 {
		t.Errorf("%d calls, want 1", n)
	}
	call := srv.Calls()[0]
	if !strings.Contains(string(call.Input), `"imageIds":[{"imageTag":"latest"}]`) || !strings.Contains(string(call.Input), `"registryId":"`+ecrapi.DefaultAccount+`"`) {
		t.Errorf("input = %s", call.Input)
	}

	_, err = c.Digest(context.Background(), repo, "v9")
	var inf *types.ImageNotFoundException
	if !errors.As(err, &inf) || !strings.Contains(err.Error(), "team/app:v9") {
		t.Errorf("missing tag: %v", err)
	}
	_, err = c.Digest(context.Background(), srv.Repository("", "", "nope"), "v1")
	if apiErrorCode(err) != "RepositoryNotFoundException" || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing repository: %v", err)
	}
}

func TestECRClientPerRegionCached(t *testing.T) {
	srv := newECRServer(t)
	useEmulator(t, srv)
	var repos []string
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		for _, name := range []string{"app-a", "app-b", "app-c"} {
			srv.Put("", region, name, []string{"v1"}, "", time.Unix(1.7e9, 0))
			repos = append(repos, srv.Repository("", region, name))
		}
	}
	c := New(Options{Limits: ecrTestLimits})
	for range 2 {
		for _, l := range c.List(context.Background(), repos) {
			if l.Err != nil {
				t.Fatal(l.Err)
			}
		}
	}
	c.ecrMu.Lock()
	n := len(c.ecrClients)
	c.ecrMu.Unlock()
	if n != 2 {
		t.Errorf("%d ECR clients, want one per region (2)", n)
	}
}

// BenchmarkECRList lists a 5,000-tag repository (5,000 images) through the
// real SDK and the emulator.
func BenchmarkECRList(b *testing.B) {
	srv := newECRServer(b)
	useEmulator(b, srv)
	for i := range 5000 {
		srv.Put("", "", "bench", []string{fmt.Sprintf("v%d", i)}, ecrapi.Digest(fmt.Sprint(i)), time.Unix(int64(1.7e9)+int64(i), 0))
	}
	repo := srv.Repository("", "", "bench")
	c := New(Options{Limits: Limits{RatePerSecond: 1e6, Burst: 1000}})
	ctx := context.Background()
	b.ReportAllocs()
	ops := 0
	for b.Loop() {
		ops++
		tags, err := c.ListTags(ctx, repo)
		if err != nil || len(tags) != 5000 {
			b.Fatalf("%v, %d tags", err, len(tags))
		}
	}
	b.ReportMetric(float64(c.Stats().Total().Requests)/float64(ops), "requests/op")
}

// TestECRRefusedCredentialsNamesTheirSource: credentials the API refuses
// are named by where the SDK's chain found them, never shown.
func TestECRRefusedCredentialsNamesTheirSource(t *testing.T) {
	srv := newECRServer(t)
	useEmulator(t, srv)
	srv.Put("", "", "app", []string{"v1"}, "", time.Unix(1.7e9, 0))
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDNOTKNOWNHERE")
	c := New(Options{Limits: ecrTestLimits})
	_, err := c.ListTags(context.Background(), srv.Repository("", "", "app"))
	if apiErrorCode(err) != "UnrecognizedClientException" {
		t.Fatalf("err = %v, want UnrecognizedClientException", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "credentials tried: the AWS SDK's default credential chain, from EnvConfigCredentials") {
		t.Errorf("error does not name the credential source: %s", msg)
	}
	if strings.Contains(msg, ecrapi.DefaultSecretAccessKey) {
		t.Errorf("error shows the secret key: %s", msg)
	}
}

func TestDescribeDockerConfig(t *testing.T) {
	cf := configfile.New("/cfg/config.json")
	cf.CredentialHelpers = map[string]string{"ghcr.io": "gh"}
	if got := describeConfig(cf, "/cfg/config.json", "ghcr.io"); got != "credential helper docker-credential-gh (credHelpers in /cfg/config.json)" {
		t.Errorf("helper: %s", got)
	}
	cf.CredentialsStore = "pass"
	if got := describeConfig(cf, "/cfg/config.json", "quay.io"); got != "credential store docker-credential-pass (credsStore in /cfg/config.json)" {
		t.Errorf("store: %s", got)
	}
	cf.CredentialsStore = ""
	cf.AuthConfigs = map[string]dockertypes.AuthConfig{"https://index.docker.io/v1/": {IdentityToken: "secret-token"}}
	if got := describeConfig(cf, "/cfg/config.json", "https://index.docker.io/v1/"); got != `the identity token of "https://index.docker.io/v1/" in /cfg/config.json` {
		t.Errorf("docker hub: %s", got)
	}
}
