package ecrapi

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
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

	// AnyOperation, given to FailNext, matches a request of any operation.
	AnyOperation = "*"
)

// maxBody bounds a request body.
const maxBody = 1 << 20

// Credentials are the one identity a Server accepts.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	// SessionToken, if set, must be sent as X-Amz-Security-Token; if unset,
	// requests carrying one are rejected.
	SessionToken string
}

// Option configures a Server.
type Option func(*Server)

// WithCredentials sets the credentials the server accepts (default
// DefaultAccessKeyID / DefaultSecretAccessKey).
func WithCredentials(c Credentials) Option { return func(s *Server) { s.creds = c } }

// WithAccount sets the caller's account: the registry of requests without a
// registryId, and the default of Put's account (default DefaultAccount).
func WithAccount(account string) Option { return func(s *Server) { s.account = account } }

// WithoutSignatureCheck keeps every authentication check but the
// cryptographic verification of the signature.
func WithoutSignatureCheck() Option { return func(s *Server) { s.skipSignature = true } }

// Server is a running ECR API emulator. Its methods are safe for concurrent
// use. Close it when done.
type Server struct {
	*httptest.Server // URL is the endpoint, e.g. AWS_ENDPOINT_URL_ECR

	creds         Credentials
	account       string
	skipSignature bool
	now           func() time.Time
	done          chan struct{} // closed by Close
	closeOnce     sync.Once

	mu         sync.Mutex
	repos      map[repoKey]*repository
	faults     map[string][]Fault
	cursors    map[string]cursor
	authTokens map[string]time.Time // registry password → expiry
	stats      map[string]*OpStats
	calls      []Call
}

// NewServer starts an emulator.
func NewServer(opts ...Option) *Server {
	s := &Server{
		creds:      Credentials{AccessKeyID: DefaultAccessKeyID, SecretAccessKey: DefaultSecretAccessKey},
		account:    DefaultAccount,
		now:        time.Now,
		repos:      map[repoKey]*repository{},
		faults:     map[string][]Fault{},
		cursors:    map[string]cursor{},
		authTokens: map[string]time.Time{},
		stats:      map[string]*OpStats{},
		done:       make(chan struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	if !validAccount(s.account) {
		panic(fmt.Sprintf("ecrapi: invalid account %q: want 12 digits", s.account))
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	return s
}

// Close ends pending delays and shuts the server down.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.done) })
	s.Server.Close()
}

// Credentials returns the credentials the server accepts.
func (s *Server) Credentials() Credentials { return s.creds }

// Account returns the caller's (default) account.
func (s *Server) Account() string { return s.account }

// Env returns the environment that points an AWS SDK's ECR client at the
// server with its credentials: AWS_ENDPOINT_URL_ECR, AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and, if set, AWS_SESSION_TOKEN. The region is not
// included: it comes from the registry host name or AWS_REGION.
func (s *Server) Env() map[string]string {
	env := map[string]string{
		"AWS_ENDPOINT_URL_ECR":  s.URL,
		"AWS_ACCESS_KEY_ID":     s.creds.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY": s.creds.SecretAccessKey,
	}
	if s.creds.SessionToken != "" {
		env["AWS_SESSION_TOKEN"] = s.creds.SessionToken
	}
	return env
}

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

// Fault is an injected failure of one request.
type Fault struct {
	// Status is the HTTP status answered. Zero, with an empty Code, answers
	// the request normally (after Delay).
	Status int
	// Code is the error's __type and X-Amzn-ErrorType, e.g.
	// "ThrottlingException"; Message its message.
	Code    string
	Message string
	// RetryAfter, if set, is sent as the Retry-After header.
	RetryAfter string
	// Delay is waited before answering (or until the client gives up).
	Delay time.Duration
}

// Throttling is the fault AWS answers when a caller exceeds its request
// rate: 400 ThrottlingException. retryAfter > 0 adds a Retry-After header
// (in whole seconds, rounded up).
func Throttling(retryAfter time.Duration) Fault {
	f := Fault{Status: http.StatusBadRequest, Code: "ThrottlingException", Message: "Rate exceeded"}
	if retryAfter > 0 {
		f.RetryAfter = strconv.Itoa(int((retryAfter + time.Second - 1) / time.Second))
	}
	return f
}

// ServerError is a 500 ServerException.
func ServerError() Fault {
	return Fault{Status: http.StatusInternalServerError, Code: "ServerException", Message: "An internal error occurred"}
}

// Unavailable is a 503 ServiceUnavailableException.
func Unavailable() Fault {
	return Fault{Status: http.StatusServiceUnavailable, Code: "ServiceUnavailableException", Message: "Service unavailable"}
}

// Delay is a fault that only delays the answer by d.
func Delay(d time.Duration) Fault { return Fault{Delay: d} }

// FailNext makes the next n authenticated requests of op (or of any
// operation, with AnyOperation) fail with f. Faults queue up in order.
func (s *Server) FailNext(op string, n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults[op] = append(s.faults[op], f)
	}
}

// ClearFaults drops every pending fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = map[string][]Fault{}
}

// OpStats count the requests of one operation.
type OpStats struct {
	Requests int // every request naming the operation
	OK       int // answered 200
	Faults   int // answered with an injected fault (delays only excluded)
	Rejected int // refused before the operation ran: authentication, protocol
	Errors   int // failed in the operation: validation, not found, ...
}

// Call is one request received, in arrival order.
type Call struct {
	Op          string          // operation, or the raw X-Amz-Target if unknown
	AccessKeyID string          // from the Authorization header, if any
	Region      string          // from the credential scope, if any
	Input       json.RawMessage // request body
	Status      int             // HTTP status answered
	ErrorCode   string          // __type answered, if an error
}

