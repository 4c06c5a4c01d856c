package registry

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"
	"github.com/docker/cli/cli/config/credentials"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// registryError is a registry failure in Ferry's words; the original error
// stays in the chain for errors.As.
type registryError struct {
	msg string
	err error
}

func (e *registryError) Error() string { return e.msg }
func (e *registryError) Unwrap() error { return e.err }

// explainOCI rewords go-containerregistry's HTTP errors: its message prints
// a diagnostic's detail with %v (a Go map, from distribution registries);
// this keeps the request, the status and each code and message. A 401 or
// 403 also says which credentials were tried for host. Other errors are
// returned as they are.
func (c *Client) explainOCI(err error, host string) error {
	var te *transport.Error
	if err == nil || !errors.As(err, &te) {
		return err
	}
	var b strings.Builder
	if te.Request != nil {
		u := *te.Request.URL
		u.User = nil
		fmt.Fprintf(&b, "%s %s: ", te.Request.Method, u.String())
	}
	fmt.Fprintf(&b, "%d %s", te.StatusCode, http.StatusText(te.StatusCode))
	for i, d := range te.Errors {
		sep := "; "
		if i == 0 {
			sep = ": "
		}
		msg := strings.TrimSuffix(d.Message, ".")
		if msg == "" {
			msg = strings.ToLower(strings.ReplaceAll(string(d.Code), "_", " "))
		}
		fmt.Fprintf(&b, "%s%s (%s)", sep, msg, d.Code)
	}
	if te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden {
		fmt.Fprintf(&b, "; credentials tried: %s", c.credentialSource(host))
	}
	return &registryError{msg: b.String(), err: err}
}

// credentialSource says where the credentials for a registry host came
// from, as go-containerregistry's default keychain finds them (a docker
// config file, a credential helper or store named in it, or none:
// anonymous). It never reads a secret: credential helpers are named, not
// run.
func (c *Client) credentialSource(host string) string {
	if c.opts.Keychain != authn.DefaultKeychain {
		return "the keychain Ferry was given"
	}
	path := dockerConfigPath()
	if path == "" {
		return "anonymous (no docker config: looked for $DOCKER_CONFIG/config.json, ~/.docker/config.json, " +
			"$REGISTRY_AUTH_FILE and containers/auth.json)"
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("anonymous (%s unreadable)", path)
	}
	defer f.Close()
	cf, err := config.LoadFromReader(f)
	if err != nil {
		return fmt.Sprintf("anonymous (%s is not a valid docker config)", path)
	}
	key := host
	if reg, err := name.NewRegistry(host); err == nil && reg.RegistryStr() == name.DefaultRegistry {
		key = authn.DefaultAuthKey
	}
	return describeConfig(cf, path, key)
}

func describeConfig(cf *configfile.ConfigFile, path, key string) string {
	hostname := credentials.ConvertToHostname(key)
	if h := cf.CredentialHelpers[hostname]; h != "" {
		return fmt.Sprintf("credential helper docker-credential-%s (credHelpers in %s)", h, path)
	}
	if cf.CredentialsStore != "" {
		return fmt.Sprintf("credential store docker-credential-%s (credsStore in %s)", cf.CredentialsStore, path)
	}
	for k, a := range cf.AuthConfigs {
		if credentials.ConvertToHostname(k) != hostname {
			continue
		}
		switch {
		case a.IdentityToken != "":
			return fmt.Sprintf("the identity token of %q in %s", k, path)
		case a.Username != "":
			return fmt.Sprintf("user %q from %q in %s", a.Username, k, path)
		case a.Auth != "":
			return fmt.Sprintf("the auth of %q in %s", k, path)
		}
	}
	return fmt.Sprintf("anonymous (no credentials for %s in %s)", hostname, path)
}

// dockerConfigPath is the file go-containerregistry's default keychain
// reads (authn.DefaultKeychain): the docker config if one exists
// (~/.docker/config.json, or $DOCKER_CONFIG's), else Podman's auth file
// ($REGISTRY_AUTH_FILE, then containers/auth.json under $XDG_RUNTIME_DIR or
// the config directory); "" when there is none.
func dockerConfigPath() string {
	exists := func(p string) bool {
		fi, err := os.Stat(p)
		return err == nil && !fi.IsDir()
	}
	home, _ := os.UserHomeDir()
	found := home != "" && exists(filepath.Join(home, ".docker", "config.json"))
	if !found && os.Getenv("DOCKER_CONFIG") != "" {
		found = exists(filepath.Join(os.Getenv("DOCKER_CONFIG"), "config.json"))
	}
	if found {
		// The keychain loads $DOCKER_CONFIG's file if set, else ~/.docker's.
		dir := os.Getenv("DOCKER_CONFIG")
		if dir == "" {
			dir = filepath.Join(home, ".docker")
		}
		return filepath.Join(dir, config.ConfigFileName)
	}
	if p := os.Getenv("REGISTRY_AUTH_FILE"); p != "" && exists(filepath.Clean(p)) {
		return filepath.Clean(p)
	}
	configDir := os.Getenv("XDG_CONFIG_HOME")
	if configDir == "" && home != "" {
		configDir = filepath.Join(home, ".config")
	}
	podman := filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), "containers", "auth.json")
	if (os.Getenv("XDG_RUNTIME_DIR") == "" || !exists(podman)) && configDir != "" {
		podman = filepath.Join(configDir, "containers", "auth.json")
	}
	if exists(podman) {
		return podman
	}
	return ""
}
