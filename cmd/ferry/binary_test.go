package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"testing"
)

// testBinary, from FERRY_TEST_BINARY, is a built ferry binary: when set,
// run executes it instead of calling Main in-process, so this package's
// tests check the binary a user runs (make test-binary).
var testBinary = os.Getenv("FERRY_TEST_BINARY")

// runBinary runs testBinary with args in the test's environment and
// returns its exit code and outputs.
func runBinary(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(testBinary, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String(), errb.String()
	case err != nil:
		t.Fatalf("running %s: %v", testBinary, err)
	}
	return 0, out.String(), errb.String()
}