// Stats returns the counters of op.
func (s *Server) Stats(op string) OpStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.stats[op]; st != nil {
		return *st
	}
	return OpStats{}
}

// Requests returns how many requests named op, whatever their outcome.
func (s *Server) Requests(op string) int { return s.Stats(op).Requests }

// TotalRequests returns how many requests the server received.
func (s *Server) TotalRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

// Calls returns every request received so far, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// ResetStats zeroes the counters and the call log.
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats = map[string]*OpStats{}
	s.calls = nil
}

// apiError is an AWS JSON protocol error.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func invalidParameter(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, "InvalidParameterException", fmt.Sprintf(format, args...)}
}

// request is what an operation sees of an authenticated request.
type request struct {
	account string // the caller's account
	region  string // from the credential scope
	body    []byte
}

type outcome int

const (
	outcomeOK outcome = iota
	outcomeFault
	outcomeRejected
	outcomeError
)

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	call := Call{Op: strings.TrimPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix+".")}
	if call.Op == "" {
		call.Op = "(none)"
	}
	call.Input = json.RawMessage(bytes.Clone(body))

	status, code, res := s.handle(r, body, err, &call)
	call.Status, call.ErrorCode = status, code

	s.mu.Lock()
	st := s.stats[call.Op]
	if st == nil {
		st = &OpStats{}
		s.stats[call.Op] = st
	}
	st.Requests++
	switch res.outcome {
	case outcomeOK:
		st.OK++
	case outcomeFault:
		st.Faults++
	case outcomeRejected:
		st.Rejected++
	case outcomeError:
		st.Errors++
	}
	s.calls = append(s.calls, call)
	s.mu.Unlock()

	h := w.Header()
	h.Set("Content-Type", "application/x-amz-json-1.1")
	h.Set("X-Amzn-Requestid", requestID())
	if code != "" {
		h.Set("X-Amzn-Errortype", code)
	}
	if res.retryAfter != "" {
		h.Set("Retry-After", res.retryAfter)
	}
	h.Set("Content-Length", strconv.Itoa(len(res.body)))
	w.WriteHeader(status)
	_, _ = w.Write(res.body)
}

type result struct {
	outcome    outcome
	body       []byte
	retryAfter string
}

// handle runs the checks and the operation. It returns the status, the
// error code (empty on success) and the response.
func (s *Server) handle(r *http.Request, body []byte, readErr error, call *Call) (int, string, result) {
	fail := func(o outcome, e *apiError) (int, string, result) {
		return e.status, e.code, result{outcome: o, body: errorBody(e)}
	}
	if readErr != nil {
		return fail(outcomeRejected, &apiError{http.StatusBadRequest, "SerializationException", "cannot read the request body"})
	}
	if len(body) > maxBody {
		return fail(outcomeRejected, &apiError{http.StatusRequestEntityTooLarge, "SerializationException", "request body too large"})
	}
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		return fail(outcomeRejected, &apiError{http.StatusNotFound, "UnknownOperationException", fmt.Sprintf("%s %s is not an operation", r.Method, r.URL.Path)})
	}
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, TargetPrefix+".")
	if !ok || operations[op] == nil {
		return fail(outcomeRejected, &apiError{http.StatusBadRequest, "UnknownOperationException", fmt.Sprintf("unknown operation %q", target)})
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		return fail(outcomeRejected, &apiError{http.StatusBadRequest, "SerializationException", fmt.Sprintf("unsupported Content-Type %q, want application/x-amz-json-1.1", ct)})
	}
	id, aerr := s.authenticate(r, body)
	call.AccessKeyID, call.Region = id.accessKeyID, id.region
	if aerr != nil {
		return fail(outcomeRejected, aerr)
	}

	if f, ok := s.nextFault(op); ok {
		if f.Delay > 0 {
			t := time.NewTimer(f.Delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
			case <-s.done:
			}
			t.Stop()
		}
		if f.Status != 0 || f.Code != "" {
			status := f.Status
			if status == 0 {
				status = http.StatusBadRequest
			}
			code := f.Code
			if code == "" {
				code = http.StatusText(status)
			}
			_, c, res := fail(outcomeFault, &apiError{status, code, f.Message})
			res.retryAfter = f.RetryAfter
			return status, c, res
		}
	}

	if !json.Valid(body) {
		return fail(outcomeError, &apiError{http.StatusBadRequest, "SerializationException", "the request body is not valid JSON"})
	}
	out, err := operations[op](s, request{account: s.account, region: id.region, body: body})
	if err != nil {
		return fail(outcomeError, err)
	}
	data, merr := json.Marshal(out)
	if merr != nil {
		return fail(outcomeError, &apiError{http.StatusInternalServerError, "ServerException", merr.Error()})
	}
	return http.StatusOK, "", result{outcome: outcomeOK, body: data}
}

func (s *Server) nextFault(op string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, key := range []string{op, AnyOperation} {
		if q := s.faults[key]; len(q) > 0 {
			s.faults[key] = q[1:]
			return q[0], true
		}
	}
	return Fault{}, false
}

func errorBody(e *apiError) []byte {
	data, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{e.code, e.message})
	return data
}

func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// randomToken returns n random bytes, hex encoded.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// decode unmarshals a request body into v, strictly typed: a member of the
// wrong JSON type is a SerializationException. Unknown members are ignored,
// as AWS does.
func decode(body []byte, v any) *apiError {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return &apiError{http.StatusBadRequest, "SerializationException", "cannot deserialize the request: " + err.Error()}
	}
	if dec.More() {
		return &apiError{http.StatusBadRequest, "SerializationException", "trailing data after the request object"}
	}
	return nil
}
