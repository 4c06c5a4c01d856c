package secretsmanagerapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/ferrygitops/ferry/internal/testenv/awsapi"
)

// client is a real Secrets Manager SDK client of srv, signing for region
// with creds, making at most attempts attempts per call.
func client(srv *Server, region string, creds awsapi.Credentials, attempts int) *secretsmanager.Client {
	return secretsmanager.NewFromConfig(srv.ClientConfig(region, creds, attempts))
}

var (
	ctx       = context.Background()
	secretARN = regexp.MustCompile(`^arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/myapp/db-[A-Za-z0-9]{6}$`)
	uuid      = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	dbJSON    = `{"username":"app","password":"hunter2"}`
)

func wantNotFound(t *testing.T, name string, err error) {
	t.Helper()
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("%s: %v, want ResourceNotFoundException", name, err)
	}
}

func TestCreateAndGetThroughSDK(t *testing.T) {
	t.Parallel()
	other := awsapi.Credentials{AccessKeyID: "AKIDOTHERACCOUNT", SecretAccessKey: "other-secret"}
	srv := NewServer(awsapi.WithPrincipal(other, "999999999999"))
	defer srv.Close()
	c := client(srv, DefaultRegion, srv.Credentials(), 1)

	created, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String("prod/myapp/db"),
		SecretString: aws.String(dbJSON),
		Description:  aws.String("the app's database"),
		KmsKeyId:     aws.String("alias/secrets"),
		Tags:         []types.Tag{{Key: aws.String("team"), Value: aws.String("platform")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// The SDK fills ClientRequestToken in: it is the first version's id.
	if !secretARN.MatchString(*created.ARN) || *created.Name != "prod/myapp/db" || !uuid.MatchString(*created.VersionId) {
		t.Fatalf("CreateSecret = %s %s %v", *created.ARN, *created.Name, created.VersionId)
	}
	partial := strings.TrimSuffix(*created.ARN, (*created.ARN)[len(*created.ARN)-7:])
	for _, id := range []string{"prod/myapp/db", *created.ARN, partial} {
		got, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
		if err != nil {
			t.Fatalf("GetSecretValue(%s): %v", id, err)
		}
		if *got.SecretString != dbJSON || got.SecretBinary != nil || *got.ARN != *created.ARN || *got.VersionId != *created.VersionId ||
			!slices.Equal(got.VersionStages, []string{StageCurrent}) || time.Since(*got.CreatedDate) > time.Minute {
			t.Errorf("GetSecretValue(%s) = %+v", id, got)
		}
	}
	if srv.Reads("prod/myapp/db") != 3 || srv.Reads(*created.ARN) != 3 {
		t.Errorf("Reads = %d", srv.Reads("prod/myapp/db"))
	}
	desc, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("prod/myapp/db")})
	if err != nil {
		t.Fatal(err)
	}
	if *desc.ARN != *created.ARN || *desc.Description != "the app's database" || *desc.KmsKeyId != "alias/secrets" ||
		len(desc.Tags) != 1 || *desc.Tags[0].Key != "team" || desc.LastAccessedDate == nil || desc.LastAccessedDate.Hour() != 0 ||
		len(desc.VersionIdsToStages) != 1 || !slices.Equal(desc.VersionIdsToStages[*created.VersionId], []string{StageCurrent}) {
		t.Errorf("DescribeSecret = %+v", desc)
	}

	// A binary secret, and one without a value yet.
	if _, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("tls/key"), SecretBinary: []byte{0, 1, 2, 255}}); err != nil {
		t.Fatal(err)
	}
	bin, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("tls/key")})
	if err != nil || !bytes.Equal(bin.SecretBinary, []byte{0, 1, 2, 255}) || bin.SecretString != nil {
		t.Errorf("binary: %v %+v", err, bin)
	}
	empty, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("later")})
	if err != nil || empty.VersionId != nil {
		t.Fatalf("no value: %v %+v", err, empty)
	}
	_, err = c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("later")})
	wantNotFound(t, "a secret without a value", err)
	if d, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("later")}); err != nil || len(d.VersionIdsToStages) != 0 || d.LastAccessedDate != nil {
		t.Errorf("DescribeSecret of a secret without a value: %v %+v", err, d)
	}

	// Not found: other names, regions, accounts, malformed ARNs.
	for name, id := range map[string]string{
		"name":           "prod/myapp/cache",
		"ARN suffix":     partial + "-zzzzzz",
		"other region":   strings.Replace(*created.ARN, "us-east-1", "eu-west-1", 1),
		"other account":  strings.Replace(*created.ARN, DefaultAccount, "999999999999", 1),
		"other service":  strings.Replace(*created.ARN, ":secretsmanager:", ":ssm:", 1),
		"other resource": strings.Replace(*created.ARN, ":secret:", ":parameter:", 1),
	} {
		_, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
		wantNotFound(t, name, err)
	}
	_, err = client(srv, "eu-west-1", srv.Credentials(), 1).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("prod/myapp/db")})
	wantNotFound(t, "from eu-west-1", err)
	_, err = client(srv, DefaultRegion, other, 1).DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(*created.ARN)})
	wantNotFound(t, "another account's principal", err)
	_, err = c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("nope")})
	wantNotFound(t, "DescribeSecret", err)
	if !strings.Contains(err.Error(), "Secrets Manager can't find the specified secret.") {
		t.Errorf("message: %v", err)
	}

	// Conflicts and bad parameters.
	_, err = c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("prod/myapp/db"), SecretString: aws.String("x")})
	var exists *types.ResourceExistsException
	if !errors.As(err, &exists) {
		t.Errorf("duplicate name: %v", err)
	}
	for name, tc := range map[string]struct {
		in   *secretsmanager.CreateSecretInput
		code string
	}{
		"bad name":  {&secretsmanager.CreateSecretInput{Name: aws.String("prod db")}, "InvalidParameterException"},
		"both":      {&secretsmanager.CreateSecretInput{Name: aws.String("both"), SecretString: aws.String("x"), SecretBinary: []byte("x")}, "InvalidParameterException"},
		"too long":  {&secretsmanager.CreateSecretInput{Name: aws.String("big"), SecretString: aws.String(strings.Repeat("x", 65537))}, "ValidationException"},
		"token":     {&secretsmanager.CreateSecretInput{Name: aws.String("tok"), ClientRequestToken: aws.String("short")}, "ValidationException"},
		"replicas":  {&secretsmanager.CreateSecretInput{Name: aws.String("rep"), AddReplicaRegions: []types.ReplicaRegionType{{Region: aws.String("eu-west-1")}}}, "InvalidRequestException"},
		"empty tag": {&secretsmanager.CreateSecretInput{Name: aws.String("tag"), Tags: []types.Tag{{Key: aws.String(""), Value: aws.String("v")}}}, "ValidationException"},
	} {
		_, err := c.CreateSecret(ctx, tc.in)
		if got := awsapi.ErrorCode(err); got != tc.code {
			t.Errorf("%s: %s (%v), want %s", name, got, err, tc.code)
		}
		if strings.Contains(err.Error(), "xxxxxxxx") {
			t.Errorf("%s: the error carries the secret value", name)
		}
	}
}

