package awsapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	sigv4Algorithm = "AWS4-HMAC-SHA256"
	// AmzDateFormat is the layout of the X-Amz-Date header.
	AmzDateFormat = "20060102T150405Z"
	maxClockSkew  = 15 * time.Minute
)

// identity is who a request says it comes from.
type identity struct {
	accessKeyID string
	region      string
	principal   Principal // the matching principal, once the key id is known
}

func authError(code, message string) *Error {
	return &Error{Status: http.StatusForbidden, Code: code, Message: message}
}

// authenticate checks a request's SigV4 Authorization header. It never puts
// a secret (or the signature) into an error message.
func (s *Server) authenticate(r *http.Request, body []byte) (identity, *Error) {
	var id identity
	authz := r.Header.Get("Authorization")
	if authz == "" {
		return id, authError("MissingAuthenticationTokenException", "Missing Authentication Token")
	}
	algo, rest, _ := strings.Cut(authz, " ")
	if algo != sigv4Algorithm {
		return id, authError("IncompleteSignatureException", "Unsupported authorization algorithm, want "+sigv4Algorithm)
	}
	fields := map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return id, authError("IncompleteSignatureException", "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters")
		}
		fields[k] = v
	}
	credential, signedHeaders, signature := fields["Credential"], fields["SignedHeaders"], fields["Signature"]
	if credential == "" || signedHeaders == "" || signature == "" {
		return id, authError("IncompleteSignatureException", "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters")
	}
	scope := strings.Split(credential, "/")
	if len(scope) != 5 || scope[0] == "" || scope[4] != "aws4_request" {
		return id, authError("IncompleteSignatureException", "Credential must have the form <access key id>/<date>/<region>/<service>/aws4_request")
	}
	id.accessKeyID, id.region = scope[0], scope[2]

	amzDate := r.Header.Get("X-Amz-Date")
	if amzDate == "" {
		return id, authError("IncompleteSignatureException", "Authorization header requires existence of an 'X-Amz-Date' header")
	}
	when, err := time.Parse(AmzDateFormat, amzDate)
	if err != nil {
		return id, authError("IncompleteSignatureException", "X-Amz-Date must have the form YYYYMMDDTHHMMSSZ")
	}
	if d := s.now().Sub(when); d > maxClockSkew || d < -maxClockSkew {
		return id, authError("InvalidSignatureException", "Signature expired: the request time is too far from the server time")
	}
	if scope[1] != amzDate[:8] {
		return id, authError("InvalidSignatureException", "Credential date does not match X-Amz-Date")
	}
	if scope[3] != s.cfg.SigningName {
		return id, authError("InvalidSignatureException", "Credential should be scoped to correct service: '"+s.cfg.SigningName+"'")
	}
	if !ValidRegion(id.region) {
		return id, authError("InvalidSignatureException", "Credential should be scoped to a valid region")
	}
	p, ok := s.principal(scope[0])
	if !ok {
		return id, authError("UnrecognizedClientException", "The security token included in the request is invalid.")
	}
	if tok := r.Header.Get("X-Amz-Security-Token"); tok != p.SessionToken {
		return id, authError("UnrecognizedClientException", "The security token included in the request is invalid.")
	}
	id.principal = p
	headers := strings.Split(signedHeaders, ";")
	if !slices.IsSorted(headers) || !slices.Contains(headers, "host") || !slices.Contains(headers, "x-amz-date") {
		return id, authError("IncompleteSignatureException", "SignedHeaders must be sorted and include host and x-amz-date")
	}
	if r.Header.Get("X-Amz-Security-Token") != "" && !slices.Contains(headers, "x-amz-security-token") {
		return id, authError("IncompleteSignatureException", "SignedHeaders must include x-amz-security-token")
	}
	if s.cfg.SkipSignature {
		return id, nil
	}

	payloadHash := sha256Hex(body)
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != payloadHash {
		return id, authError("InvalidSignatureException", "The provided x-amz-content-sha256 header does not match what was computed.")
	}
	canonical := strings.Join([]string{
		r.Method,
		canonicalURI(r.URL),
		canonicalQuery(r.URL),
		canonicalHeaders(r, headers),
		signedHeaders,
		payloadHash,
	}, "\n")
	stringToSign := strings.Join([]string{sigv4Algorithm, amzDate, strings.Join(scope[1:], "/"), sha256Hex([]byte(canonical))}, "\n")
	key := hmacSHA256([]byte("AWS4"+p.SecretAccessKey), scope[1])
	for _, part := range scope[2:] {
		key = hmacSHA256(key, part)
	}
	want := hex.EncodeToString(hmacSHA256(key, stringToSign))
	if !hmac.Equal([]byte(want), []byte(signature)) {
		return id, authError("InvalidSignatureException", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.")
	}
	return id, nil
}

func canonicalURI(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		return "/"
	}
	return p
}

func canonicalQuery(u *url.URL) string {
	q := u.Query()
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(q)) {
		vs := slices.Clone(q[k])
		sort.Strings(vs)
		for _, v := range vs {
			parts = append(parts, awsEscape(k)+"="+awsEscape(v))
		}
	}
	return strings.Join(parts, "&")
}

func awsEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

func canonicalHeaders(r *http.Request, names []string) string {
	var b strings.Builder
	for _, name := range names {
		var values []string
		switch name {
		case "host":
			values = []string{r.Host}
		case "content-length":
			if r.ContentLength >= 0 {
				values = []string{strconv.FormatInt(r.ContentLength, 10)}
			}
		default:
			values = slices.Clone(r.Header.Values(name))
		}
		for i, v := range values {
			values[i] = strings.Join(strings.Fields(v), " ")
		}
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(strings.Join(values, ","))
		b.WriteByte('\n')
	}
	return b.String()
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}
