package registry

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestIsAWSThrottle(t *testing.T) {
	tests := []struct {
		name   string
		header string
		body   string
		want   bool
	}{
		{name: "header", header: "ThrottlingException:http://internal.amazon.com/", want: true},
		{name: "header other error", header: "RepositoryNotFoundException:x", want: false},
		{name: "body type", body: `{"__type":"ThrottlingException","message":"slow down"}`, want: true},
		{name: "namespaced body type", body: `{"__type":"com.amazonaws.ecr#ThrottlingException"}`, want: true},
		{name: "body code", body: `{"code":"RequestLimitExceeded"}`, want: true},
		{name: "message only mentions it", body: `{"__type":"InvalidParameterException","message":"not a ThrottlingException"}`, want: false},
		{name: "not json", body: `ThrottlingException`, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: 400, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(tt.body))}
			if tt.header != "" {
				resp.Header.Set("X-Amzn-ErrorType", tt.header)
			}
			if tt.body != "" && strings.HasPrefix(tt.body, "{") {
				resp.Header.Set("Content-Type", "application/x-amz-json-1.1")
			}
			if got := isAWSThrottle(resp); got != tt.want {
				t.Errorf("isAWSThrottle = %v, want %v", got, tt.want)
			}
			rest, _ := io.ReadAll(resp.Body)
			if string(rest) != tt.body {
				t.Errorf("body after check = %q, want it restored to %q", rest, tt.body)
			}
		})
	}
}