func TestCreateSecretIsIdempotent(t *testing.T) {
	t.Parallel()
	srv := NewServer()
	defer srv.Close()
	c := client(srv, DefaultRegion, srv.Credentials(), 1)
	tok := "0123456789abcdef0123456789abcdef"
	in := &secretsmanager.CreateSecretInput{Name: aws.String("app"), SecretString: aws.String("v1"), ClientRequestToken: aws.String(tok)}
	first, err := c.CreateSecret(ctx, in)
	if err != nil || *first.VersionId != tok {
		t.Fatalf("first: %v %+v", err, first)
	}
	again, err := c.CreateSecret(ctx, in) // a retry after a lost answer
	if err != nil || *again.ARN != *first.ARN || *again.VersionId != tok {
		t.Fatalf("retry: %v %+v", err, again)
	}
	in.SecretString = aws.String("v2")
	if _, err := c.CreateSecret(ctx, in); awsapi.ErrorCode(err) != "ResourceExistsException" {
		t.Errorf("same token, other value: %v", err)
	}
	if d, _ := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("app")}); len(d.VersionIdsToStages) != 1 {
		t.Errorf("versions = %v", d.VersionIdsToStages)
	}
}

// stages returns a secret's version stages as DescribeSecret tells them:
// version id → sorted labels.
func stages(t *testing.T, c *secretsmanager.Client, id string) map[string]string {
	t.Helper()
	d, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for v, labels := range d.VersionIdsToStages {
		labels = slices.Clone(labels)
		sort.Strings(labels)
		out[v] = strings.Join(labels, ",")
	}
	return out
}

