package gitrepo

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
)

// DefaultUsername is the HTTP basic-auth username used with a Token when
// Username is empty; GitHub accepts it for installation and personal access
// tokens.
const DefaultUsername = "x-access-token"

// Auth holds the credentials of a remote. The URL's scheme decides which
// fields are used: http(s) URLs use basic authentication with Username and
// Token (the token is the password), never over plain http:// except to a
// loopback address (see IsLoopback); ssh URLs (ssh://... or user@host:path)
// use the private key in SSHKeyFile, checking the server's host key against
// SSHKnownHostsFile (default: go-git's, i.e. $SSH_KNOWN_HOSTS or
// ~/.ssh/known_hosts) unless InsecureIgnoreHostKey; file URLs use nothing.
//
// An Auth is sent per operation and never written to disk. Its String,
// GoString and LogValue methods redact the token and the passphrase, so
// printing or logging one is safe.
type Auth struct {
	// Username for HTTP basic authentication (default DefaultUsername when
	// Token is set), or the SSH user (default: the URL's, else "git").
	Username string
	// Token is the HTTP basic-auth password: a GitHub installation or
	// personal access token, for instance.
	Token string

	// SSHKeyFile is a PEM or OpenSSH private key file.
	SSHKeyFile string
	// SSHKeyPassphrase decrypts SSHKeyFile, if it is encrypted.
	SSHKeyPassphrase string
	// SSHKnownHostsFile is the known_hosts file the server's host key must
	// be listed in.
	SSHKnownHostsFile string
	// InsecureIgnoreHostKey accepts any SSH host key. For tests only.
	InsecureIgnoreHostKey bool
}

const redacted = "<redacted>"

func redact(secret string) string {
	if secret == "" {
		return `""`
	}
	return redacted
}

// String describes a without revealing its secrets.
func (a Auth) String() string {
	return fmt.Sprintf("{Username:%q Token:%s SSHKeyFile:%q SSHKeyPassphrase:%s SSHKnownHostsFile:%q InsecureIgnoreHostKey:%t}",
		a.Username, redact(a.Token), a.SSHKeyFile, redact(a.SSHKeyPassphrase), a.SSHKnownHostsFile, a.InsecureIgnoreHostKey)
}

// GoString is String for %#v.
func (a Auth) GoString() string { return "gitrepo.Auth" + a.String() }

// Format makes every fmt verb (%v, %+v, %s, %q, %#v, ...) print the redacted
// form.
func (a Auth) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, a.GoString())
		return
	}
	fmt.Fprint(f, a.String())
}

// LogValue makes log/slog print the redacted form.
func (a Auth) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("username", a.Username),
		slog.String("token", strings.Trim(redact(a.Token), `"`)),
		slog.String("ssh_key_file", a.SSHKeyFile),
		slog.String("ssh_key_passphrase", strings.Trim(redact(a.SSHKeyPassphrase), `"`)),
		slog.String("ssh_known_hosts_file", a.SSHKnownHostsFile),
		slog.Bool("insecure_ignore_host_key", a.InsecureIgnoreHostKey),
	)
}

// remote is a parsed remote URL with its credentials split off.
type remote struct {
	url     string // the URL without secrets: stored in .git/config and used in errors
	method  transport.AuthMethod
	secrets secrets
	// withheld says why credentials given for the remote are not sent.
	withheld string
}

// fail returns err of an operation on the remote without secrets and, when
// credentials were withheld, saying so.
func (r *remote) fail(err error) error {
	err = r.secrets.scrub(err)
	if err != nil && r.withheld != "" {
		err = fmt.Errorf("%w (%s)", err, r.withheld)
	}
	return err
}

