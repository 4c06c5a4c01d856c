package awsapi

import (
	"bytes"
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

// ContentType is the Content-Type of AWS JSON 1.1 requests and responses.
const ContentType = "application/x-amz-json-1.1"

// AnyOperation, given to FailNext, matches a request of any operation.
const AnyOperation = "*"

// maxBody bounds a request body.
const maxBody = 1 << 20

// Credentials are an access key: what a client signs requests with.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	// SessionToken, if set, must be sent as X-Amz-Security-Token; if unset,
	// requests carrying one are rejected.
	SessionToken string
}

// Principal is an identity a Server accepts: its credentials and the
// account it belongs to.
type Principal struct {
	Credentials
	Account string // twelve digits
}

// Request is what an operation sees of an authenticated, well-formed
// request.
type Request struct {
	Op          string // operation name, without the target prefix
	AccessKeyID string // of the principal that signed the request
	Account     string // the signer's account
	Region      string // from the signature's credential scope
	Body        []byte // a valid JSON document
}

// Operation runs one API operation. It returns the value to answer (marshalled
// with encoding/json) or an error.
type Operation func(Request) (any, *Error)

// Config describes the API a Server speaks.
type Config struct {
	// TargetPrefix is the X-Amz-Target prefix, e.g. "TrentService" for KMS:
	// a request names its operation as TargetPrefix + "." + name.
	TargetPrefix string
	// SigningName is the service name of the SigV4 credential scope, e.g.
	// "kms".
	SigningName string
	// EndpointEnv is the SDK's service-specific endpoint variable, e.g.
	// "AWS_ENDPOINT_URL_KMS" (see Env).
	EndpointEnv string
	// Operations are the implemented operations by name.
	Operations map[string]Operation
	// Principals are the identities accepted; the first is the default
	// (Credentials, Account, Env). At least one is required.
	Principals []Principal
	// SkipSignature keeps every authentication check but the cryptographic
	// verification of the signature.
	SkipSignature bool
	// Now is the clock of the signature's date check; default time.Now.
	Now func() time.Time
}

// Server is a running AWS JSON 1.1 endpoint. Its methods are safe for
// concurrent use. Close it when done.
type Server struct {
	*httptest.Server // URL is the endpoint

	cfg       Config
	now       func() time.Time
	done      chan struct{} // closed by Close
	closeOnce sync.Once

	mu         sync.Mutex
	principals map[string]Principal // by access key id
	faults     map[string][]Fault
	stats      map[string]*OpStats
	calls      []Call
}