func TestRotation(t *testing.T) {
	t.Parallel()
	srv := NewServer()
	defer srv.Close()
	c := client(srv, DefaultRegion, srv.Credentials(), 1)
	v1 := srv.CreateSecret(SecretSpec{Name: "prod/myapp/db", String: aws.String("one")})
	get := func(in *secretsmanager.GetSecretValueInput) (*secretsmanager.GetSecretValueOutput, error) {
		in.SecretId = aws.String(v1.ARN)
		return c.GetSecretValue(ctx, in)
	}
	put, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("prod/myapp/db"), SecretString: aws.String("two")})
	if err != nil {
		t.Fatal(err)
	}
	v2 := *put.VersionId
	if !uuid.MatchString(v2) || v2 == v1.VersionID || !slices.Equal(put.VersionStages, []string{StageCurrent}) || *put.ARN != v1.ARN {
		t.Fatalf("PutSecretValue = %+v", put)
	}
	if got := stages(t, c, v1.Name); len(got) != 2 || got[v1.VersionID] != StagePrevious || got[v2] != StageCurrent {
		t.Fatalf("after one rotation: %v", got)
	}
	v3 := srv.PutSecretString(v1.ARN, "three") // a rotation outside the API
	if got := stages(t, c, v1.Name); len(got) != 2 || got[v2] != StagePrevious || got[v3] != StageCurrent {
		t.Fatalf("after two rotations (v1 deprecated): %v", got)
	}
	for name, tc := range map[string]struct {
		in    *secretsmanager.GetSecretValueInput
		value string
	}{
		"current":          {&secretsmanager.GetSecretValueInput{}, "three"},
		"AWSCURRENT":       {&secretsmanager.GetSecretValueInput{VersionStage: aws.String(StageCurrent)}, "three"},
		"AWSPREVIOUS":      {&secretsmanager.GetSecretValueInput{VersionStage: aws.String(StagePrevious)}, "two"},
		"deprecated by id": {&secretsmanager.GetSecretValueInput{VersionId: aws.String(v1.VersionID)}, "one"},
		"id and its stage": {&secretsmanager.GetSecretValueInput{VersionId: aws.String(v2), VersionStage: aws.String(StagePrevious)}, "two"},
	} {
		got, err := get(tc.in)
		if err != nil || *got.SecretString != tc.value {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, in := range map[string]*secretsmanager.GetSecretValueInput{
		"id without that stage": {VersionId: aws.String(v2), VersionStage: aws.String(StageCurrent)},
		"unknown id":            {VersionId: aws.String("00000000-0000-4000-8000-000000000000")},
		"unknown stage":         {VersionStage: aws.String("blue")},
	} {
		_, err := get(in)
		wantNotFound(t, name, err)
	}
	if _, err := get(&secretsmanager.GetSecretValueInput{VersionId: aws.String("short")}); awsapi.ErrorCode(err) != "ValidationException" {
		t.Errorf("short VersionId: %v", err)
	}

	// Labels other than AWSCURRENT move without touching it.
	pending, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(v1.Name), SecretString: aws.String("four"), VersionStages: []string{StagePending, "blue"}})
	if err != nil {
		t.Fatal(err)
	}
	green, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(v1.Name), SecretString: aws.String("five"), VersionStages: []string{"blue"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := stages(t, c, v1.Name); len(got) != 4 || got[v3] != StageCurrent || got[v2] != StagePrevious ||
		got[*pending.VersionId] != StagePending || got[*green.VersionId] != "blue" {
		t.Fatalf("after labelled puts: %v", got)
	}

	// A retried put (same token, same value) changes nothing; another value is a conflict.
	tok := "fedcba9876543210fedcba9876543210"
	in := &secretsmanager.PutSecretValueInput{SecretId: aws.String(v1.Name), SecretString: aws.String("six"), ClientRequestToken: aws.String(tok)}
	for range 2 {
		out, err := c.PutSecretValue(ctx, in)
		if err != nil || *out.VersionId != tok || !slices.Equal(out.VersionStages, []string{StageCurrent}) {
			t.Fatalf("put with a token: %v %+v", err, out)
		}
	}
	if got := stages(t, c, v1.Name); got[tok] != StageCurrent || got[v3] != StagePrevious || got[v2] != "" {
		t.Errorf("after the retried put: %v", got)
	}
	in.SecretString = aws.String("seven")
	var exists *types.ResourceExistsException
	if _, err := c.PutSecretValue(ctx, in); !errors.As(err, &exists) {
		t.Errorf("same token, other value: %v", err)
	}
	for name, in := range map[string]*secretsmanager.PutSecretValueInput{
		"neither":       {SecretId: aws.String(v1.Name)},
		"both":          {SecretId: aws.String(v1.Name), SecretString: aws.String("x"), SecretBinary: []byte("x")},
		"missing":       {SecretId: aws.String("missing"), SecretString: aws.String("x")},
		"no stages":     {SecretId: aws.String(v1.Name), SecretString: aws.String("x"), VersionStages: []string{}},
		"rotation func": {SecretId: aws.String(v1.Name), SecretString: aws.String("x"), RotationToken: aws.String("0123456789abcdef0123456789abcdef")},
	} {
		_, err := c.PutSecretValue(ctx, in)
		want := map[string]string{"neither": "InvalidParameterException", "both": "InvalidParameterException", "missing": "ResourceNotFoundException",
			"no stages": "ValidationException", "rotation func": "InvalidRequestException"}[name]
		if got := awsapi.ErrorCode(err); got != want {
			t.Errorf("%s: %s (%v), want %s", name, got, err, want)
		}
	}
	if srv.DeleteSecret(v1.ARN) != true || srv.DeleteSecret(v1.Name) {
		t.Error("DeleteSecret")
	}
	_, err = get(&secretsmanager.GetSecretValueInput{})
	wantNotFound(t, "deleted", err)
}

