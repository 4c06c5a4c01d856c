package githubapi

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxJWTLifetime is how far in the future GitHub accepts a JWT's exp.
const maxJWTLifetime = 10 * time.Minute

func jwtError(message string) (int, any) {
	return http.StatusUnauthorized, &apiError{status: http.StatusUnauthorized, message: message,
		docURL: "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app"}
}

// authenticateApp checks the JWT of a request authenticating as the app: an
// RS256 JWT as a Bearer token, signed by the app's key, iss the app id, iat
// not in the future, exp in the future but at most ten minutes ahead. It
// returns a zero status if the JWT is valid.
func (s *Server) authenticateApp(r *http.Request) (int, any) {
	const undecodable = "A JSON web token could not be decoded"
	if s.app == nil {
		return jwtError(undecodable)
	}
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return jwtError(undecodable)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return jwtError(undecodable)
	}
	headerJSON, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	claimsJSON, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return jwtError(undecodable)
	}
	var header struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
	}
	if err := json.Unmarshal(headerJSON, &header); err != nil || header.Alg != "RS256" || (header.Typ != "" && header.Typ != "JWT") {
		return jwtError(undecodable)
	}
	dec := json.NewDecoder(bytes.NewReader(claimsJSON))
	dec.UseNumber()
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil {
		return jwtError(undecodable)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(s.app.PublicKey, crypto.SHA256, digest[:], sig); err != nil {
		return jwtError(undecodable)
	}

	now := s.now()
	iat, ok := intClaim(claims["iat"])
	if !ok || time.Unix(iat, 0).After(now) {
		return jwtError("'Issued at' claim ('iat') must be an Integer representing a time in the past")
	}
	exp, ok := intClaim(claims["exp"])
	if !ok || !time.Unix(exp, 0).After(now) {
		return jwtError("'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires")
	}
	if time.Unix(exp, 0).After(now.Add(maxJWTLifetime)) {
		return jwtError("'Expiration time' claim ('exp') is too far in the future")
	}
	var iss string
	switch v := claims["iss"].(type) {
	case json.Number:
		iss = v.String()
	case string:
		iss = v
	}
	if iss != strconv.FormatInt(s.app.ID, 10) {
		return jwtError("Integration not found")
	}
	return 0, nil
}

func intClaim(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := strconv.ParseInt(n.String(), 10, 64)
	return i, err == nil
}

// POST /app/installations/{id}/access_tokens
func (s *Server) createInstallationToken(c *ctx) (int, any) {
	if c.param("id") != strconv.FormatInt(s.app.InstallationID, 10) {
		return notFound()
	}
	// Scoping a token to repositories or permissions is accepted and
	// ignored: tokens can do everything the emulator serves.
	if _, st, o := validate(c.body); st != 0 {
		return st, o
	}
	tok := randomToken("ghs_", 36)
	exp := s.now().Add(s.app.TokenTTL).Truncate(time.Second)
	s.installToks[tok] = exp
	s.minted++
	return http.StatusCreated, map[string]any{
		"token":                tok,
		"expires_at":           exp.UTC().Format(time.RFC3339),
		"permissions":          map[string]string{"contents": "write", "pull_requests": "write", "issues": "write", "metadata": "read"},
		"repository_selection": "all",
	}
}
