// Package distribution starts Debian's docker-registry (the CNCF
// distribution registry, v2.8) on 127.0.0.1 for end-to-end tests.
//
// `make test` installs the package (apt-get install docker-registry). Tests
// call Start, which skips the test when the binary is missing, unless the
// environment says the suite must be complete (CI=true or
// FERRY_REQUIRE_SERVERS=1), where a missing binary fails the test instead.
package distribution

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferrygitops/ferry/internal/testenv"
)

// Binary is the registry executable looked up on PATH.
const Binary = "docker-registry"

// Registry is a running docker-registry.
type Registry struct {
	Host string // 127.0.0.1:port
	URL  string // http://127.0.0.1:port
	cmd  *exec.Cmd
}

// Required reports whether a missing server must fail the test.
func Required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("FERRY_REQUIRE_SERVERS") == "1"
}

// Start runs a registry with storage in a temporary directory and stops it
// when the test ends.
func Start(t testing.TB) *Registry {
	t.Helper()
	return StartAt(t, "")
}

// StartAt runs a registry whose storage is the directory root (kept after
// the test, so a benchmark can seed it once), or a temporary one if root is
// empty, and stops it when the test ends.
func StartAt(t testing.TB, root string) *Registry {
	t.Helper()
	bin, err := exec.LookPath(Binary)
	if err != nil {
		if Required() {
			t.Fatalf("%s not found on PATH: run `make test-deps` (apt-get install docker-registry)", Binary)
		}
		t.Skipf("%s not installed (apt-get install docker-registry); skipping", Binary)
	}
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if root == "" {
		root = filepath.Join(dir, "data")
	}
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: 127.0.0.1:%d
`, root, port)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &Registry{Host: fmt.Sprintf("127.0.0.1:%d", port)}
	r.URL = "http://" + r.Host
	log, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	r.cmd = exec.Command(bin, "serve", cfgPath)
	r.cmd.Stdout, r.cmd.Stderr = log, log
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	t.Cleanup(func() {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
		log.Close()
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(r.URL + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return r
			}
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
			t.Fatalf("docker-registry did not become ready: %v\n%s", err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