// TestCallCounts: what a sync with 100 references to 10 secrets, each read
// once, looks like from the server's side.
func TestCallCounts(t *testing.T) {
	t.Parallel()
	srv := NewServer()
	defer srv.Close()
	c := client(srv, DefaultRegion, srv.Credentials(), 1)
	for i := range 10 {
		srv.CreateSecret(SecretSpec{Name: fmt.Sprintf("app/%d", i), String: aws.String(fmt.Sprintf(`{"password":"p%d"}`, i))})
	}
	cache := map[string]string{}
	for ref := range 100 {
		id := fmt.Sprintf("app/%d", ref%10)
		if _, ok := cache[id]; ok {
			continue
		}
		out, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		cache[id] = *out.SecretString
	}
	if n := srv.Requests(OpGetSecretValue); n != 10 {
		t.Errorf("GetSecretValue calls = %d, want 10", n)
	}
	for i := range 10 {
		if n := srv.Reads(fmt.Sprintf("app/%d", i)); n != 1 {
			t.Errorf("app/%d read %d times", i, n)
		}
	}
	_, _ = c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("app/missing")})
	if st := srv.Stats(OpGetSecretValue); st.Requests != 11 || st.OK != 10 || st.Errors != 1 || srv.TotalRequests() != 11 {
		t.Errorf("stats = %+v, total %d", st, srv.TotalRequests())
	}
	if calls := srv.Calls(); !strings.Contains(string(calls[0].Input), `"SecretId":"app/0"`) || calls[10].ErrorCode != "ResourceNotFoundException" {
		t.Errorf("calls = %+v", calls)
	}
	srv.ResetStats()
	if srv.Requests(OpGetSecretValue) != 0 || srv.Reads("app/0") != 1 {
		t.Error("ResetStats resets the request log, not the secrets")
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	srv := NewServer()
	defer srv.Close()
	srv.CreateSecret(SecretSpec{Name: "app", String: aws.String("v")})
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String("app")}

	// Throttling and internal errors are retried by the SDK.
	srv.FailNext(OpGetSecretValue, 2, awsapi.Throttling(0))
	srv.FailNext(awsapi.AnyOperation, 1, InternalError())
	out, err := client(srv, DefaultRegion, srv.Credentials(), 5).GetSecretValue(ctx, in)
	if err != nil || *out.SecretString != "v" {
		t.Fatalf("with retries: %v", err)
	}
	if st := srv.Stats(OpGetSecretValue); st.Requests != 4 || st.Faults != 3 || st.OK != 1 || srv.Reads("app") != 1 {
		t.Errorf("stats = %+v, reads %d", st, srv.Reads("app"))
	}
	// Without retries they reach the caller.
	srv.FailNext(OpGetSecretValue, 1, awsapi.Throttling(time.Second))
	if _, err := client(srv, DefaultRegion, srv.Credentials(), 1).GetSecretValue(ctx, in); awsapi.ErrorCode(err) != "ThrottlingException" {
		t.Errorf("no retries: %v", err)
	}
	// DecryptionFailure is not retried.
	srv.ResetStats()
	srv.FailNext(OpGetSecretValue, 1, DecryptionFailure())
	_, err = client(srv, DefaultRegion, srv.Credentials(), 5).GetSecretValue(ctx, in)
	var df *types.DecryptionFailure
	if !errors.As(err, &df) || srv.Requests(OpGetSecretValue) != 1 {
		t.Errorf("DecryptionFailure: %v after %d requests", err, srv.Requests(OpGetSecretValue))
	}
	if strings.Contains(err.Error(), `"v"`) {
		t.Errorf("error carries the value: %v", err)
	}
}