// NewServer starts a server speaking cfg's API, after opts adjusted cfg.
// It panics on an invalid configuration.
func NewServer(cfg Config, opts ...Option) *Server {
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.TargetPrefix == "" || cfg.SigningName == "" || len(cfg.Operations) == 0 || len(cfg.Principals) == 0 {
		panic("awsapi: a Config needs a TargetPrefix, a SigningName, Operations and a Principal")
	}
	s := &Server{
		cfg:        cfg,
		now:        cfg.Now,
		done:       make(chan struct{}),
		principals: map[string]Principal{},
		faults:     map[string][]Fault{},
		stats:      map[string]*OpStats{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	for _, p := range cfg.Principals {
		s.AddPrincipal(p)
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	return s
}

// Close ends pending delays and shuts the server down.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.done) })
	s.Server.Close()
}

// AddPrincipal makes the server accept another identity. It panics on an
// empty access key or an account that is not twelve digits.
func (s *Server) AddPrincipal(p Principal) {
	if p.AccessKeyID == "" || p.SecretAccessKey == "" {
		panic("awsapi: a principal needs an access key id and a secret access key")
	}
	if !ValidAccount(p.Account) {
		panic(fmt.Sprintf("awsapi: invalid account %q: want 12 digits", p.Account))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.principals[p.AccessKeyID] = p
}

func (s *Server) principal(accessKeyID string) (Principal, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.principals[accessKeyID]
	return p, ok
}

// Principal returns the default principal.
func (s *Server) Principal() Principal { return s.cfg.Principals[0] }

// Credentials returns the default principal's credentials.
func (s *Server) Credentials() Credentials { return s.Principal().Credentials }

// Account returns the default principal's account.
func (s *Server) Account() string { return s.Principal().Account }

// Env returns the environment that points an AWS SDK client of the service
// at the server with the default principal's credentials: the service's
// endpoint variable (Config.EndpointEnv), AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and, if set, AWS_SESSION_TOKEN. The region is not
// included.
func (s *Server) Env() map[string]string {
	p := s.Principal()
	env := map[string]string{
		"AWS_ACCESS_KEY_ID":     p.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY": p.SecretAccessKey,
	}
	if s.cfg.EndpointEnv != "" {
		env[s.cfg.EndpointEnv] = s.URL
	}
	if p.SessionToken != "" {
		env["AWS_SESSION_TOKEN"] = p.SessionToken
	}
	return env
}

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

type outcome int

const (
	outcomeOK outcome = iota
	outcomeFault
	outcomeRejected
	outcomeError
)

type result struct {
	outcome    outcome
	status     int
	code       string // empty on success
	body       []byte
	retryAfter string
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	call := Call{Op: strings.TrimPrefix(r.Header.Get("X-Amz-Target"), s.cfg.TargetPrefix+".")}
	if call.Op == "" {
		call.Op = "(none)"
	}
	call.Input = json.RawMessage(bytes.Clone(body))

	res := s.handle(r, body, err, &call)
	call.Status, call.ErrorCode = res.status, res.code

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
	h.Set("Content-Type", ContentType)
	h.Set("X-Amzn-Requestid", NewUUID())
	if res.code != "" {
		h.Set("X-Amzn-Errortype", res.code)
	}
	if res.retryAfter != "" {
		h.Set("Retry-After", res.retryAfter)
	}
	h.Set("Content-Length", strconv.Itoa(len(res.body)))
	w.WriteHeader(res.status)
	_, _ = w.Write(res.body)
}

// handle runs the checks and the operation.
func (s *Server) handle(r *http.Request, body []byte, readErr error, call *Call) result {
	fail := func(o outcome, e *Error) result {
		return result{outcome: o, status: e.Status, code: e.Code, body: e.body()}
	}
	if readErr != nil {
		return fail(outcomeRejected, &Error{http.StatusBadRequest, "SerializationException", "cannot read the request body"})
	}
	if len(body) > maxBody {
		return fail(outcomeRejected, &Error{http.StatusRequestEntityTooLarge, "SerializationException", "request body too large"})
	}
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		return fail(outcomeRejected, &Error{http.StatusNotFound, "UnknownOperationException", fmt.Sprintf("%s %s is not an operation", r.Method, r.URL.Path)})
	}
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, s.cfg.TargetPrefix+".")
	if !ok || s.cfg.Operations[op] == nil {
		return fail(outcomeRejected, &Error{http.StatusBadRequest, "UnknownOperationException", fmt.Sprintf("unknown operation %q", target)})
	}
	if ct := r.Header.Get("Content-Type"); ct != ContentType {
		return fail(outcomeRejected, &Error{http.StatusBadRequest, "SerializationException", fmt.Sprintf("unsupported Content-Type %q, want %s", ct, ContentType)})
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
			res := fail(outcomeFault, &Error{status, code, f.Message})
			res.retryAfter = f.RetryAfter
			return res
		}
	}

	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}") // an operation without input may send no body
	}
	if !json.Valid(body) {
		return fail(outcomeError, &Error{http.StatusBadRequest, "SerializationException", "the request body is not valid JSON"})
	}
	req := Request{Op: op, AccessKeyID: id.accessKeyID, Account: id.principal.Account, Region: id.region, Body: body}
	out, err := s.cfg.Operations[op](req)
	if err != nil {
		return fail(outcomeError, err)
	}
	data, merr := json.Marshal(out)
	if merr != nil {
		return fail(outcomeError, &Error{http.StatusInternalServerError, "InternalFailure", merr.Error()})
	}
	return result{outcome: outcomeOK, status: http.StatusOK, body: data}
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