// newRemote splits the credentials off rawURL and builds the transport
// authentication from auth, falling back to credentials the URL carried.
func newRemote(rawURL string, auth Auth) (*remote, error) {
	r := &remote{secrets: secrets{auth.Token, auth.SSHKeyPassphrase}}
	if auth.Token != "" {
		user := auth.Username
		if user == "" {
			user = DefaultUsername
		}
		r.secrets = append(r.secrets, base64.StdEncoding.EncodeToString([]byte(user+":"+auth.Token)))
	}
	ep, err := transport.NewEndpoint(rawURL)
	if err != nil {
		// The parse error may quote the URL.
		return nil, fmt.Errorf("parsing remote URL %s: invalid URL", RedactURL(rawURL))
	}
	urlUser, urlPass := ep.User, ep.Password
	if urlPass != "" {
		r.secrets = append(r.secrets, urlPass, url.QueryEscape(urlPass), url.PathEscape(urlPass),
			base64.StdEncoding.EncodeToString([]byte(urlUser+":"+urlPass)))
	}
	r.url = RedactURL(rawURL)

	switch ep.Protocol {
	case "http", "https":
		r.url = StripUserinfo(rawURL)
		if ep.Protocol == "http" && !IsLoopback(ep.Host) {
			if auth.Token != "" || auth.Username != "" || urlUser != "" || urlPass != "" {
				r.withheld = "no credentials were sent to " + ep.Host + " over plain http://: use https://"
			}
			break
		}
		switch {
		case auth.Token != "" || auth.Username != "":
			user := auth.Username
			if user == "" {
				user = DefaultUsername
			}
			r.method = &githttp.BasicAuth{Username: user, Password: auth.Token}
		case urlUser != "" || urlPass != "":
			r.method = &githttp.BasicAuth{Username: urlUser, Password: urlPass}
		}
	case "ssh":
		user := auth.Username
		if user == "" {
			user = urlUser
		}
		if user == "" {
			user = "git"
		}
		var keys *gitssh.PublicKeys
		if auth.SSHKeyFile != "" {
			keys, err = gitssh.NewPublicKeysFromFile(user, auth.SSHKeyFile, auth.SSHKeyPassphrase)
			if err != nil {
				return nil, fmt.Errorf("loading SSH key %s: %w", auth.SSHKeyFile, r.secrets.scrub(err))
			}
		}
		var callback ssh.HostKeyCallback
		switch {
		case auth.InsecureIgnoreHostKey:
			callback = ssh.InsecureIgnoreHostKey()
		case auth.SSHKnownHostsFile != "":
			callback, err = gitssh.NewKnownHostsCallback(auth.SSHKnownHostsFile)
			if err != nil {
				return nil, fmt.Errorf("loading SSH known hosts %s: %w", auth.SSHKnownHostsFile, err)
			}
		}
		switch {
		case keys != nil:
			if callback != nil {
				keys.HostKeyCallback = callback
			}
			r.method = keys
		case callback != nil:
			// No key: go-git's default, the SSH agent, with our host key check.
			agent, err := gitssh.NewSSHAgentAuth(user)
			if err != nil {
				return nil, fmt.Errorf("connecting to the SSH agent: %w", err)
			}
			agent.HostKeyCallback = callback
			r.method = agent
		}
	}
	return r, nil
}

// RedactURL returns rawURL without the password of its userinfo, and
// without any userinfo at all for http and https URLs, for messages and
// logs. It also handles scp-like SSH addresses (user@host:path) and strings
// that do not parse as URLs.
func RedactURL(rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil && u.Scheme != "" && u.Opaque == "" {
		if u.User == nil {
			return rawURL
		}
		if u.Scheme == "http" || u.Scheme == "https" {
			u.User = nil
		} else if _, ok := u.User.Password(); ok {
			u.User = url.User(u.User.Username())
		}
		return u.String()
	}
	// scp-like or unparsable: find "userinfo@" before the first "/".
	prefix, rest := "", rawURL
	if i := strings.Index(rawURL, "://"); i >= 0 {
		prefix, rest = rawURL[:i+3], rawURL[i+3:]
	}
	authority := rest
	if i := strings.Index(rest, "/"); i >= 0 {
		authority = rest[:i]
	}
	at := strings.LastIndex(authority, "@")
	if at < 0 {
		return rawURL
	}
	user, _, hasPassword := strings.Cut(authority[:at], ":")
	scheme := strings.ToLower(strings.TrimSuffix(prefix, "://"))
	switch {
	case scheme == "http" || scheme == "https":
		return prefix + rest[at+1:]
	case hasPassword:
		return prefix + user + rest[at:]
	}
	return rawURL
}

// StripUserinfo returns rawURL without any userinfo, for messages and
// logs; a string that does not parse as a URL is redacted by RedactURL.
func StripUserinfo(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return RedactURL(rawURL)
	}
	u.User = nil
	return u.String()
}

// secrets are strings no error of this package may contain.
type secrets []string

// scrub returns err, or an error with the same chain whose message has every
// secret replaced (and is tidied), if the message contains one or needs
// tidying.
func (s secrets) scrub(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := tidy(s.replace(msg))
	if clean == msg {
		return err
	}
	return &scrubbedError{msg: clean, err: err}
}

func (s secrets) replace(msg string) string {
	for _, secret := range s {
		if secret != "" {
			msg = strings.ReplaceAll(msg, secret, redacted)
		}
	}
	return msg
}

// tidy puts a message on one line: go-git's messages may quote server
// responses, with their line breaks and trailing separators.
func tidy(msg string) string {
	msg = strings.Join(strings.Fields(msg), " ")
	return strings.TrimRight(msg, " :")
}

// scrubbedError is an error whose message had secrets removed. Unwrap keeps
// errors.Is and errors.As working.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }
