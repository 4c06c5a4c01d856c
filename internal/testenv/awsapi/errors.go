package awsapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/smithy-go"
)

// Error is an AWS JSON protocol error: answered with its HTTP status, the
// X-Amzn-ErrorType header and the body {"__type": Code, "message": Message}.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func (e *Error) body() []byte {
	data, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{e.Code, e.Message})
	return data
}

// Errorf returns an error of the given status and code whose message is
// formatted from format and args.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// BadRequest returns a 400 error of the given code.
func BadRequest(code, format string, args ...any) *Error {
	return Errorf(http.StatusBadRequest, code, format, args...)
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

// ServerError is a 500 fault of the given code, e.g. "ServerException"
// (ECR), "KMSInternalException" (KMS) or "InternalServiceError" (Secrets
// Manager).
func ServerError(code string) Fault {
	return Fault{Status: http.StatusInternalServerError, Code: code, Message: "An internal error occurred"}
}

// Unavailable is a 503 ServiceUnavailableException.
func Unavailable() Fault {
	return Fault{Status: http.StatusServiceUnavailable, Code: "ServiceUnavailableException", Message: "Service unavailable"}
}

// Delay is a fault that only delays the answer by d.
func Delay(d time.Duration) Fault { return Fault{Delay: d} }

// ValidationError is the 400 ValidationException AWS answers for a
// parameter that breaks its model's constraints (a missing required
// member, a length or range, an enum value).
func ValidationError(format string, args ...any) *Error {
	return BadRequest("ValidationException", "1 validation error detected: "+format, args...)
}

// CheckLength checks that an optional string member, if set, is lo to hi
// bytes long.
func CheckLength(member string, v *string, lo, hi int) *Error {
	if v != nil && (len(*v) < lo || len(*v) > hi) {
		return ValidationError("Value at '%s' failed to satisfy constraint: Member must have length between %d and %d", member, lo, hi)
	}
	return nil
}

// CheckRequired checks that a required string member is set and lo to hi
// bytes long.
func CheckRequired(member string, v *string, lo, hi int) *Error {
	if v == nil {
		return ValidationError("Value null at '%s' failed to satisfy constraint: Member must not be null", member)
	}
	return CheckLength(member, v, lo, hi)
}

// FirstError returns the first non-nil error of errs: for a list of
// parameter checks.
func FirstError(errs ...*Error) *Error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// ErrorCode returns the AWS error code of an SDK client's error (what the
// server sent as __type), or "" if err is not an AWS API error.
func ErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
