package main

import (
	"os"
	"testing"

	"github.com/ferrygitops/ferry/internal/testenv/kube"
)

// The cluster tests share one API server (kube.Shared); TestWholeLoop
// starts its own, which it restarts.
func TestMain(m *testing.M) { os.Exit(kube.Main(m)) }