func TestAuthenticationAndProtocol(t *testing.T) {
	t.Parallel()
	creds := awsapi.Credentials{AccessKeyID: "ASIASMTEST", SecretAccessKey: "sm-s3cret", SessionToken: "tok"}
	srv := NewServer(awsapi.WithCredentials(creds), awsapi.WithAccount("111122223333"))
	defer srv.Close()
	s := srv.CreateSecret(SecretSpec{Name: "app", String: aws.String("v")})
	if !strings.HasPrefix(s.ARN, "arn:aws:secretsmanager:us-east-1:111122223333:secret:app-") {
		t.Errorf("ARN %s is not in the configured account", s.ARN)
	}
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String("app")}
	if _, err := client(srv, DefaultRegion, creds, 1).GetSecretValue(ctx, in); err != nil {
		t.Fatalf("valid credentials: %v", err)
	}
	for name, tc := range map[string]struct {
		creds awsapi.Credentials
		code  string
	}{
		"wrong secret":  {awsapi.Credentials{AccessKeyID: "ASIASMTEST", SecretAccessKey: "guess", SessionToken: "tok"}, "InvalidSignatureException"},
		"wrong key":     {awsapi.Credentials{AccessKeyID: "ASIAOTHER", SecretAccessKey: "sm-s3cret", SessionToken: "tok"}, "UnrecognizedClientException"},
		"no session":    {awsapi.Credentials{AccessKeyID: "ASIASMTEST", SecretAccessKey: "sm-s3cret"}, "UnrecognizedClientException"},
		"wrong session": {awsapi.Credentials{AccessKeyID: "ASIASMTEST", SecretAccessKey: "sm-s3cret", SessionToken: "x"}, "UnrecognizedClientException"},
	} {
		_, err := client(srv, DefaultRegion, tc.creds, 1).GetSecretValue(ctx, in)
		if got := awsapi.ErrorCode(err); got != tc.code {
			t.Errorf("%s: %s, want %s", name, got, tc.code)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: error leaks the secret key: %v", name, err)
		}
	}
	if st := srv.Stats(OpGetSecretValue); st.OK != 1 || st.Rejected != 4 || srv.Reads("arn:aws:secretsmanager:us-east-1:111122223333:secret:app") != 1 {
		t.Errorf("stats = %+v", st)
	}

	raw := func(signingName, op, body string) (int, string) {
		req, err := awsapi.NewSignedRequest(ctx, srv.URL, creds, signingName, DefaultRegion, TargetPrefix+"."+op, body)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType")
	}
	for name, tc := range map[string]struct {
		signing, op, body string
		status            int
		code              string
	}{
		"ok":             {"secretsmanager", OpGetSecretValue, `{"SecretId":"app"}`, 200, ""},
		"unknown member": {"secretsmanager", OpGetSecretValue, `{"SecretId":"app","IncludeDeleted":true}`, 400, "SerializationException"},
		"member case":    {"secretsmanager", OpGetSecretValue, `{"secretId":"app"}`, 400, "SerializationException"},
		"wrong type":     {"secretsmanager", OpGetSecretValue, `{"SecretId":7}`, 400, "SerializationException"},
		"no SecretId":    {"secretsmanager", OpGetSecretValue, `{}`, 400, "ValidationException"},
		"empty SecretId": {"secretsmanager", OpGetSecretValue, `{"SecretId":""}`, 400, "ValidationException"},
		"ListSecrets":    {"secretsmanager", "ListSecrets", `{}`, 400, "UnknownOperationException"},
		"signed for kms": {"kms", OpGetSecretValue, `{"SecretId":"app"}`, 403, "InvalidSignatureException"},
	} {
		status, code := raw(tc.signing, tc.op, tc.body)
		if status != tc.status || code != tc.code {
			t.Errorf("%s: %d %q, want %d %q", name, status, code, tc.status, tc.code)
		}
	}
}

