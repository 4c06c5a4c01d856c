package awsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	alice = Principal{Credentials{"AKIDALICE", "alice-secret", ""}, "111111111111"}
	bob   = Principal{Credentials{"ASIABOB", "bob-secret", "bob-session"}, "222222222222"}
)

type echoInput struct {
	Name  *string          `json:"Name"`
	Count *int             `json:"Count"`
	Blob  []byte           `json:"Blob"`
	Tags  []tag            `json:"Tags"`
	Attrs map[string]inner `json:"Attrs"`
}

type tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type inner struct {
	On bool `json:"On"`
}

// newEcho starts a server of a toy service whose Echo operation answers
// what it was told and who asked.
func newEcho(t *testing.T) *Server {
	t.Helper()
	srv := NewServer(Config{
		TargetPrefix: "Echo_20250101",
		SigningName:  "echo",
		EndpointEnv:  "AWS_ENDPOINT_URL_ECHO",
		Principals:   []Principal{alice, bob},
		Operations: map[string]Operation{
			"Ping": func(Request) (any, *Error) { return struct{}{}, nil },
			"Echo": func(r Request) (any, *Error) {
				var in echoInput
				if err := Decode(r.Body, &in); err != nil {
					return nil, err
				}
				if in.Name == nil {
					return nil, BadRequest("ValidationException", "Name is required")
				}
				return map[string]any{"Name": *in.Name, "Account": r.Account, "Region": r.Region, "AccessKeyId": r.AccessKeyID, "Blob": in.Blob}, nil
			},
		},
	})
	t.Cleanup(srv.Close)
	return srv
}

type response struct {
	status int
	header http.Header
	body   map[string]any
}

func (r response) code() string { s, _ := r.body["__type"].(string); return s }

