package klogslog

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"k8s.io/klog/v2"
)

// lockedBuffer is a bytes.Buffer safe for the handlers' concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRouteFollowsTheLastHandler: klog's lines go to the handler stored
// last, at its level, with the attributes and groups klog derived.
func TestRouteFollowsTheLastHandler(t *testing.T) {
	var first, second lockedBuffer
	Route(slog.NewJSONHandler(&first, &slog.HandlerOptions{Level: slog.LevelInfo}))
	klog.InfoS("to the first", "k", "v")
	klog.Flush()
	Route(slog.NewJSONHandler(&second, &slog.HandlerOptions{Level: slog.LevelWarn}))
	klog.InfoS("below the second's level")
	klog.ErrorS(nil, "to the second", "n", 1)
	klog.Flush()

	if !strings.Contains(first.String(), `"msg":"to the first"`) || !strings.Contains(first.String(), `"k":"v"`) {
		t.Errorf("first handler got %q", first.String())
	}
	if strings.Contains(first.String(), "second") {
		t.Errorf("first handler got lines after the switch: %q", first.String())
	}
	out := second.String()
	if strings.Contains(out, "below the second's level") {
		t.Errorf("second handler got an info line at warn level: %q", out)
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &rec); err != nil {
		t.Fatalf("second handler: %q: %v", out, err)
	}
	if rec["msg"] != "to the second" || rec["n"] != float64(1) {
		t.Errorf("second handler got %v", rec)
	}
}

// TestForwarderDerives: WithAttrs and WithGroup apply to the handler
// current at the time of each record, not the one at derivation.
func TestForwarderDerives(t *testing.T) {
	var a, b lockedBuffer
	Route(slog.NewJSONHandler(&a, nil))
	l := slog.New(Forwarder{}).With("app", "web").WithGroup("g")
	Route(slog.NewJSONHandler(&b, nil))
	l.Info("hello", "x", 2)
	if a.String() != "" {
		t.Errorf("old handler got %q", a.String())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(b.String()), &rec); err != nil {
		t.Fatalf("%q: %v", b.String(), err)
	}
	g, _ := rec["g"].(map[string]any)
	if rec["app"] != "web" || g["x"] != float64(2) {
		t.Errorf("record %v: want app=web and g.x=2", rec)
	}
}

func TestDiscardBeforeRoute(t *testing.T) {
	h := discardHandler{}
	if h.Enabled(t.Context(), slog.LevelError) {
		t.Error("discard handler enabled")
	}
	if h.WithAttrs(nil) != h || h.WithGroup("g") != h {
		t.Error("discard handler derived a different handler")
	}
}
