package gitrepo_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ferrygitops/ferry/gitrepo"
)

func TestCredentialsFor(t *testing.T) {
	one := gitrepo.Auth{Token: "token-one"}
	two := gitrepo.Auth{Token: "token-two"}
	ssh := gitrepo.Auth{SSHKeyFile: "/keys/id"}
	var c gitrepo.Credentials
	for u, a := range map[string]gitrepo.Auth{
		"https://github.com/acme/one.git":          one,
		"https://x:secret@github.com/other/two":    two,
		"git@git.example.com:acme/three.git":       ssh,
		"http://127.0.0.1:8080/acme/four.git":      one,
		"https://ghe.example.com:8443/acme/five":   two,
		"https://github.com/acme/one-more-in-acme": one,
	} {
		if err := c.Add(u, a); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		url       string
		want      gitrepo.Auth
		withheld  bool
		whyHasURL string
	}{
		{url: "https://github.com/acme/one.git", want: one},
		{url: "https://github.com/other/two", want: two},                // same URL without the userinfo
		{url: "https://GitHub.com/acme/another", want: one},             // same host, longest common path
		{url: "https://github.com/other/three", want: two},              // same host, same owner
		{url: "ssh://git@git.example.com:22/acme/three.git", want: ssh}, // the default SSH port
		{url: "http://127.0.0.1:8080/acme/elsewhere.git", want: one},    // same host and port
		{url: "http://127.0.0.1:9090/acme/four.git", withheld: true},    // another port
		{url: "https://ghe.example.com/acme/five", withheld: true},      // 443 is not 8443
		{url: "https://attacker.example/acme/one.git", withheld: true},  // another host
		{url: "https://github.com.attacker.example/acme/one", withheld: true},
		{url: "file:///srv/git/acme/one.git"}, // nothing to send
	} {
		got, why := c.For(tc.url)
		if got != tc.want {
			t.Errorf("For(%s) = %v, want %v", tc.url, got, tc.want)
		}
		if (why != "") != tc.withheld {
			t.Errorf("For(%s): why = %q, withheld %v", tc.url, why, tc.withheld)
		}
		if strings.Contains(why, "secret") {
			t.Errorf("For(%s): why reveals a secret: %q", tc.url, why)
		}
	}
	var none *gitrepo.Credentials
	if a, why := none.For("https://github.com/acme/one"); a != (gitrepo.Auth{}) || why != "" {
		t.Errorf("nil Credentials: %v %q", a, why)
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1": true, "127.3.2.1": true, "::1": true, "[::1]": true, "localhost": true, "LocalHost": true,
		"::ffff:127.0.0.1": true,
		"127.evil.example": false, "localhost.evil.example": false, "10.0.0.1": false, "192.0.2.2": false,
		"[::2]": false, "": false, "0.0.0.0": false,
	} {
		if got := gitrepo.IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

// nonLoopbackIP is an address of this machine other than loopback.
func nonLoopbackIP(t *testing.T) string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Skip(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	t.Skip("no network interface other than loopback")
	return ""
}

// Over plain http:// credentials go to a loopback address only: a git
// server reached at this machine's network address gets none, and the
// error says why.
func TestNoCredentialsOverPlainHTTP(t *testing.T) {
	srv := setup(t)
	ip := nonLoopbackIP(t)
	var withAuth atomic.Int32
	target, _ := url.Parse(srv.URL())
	proxy := httputil.NewSingleHostReverseProxy(target)
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Skip(err)
	}
	front := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			withAuth.Add(1)
		}
		proxy.ServeHTTP(w, r)
	})}}
	front.Start()
	t.Cleanup(front.Close)
	remote := strings.Replace(srv.RepoURL(repo), srv.URL(), front.URL, 1)

	for name, tc := range map[string]struct {
		url  string
		auth gitrepo.Auth
	}{
		"auth":            {remote, auth()},
		"url credentials": {userURL(t, remote, user, token), gitrepo.Auth{}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := gitrepo.Clone(ctx, tc.url, "main", filepath.Join(t.TempDir(), "c"), tc.auth, 1)
			if err == nil {
				t.Fatal("the clone succeeded without credentials?")
			}
			if !strings.Contains(err.Error(), "no credentials were sent to "+ip+" over plain http://") {
				t.Errorf("the error does not say why: %v", err)
			}
			if strings.Contains(err.Error(), token) {
				t.Errorf("the error reveals the token: %v", err)
			}
		})
	}
	if n := withAuth.Load(); n != 0 {
		t.Errorf("%d requests over plain http:// to %s carried credentials", n, ip)
	}
	// The same server on the loopback address gets them.
	clone(t, srv.RepoURL(repo), auth(), 1)
}
