package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
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

// started is a long-running command (ferry ui, ferry run) started by
// start: its stderr lines, and stop, which interrupts it (Ctrl-C) and
// returns its exit code.
type started struct {
	lines chan string
	stop  func() int
}

// start starts the CLI with args, in-process or as the built binary
// (FERRY_TEST_BINARY), and passes on its stderr line by line.
func start(t *testing.T, args ...string) *started {
	t.Helper()
	pr, pw := io.Pipe()
	s := &started{lines: make(chan string, 1000)}
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			select { // never block the command's stderr
			case s.lines <- sc.Text():
			default:
			}
		}
	}()
	if testBinary != "" {
		cmd := exec.Command(testBinary, args...)
		cmd.Stdout, cmd.Stderr = io.Discard, pw
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		s.stop = func() int {
			_ = cmd.Process.Signal(os.Interrupt)
			err := cmd.Wait()
			pw.Close()
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return ee.ExitCode()
			}
			return 0
		}
	} else {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan int, 1)
		go func() { done <- Main(ctx, args, io.Discard, pw); pw.Close() }()
		s.stop = func() int { cancel(); return <-done }
	}
	var once sync.Once
	code := 0
	stop := s.stop
	s.stop = func() int { once.Do(func() { code = stop() }); return code }
	t.Cleanup(func() { s.stop() })
	return s
}

// await returns the first stderr line holding want, failing the test if
// the command ends or a minute passes first.
func (s *started) await(t *testing.T, want string) string {
	t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				t.Fatalf("the command ended before saying %q", want)
			}
			if strings.Contains(l, want) {
				return l
			}
			t.Log(l)
		case <-timeout:
			t.Fatalf("the command did not say %q in a minute", want)
		}
	}
}
