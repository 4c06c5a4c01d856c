package forge

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"sync"
	"testing"
	"time"

	"github.com/ferrygitops/ferry/internal/testclock"
	"github.com/ferrygitops/ferry/internal/testenv/githubapi"
)

const (
	owner = "acme"
	name  = "fleet"
	repo  = owner + "/" + name
)

// env is an emulator on a fake clock with acme/fleet (main, ferry/app).
type env struct {
	srv   *githubapi.Server
	git   *githubapi.MemGit
	clock *testclock.Clock
}

func newEnv(t *testing.T, opts ...githubapi.Option) *env {
	t.Helper()
	e := &env{git: githubapi.NewMemGit(), clock: testclock.New(time.Now().Truncate(time.Second))}
	e.git.Commit(repo, "main")
	e.git.Commit(repo, "ferry/app")
	e.srv = githubapi.NewServer(e.git, append([]githubapi.Option{githubapi.WithClock(e.clock.Now)}, opts...)...)
	t.Cleanup(e.srv.Close)
	e.srv.AddRepo(owner, name)
	return e
}

// sleep records the wait and moves the shared clock instead of sleeping.
func (e *env) sleep(ctx context.Context, d time.Duration) error { return e.clock.Sleep(ctx, d) }

func (e *env) recordedWaits() []time.Duration { return e.clock.Waits() }

// client returns a Client of the emulator with the default token, the fake
// clock and the recording sleep; mod adjusts the options.
func (e *env) client(t *testing.T, mod func(*Options)) *Client {
	t.Helper()
	opts := Options{
		BaseURL: e.srv.BaseURL(),
		Token:   githubapi.DefaultToken,
		Sleep:   e.sleep,
		Now:     e.clock.Now,
	}
	if mod != nil {
		mod(&opts)
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *env) pulls() []githubapi.PR { return e.srv.PullRequests(owner, name) }

var (
	keyOnce sync.Once
	testKey *rsa.PrivateKey
)

// appKey returns an RSA key shared by the tests, and its PKCS#1 PEM.
func appKey(t *testing.T) (*rsa.PrivateKey, []byte) {
	t.Helper()
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		testKey = k
	})
	return testKey, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(testKey)})
}