func TestConcurrentRotationAndReads(t *testing.T) {
	t.Parallel()
	srv := NewServer()
	defer srv.Close()
	c := client(srv, DefaultRegion, srv.Credentials(), 1)
	srv.CreateSecret(SecretSpec{Name: "shared", String: aws.String("v0")})
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for g := range 8 {
		wg.Go(func() {
			name := fmt.Sprintf("own/%d", g)
			if _, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String("x")}); err != nil {
				errs <- err
				return
			}
			for i := range 10 {
				if _, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("shared"), SecretString: aws.String(fmt.Sprintf("v%d.%d", g, i))}); err != nil {
					errs <- err
				}
				got, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("shared")})
				if err != nil || !slices.Equal(got.VersionStages, []string{StageCurrent}) {
					errs <- fmt.Errorf("read: %v", err)
				}
				if _, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got := stages(t, c, "shared")
	var labels []string
	for _, l := range got {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	if strings.Join(labels, " ") != "AWSCURRENT AWSPREVIOUS" {
		t.Errorf("after 80 concurrent rotations: %v", got)
	}
	if srv.Reads("shared") != 80 || srv.Stats(OpPutSecretValue).OK != 80 || srv.Stats(OpCreateSecret).OK != 8 {
		t.Errorf("reads %d, puts %+v", srv.Reads("shared"), srv.Stats(OpPutSecretValue))
	}
}

// TestEnv points the SDK's default configuration at the server through
// Env, as a program under test finds it; it sets the process environment,
// so it does not run in parallel.
func TestEnv(t *testing.T) {
	srv := NewServer()
	defer srv.Close()
	srv.CreateSecret(SecretSpec{Name: "prod/myapp/db", String: aws.String(dbJSON)})
	srv.Setenv(t, DefaultRegion)
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("prod/myapp/db")})
	if err != nil || *out.SecretString != dbJSON {
		t.Fatalf("through Env: %v", err)
	}
}