// newRequest makes a request to srv, signed unless p is nil.
func newRequest(ctx context.Context, t *testing.T, srv *Server, p *Principal, region, target, body string) *http.Request {
	t.Helper()
	var c Credentials
	if p != nil {
		c = p.Credentials
	}
	req, err := NewSignedRequest(ctx, srv.URL, c, "echo", region, target, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// send sends a request made by newRequest, after edit.
func send(t *testing.T, srv *Server, p *Principal, region, target, body string, edit func(*http.Request)) response {
	t.Helper()
	req := newRequest(context.Background(), t, srv, p, region, target, body)
	if edit != nil {
		edit(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	out := response{status: resp.StatusCode, header: resp.Header}
	if err := json.Unmarshal(data, &out.body); err != nil {
		t.Fatalf("response %q is not a JSON object: %v", data, err)
	}
	return out
}

func TestRequestReachesOperationWithIdentity(t *testing.T) {
	t.Parallel()
	srv := newEcho(t)
	got := send(t, srv, &alice, "eu-west-1", "Echo_20250101.Echo", `{"Name":"x","Blob":"aGk="}`, nil)
	if got.status != 200 || got.body["Account"] != alice.Account || got.body["Region"] != "eu-west-1" ||
		got.body["AccessKeyId"] != alice.AccessKeyID || got.body["Blob"] != "aGk=" {
		t.Fatalf("alice: %d %v", got.status, got.body)
	}
	if got.header.Get("Content-Type") != ContentType || !regexp.MustCompile(`^[0-9a-f-]{36}$`).MatchString(got.header.Get("X-Amzn-RequestId")) {
		t.Errorf("headers = %v", got.header)
	}
	if got := send(t, srv, &bob, "us-east-1", "Echo_20250101.Echo", `{"Name":"x"}`, nil); got.status != 200 || got.body["Account"] != bob.Account {
		t.Fatalf("bob: %d %v", got.status, got.body)
	}
	carol := Principal{Credentials{"AKIDCAROL", "carol-secret", ""}, "333333333333"}
	if got := send(t, srv, &carol, "us-east-1", "Echo_20250101.Echo", `{"Name":"x"}`, nil); got.code() != "UnrecognizedClientException" {
		t.Fatalf("carol before AddPrincipal: %v", got.body)
	}
	srv.AddPrincipal(carol)
	if got := send(t, srv, &carol, "us-east-1", "Echo_20250101.Echo", `{"Name":"x"}`, nil); got.status != 200 || got.body["Account"] != carol.Account {
		t.Fatalf("carol after AddPrincipal: %v", got.body)
	}
	if st := srv.Stats("Echo"); st.Requests != 4 || st.OK != 3 || st.Rejected != 1 {
		t.Errorf("stats = %+v", st)
	}
	env := srv.Env()
	if env["AWS_ENDPOINT_URL_ECHO"] != srv.URL || env["AWS_ACCESS_KEY_ID"] != alice.AccessKeyID || env["AWS_SECRET_ACCESS_KEY"] != alice.SecretAccessKey {
		t.Errorf("Env = %v", env)
	}
	if _, ok := env["AWS_SESSION_TOKEN"]; ok {
		t.Errorf("Env has a session token alice does not have")
	}
}

func TestAuthenticationFailures(t *testing.T) {
	t.Parallel()
	srv := newEcho(t)
	const target = "Echo_20250101.Echo"
	body := `{"Name":"x"}`
	wrongSecret := alice
	wrongSecret.SecretAccessKey = "guess"
	noSession := bob
	noSession.SessionToken = ""
	for name, tc := range map[string]struct {
		p    *Principal
		edit func(*http.Request)
		code string
	}{
		"unsigned":        {nil, nil, "MissingAuthenticationTokenException"},
		"wrong secret":    {&wrongSecret, nil, "InvalidSignatureException"},
		"missing session": {&noSession, nil, "UnrecognizedClientException"},
		"body changed after signing": {&alice, func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader(`{"Name":"y"}`))
		}, "InvalidSignatureException"},
		"signed header changed": {&alice, func(r *http.Request) {
			r.Header.Set("X-Amz-Target", "Echo_20250101.Ping")
		}, "InvalidSignatureException"},
		"other service": {&alice, func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/echo/", "/kms/", 1))
		}, "InvalidSignatureException"},
		"stale date": {&alice, func(r *http.Request) {
			r.Header.Set("X-Amz-Date", time.Now().UTC().Add(-time.Hour).Format(AmzDateFormat))
		}, "InvalidSignatureException"},
		"no date": {&alice, func(r *http.Request) { r.Header.Del("X-Amz-Date") }, "IncompleteSignatureException"},
	} {
		got := send(t, srv, tc.p, "us-east-1", target, body, tc.edit)
		if got.code() != tc.code || got.header.Get("X-Amzn-ErrorType") != tc.code {
			t.Errorf("%s: %d %v, want %s", name, got.status, got.body, tc.code)
		}
		if msg, _ := got.body["message"].(string); strings.Contains(msg, "secret") || strings.Contains(msg, "guess") {
			t.Errorf("%s: message leaks a secret: %s", name, msg)
		}
	}
}

func TestProtocolErrors(t *testing.T) {
	t.Parallel()
	srv := newEcho(t)
	for name, tc := range map[string]struct {
		target string
		edit   func(*http.Request)
		status int
		code   string
	}{
		"unknown operation": {"Echo_20250101.Shout", nil, 400, "UnknownOperationException"},
		"other prefix":      {"Other.Echo", nil, 400, "UnknownOperationException"},
		"content type":      {"Echo_20250101.Echo", func(r *http.Request) { r.Header.Set("Content-Type", "application/json") }, 400, "SerializationException"},
		"path":              {"Echo_20250101.Echo", func(r *http.Request) { r.URL.Path = "/v1" }, 404, "UnknownOperationException"},
	} {
		got := send(t, srv, &alice, "us-east-1", tc.target, `{"Name":"x"}`, tc.edit)
		if got.status != tc.status || got.code() != tc.code {
			t.Errorf("%s: %d %v, want %d %s", name, got.status, got.body, tc.status, tc.code)
		}
	}
}

func TestDecodeIsStrict(t *testing.T) {
	t.Parallel()
	srv := newEcho(t)
	for body, want := range map[string]string{
		`{"Name":"x"}`:                                 "",
		`{"Name":"x","Count":null,"Tags":null}`:        "",
		`{"Name":"x","Tags":[{"Key":"k","Value":""}]}`: "",
		`{"Name":"x","Attrs":{"a":{"On":true}}}`:       "",
		`{"Name":"x","Blob":"aGk="}`:                   "",
		``:                                             "ValidationException",
		`{}`:                                           "ValidationException",
		`{"name":"x"}`:                                 "SerializationException", // case matters
		`{"Name":"x","Extra":1}`:                       "SerializationException",
		`{"Name":"x","Tags":[{"Key":"k","Colour":"red"}]}`: "SerializationException",
		`{"Name":"x","Attrs":{"a":{"Off":true}}}`:          "SerializationException",
		`{"Name":"x","Tags":{"Key":"k"}}`:                  "SerializationException",
		`{"Name":1}`:                                       "SerializationException",
		`{"Name":"x","Count":1.5}`:                         "SerializationException",
		`{"Name":"x","Blob":"not base64!"}`:                "SerializationException",
		`{"Name":"x"} {}`:                                  "SerializationException",
		`[]`:                                               "SerializationException",
		`{"Name":"x"`:                                      "SerializationException",
	} {
		got := send(t, srv, &alice, "us-east-1", "Echo_20250101.Echo", body, nil)
		if got.code() != want || (want == "" && got.status != 200) || (want != "" && got.status != 400) {
			t.Errorf("%s: %d %v, want %q", body, got.status, got.body, want)
		}
	}
	got := send(t, srv, &alice, "us-east-1", "Echo_20250101.Echo", `{"Name":"x","Tags":[{"Key":"k","Colour":"red"}]}`, nil)
	if msg := got.body["message"].(string); !strings.Contains(msg, `"Colour"`) || !strings.Contains(msg, `'Tags.0'`) {
		t.Errorf("message %q does not name the member and where it is", msg)
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	srv := newEcho(t)
	echo := func() response { return send(t, srv, &alice, "us-east-1", "Echo_20250101.Echo", `{"Name":"x"}`, nil) }

	srv.FailNext(AnyOperation, 1, Unavailable())
	srv.FailNext("Echo", 1, Throttling(1500*time.Millisecond))
	srv.FailNext("Echo", 1, ServerError("InternalFailure"))
	var codes []string
	for range 4 {
		got := echo()
		codes = append(codes, got.code())
		if got.code() == "ThrottlingException" && (got.status != 400 || got.header.Get("Retry-After") != "2") {
			t.Errorf("throttling: %d, Retry-After %q", got.status, got.header.Get("Retry-After"))
		}
	}
	// The operation's own queue goes first, then AnyOperation's.
	if strings.Join(codes, ",") != "ThrottlingException,InternalFailure,ServiceUnavailableException," {
		t.Errorf("codes = %v", codes)
	}
	if st := srv.Stats("Echo"); st.Requests != 4 || st.Faults != 3 || st.OK != 1 {
		t.Errorf("stats = %+v", st)
	}
	// A rejected request does not consume a fault.
	srv.FailNext("Echo", 1, Throttling(0))
	if got := send(t, srv, nil, "us-east-1", "Echo_20250101.Echo", `{}`, nil); got.code() != "MissingAuthenticationTokenException" {
		t.Fatalf("unsigned: %v", got.body)
	}
	if got := echo(); got.code() != "ThrottlingException" || got.header.Get("Retry-After") != "" {
		t.Errorf("queued throttling: %v %v", got.body, got.header)
	}
	srv.FailNext("Echo", 5, Throttling(0))
	srv.ClearFaults()
	if got := echo(); got.status != 200 {
		t.Errorf("after ClearFaults: %v", got.body)
	}

	calls := srv.Calls()
	if len(calls) != srv.TotalRequests() || calls[0].ErrorCode != "ThrottlingException" || calls[0].Status != 400 ||
		calls[0].AccessKeyID != alice.AccessKeyID || calls[0].Region != "us-east-1" || string(calls[0].Input) != `{"Name":"x"}` {
		t.Errorf("first call = %+v", calls[0])
	}
	srv.ResetStats()
	if srv.TotalRequests() != 0 || srv.Requests("Echo") != 0 {
		t.Error("ResetStats kept something")
	}

	// A delay ends with the client's patience.
	srv.FailNext("Echo", 1, Delay(time.Minute))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := http.DefaultClient.Do(newRequest(ctx, t, srv, &alice, "us-east-1", "Echo_20250101.Echo", `{"Name":"x"}`))
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 10*time.Second {
		t.Errorf("delayed request: %v after %s", err, time.Since(start))
	}
}

func TestConcurrentRequests(t *testing.T) {
	t.Parallel()
	srv := newEcho(t)
	srv.FailNext("Echo", 10, Throttling(0))
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[string]int{}
	for range 8 {
		wg.Go(func() {
			for range 10 {
				got := send(t, srv, &bob, "us-east-1", "Echo_20250101.Echo", `{"Name":"x"}`, nil)
				mu.Lock()
				codes[got.code()]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if codes["ThrottlingException"] != 10 || codes[""] != 70 {
		t.Errorf("codes = %v", codes)
	}
	if st := srv.Stats("Echo"); st.Requests != 80 || st.OK != 70 || st.Faults != 10 || len(srv.Calls()) != 80 {
		t.Errorf("stats = %+v", st)
	}
}

func TestEpochSeconds(t *testing.T) {
	t.Parallel()
	for in, want := range map[time.Time]string{
		time.Unix(1700000000, 0):           "1700000000",
		time.Unix(1700000000, 123_000_000): "1700000000.123",
		time.Unix(1700000000, 500_000_000): "1700000000.5",
		time.Unix(1700000000, 120_999_999): "1700000000.12",
	} {
		got, _ := json.Marshal(EpochSeconds(in))
		if !bytes.Equal(got, []byte(want)) {
			t.Errorf("%v: %s, want %s", in, got, want)
		}
	}
}

func TestNames(t *testing.T) {
	t.Parallel()
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	if a, b := NewUUID(), NewUUID(); !uuid.MatchString(a) || a == b {
		t.Errorf("NewUUID = %s, %s", a, b)
	}
	for region, want := range map[string]string{
		"us-east-1":     "arn:aws:kms:us-east-1:123456789012:key/k",
		"cn-north-1":    "arn:aws-cn:kms:cn-north-1:123456789012:key/k",
		"us-gov-west-1": "arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/k",
	} {
		got := ARN("kms", region, "123456789012", "key/k")
		p, ok := ParseARN(got)
		if got != want || !ok || p.Region != region || p.Resource != "key/k" || p.Service != "kms" || p.Account != "123456789012" {
			t.Errorf("%s: %s %+v", region, got, p)
		}
	}
	if p, ok := ParseARN("arn:aws:secretsmanager:us-east-1:123456789012:secret:a:b"); !ok || p.Resource != "secret:a:b" {
		t.Errorf("a resource keeps its colons: %+v", p)
	}
	for _, bad := range []string{"", "alias/x", "arn:aws:kms", "arn::kms:r:a:x", "arn:aws:kms:r:a:"} {
		if _, ok := ParseARN(bad); ok {
			t.Errorf("ParseARN(%q) ok", bad)
		}
	}
	if !ValidRegion("ap-southeast-2") || !ValidRegion("us-gov-west-1") || ValidRegion("us_east_1") || ValidRegion("") {
		t.Error("ValidRegion")
	}
	if !ValidAccount("123456789012") || ValidAccount("12345678901") || ValidAccount("12345678901a") {
		t.Error("ValidAccount")
	}
}

func TestInvalidConfigPanics(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]Config{
		"no principal": {TargetPrefix: "X", SigningName: "x", Operations: map[string]Operation{"A": nil}},
		"bad account": {TargetPrefix: "X", SigningName: "x", Operations: map[string]Operation{"A": nil},
			Principals: []Principal{{Credentials{"AK", "SK", ""}, "1"}}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			NewServer(cfg).Close()
		}()
	}
}
