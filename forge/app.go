package forge

import (
	"context"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// AppAuth authenticates as a GitHub App installation.
type AppAuth struct {
	AppID          int64
	InstallationID int64
	// PrivateKeyPEM is the app's private key as GitHub issues it (PKCS#1
	// "RSA PRIVATE KEY"); PKCS#8 "PRIVATE KEY" RSA keys work too.
	PrivateKeyPEM []byte
}

// Installation tokens are replaced this long before they expire, so that a
// token never expires between being chosen and being checked by GitHub.
const tokenRefreshMargin = 5 * time.Minute

// JWTs are dated a minute back against clock drift and live nine minutes:
// GitHub refuses an exp more than ten minutes ahead.
const (
	jwtBackdate = time.Minute
	jwtLifetime = 9 * time.Minute
)

// parsePrivateKey reads an RSA private key from PEM (PKCS#1 or PKCS#8).
// Its errors never contain key material.
func parsePrivateKey(data []byte) (*rsa.PrivateKey, error) {
	if block, _ := pem.Decode(data); block == nil {
		return nil, errors.New("no PEM block found")
	}
	key, err := jwt.ParseRSAPrivateKeyFromPEM(data)
	if err != nil {
		// The parser's message may quote the malformed DER: not repeated.
		return nil, errors.New("not an RSA private key in PKCS#1 or PKCS#8 form: GitHub Apps use RSA keys")
	}
	return key, nil
}

// appJWT signs the JWT that authenticates as the app (RS256), with
// golang-jwt. iss is the app id as a number, as GitHub documents it.
func appJWT(appID int64, key *rsa.PrivateKey, now time.Time) (string, error) {
	tok, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iat": now.Add(-jwtBackdate).Unix(),
		"exp": now.Add(jwtLifetime).Unix(),
		"iss": appID,
	}).SignedString(key)
	if err != nil {
		return "", fmt.Errorf("sign app jwt: %w", err)
	}
	return tok, nil
}

// jwtCredentials authenticate token exchanges: a fresh JWT per request.
type jwtCredentials struct {
	appID int64
	key   *rsa.PrivateKey
	now   func() time.Time
}

func (j *jwtCredentials) header(context.Context) (string, error) {
	tok, err := appJWT(j.appID, j.key, j.now())
	if err != nil {
		return "", err
	}
	return "Bearer " + tok, nil
}

func (*jwtCredentials) invalidate(string) bool { return false }

// installationCredentials hold the current installation token, minting one
// with exchange when there is none or it is about to expire. Concurrent
// requests share one exchange.
type installationCredentials struct {
	now      func() time.Time
	exchange func(ctx context.Context) (token string, expires time.Time, err error)
	secrets  *secretSet
	minted   func()

	mu      sync.Mutex
	token   string
	expires time.Time
}

func (c *installationCredentials) header(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token == "" || !c.now().Add(tokenRefreshMargin).Before(c.expires) {
		tok, exp, err := c.exchange(ctx)
		if err != nil {
			return "", err
		}
		c.secrets.add(tok)
		c.minted()
		c.token, c.expires = tok, exp
	}
	return "Bearer " + c.token, nil
}

func (c *installationCredentials) invalidate(header string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && header == "Bearer "+c.token {
		c.token = ""
	}
	return true
}

// secretSet is the credentials that must never appear in an error.
type secretSet struct {
	mu   sync.Mutex
	list []string
}

// maxSecrets bounds how many installation tokens are remembered.
const maxSecrets = 32

func (s *secretSet) add(secret string) {
	if len(secret) < 4 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list = append(s.list, secret)
	if len(s.list) > maxSecrets {
		s.list = append(s.list[:0:0], s.list[len(s.list)-maxSecrets:]...)
	}
}

func (s *secretSet) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.list...)
}
