package klogslog

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"k8s.io/klog/v2"

	"github.com/ferrygitops/ferry/internal/testenv"
)

// TestRouteFollowsTheLastHandler: klog's lines go to the handler stored
// last, at its level, with the attributes and groups klog derived.
func TestRouteFollowsTheLastHandler(t *testing.T) {
	var first, second testenv.SyncBuffer
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
	var a, b testenv.SyncBuffer
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

// New builds the logger of --log-level and --log-format: the level filters,
// the format shapes the line, and a wrong value of either is refused with
// the values allowed.
func TestNew(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, "info", "json")
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("hidden")
	log.Info("shown", "k", "v")
	if out := buf.String(); strings.Contains(out, "hidden") || !strings.Contains(out, `"msg":"shown","k":"v"`) {
		t.Errorf("json logger at info wrote %q", out)
	}
	buf.Reset()
	if log, err = New(&buf, "debug", "text"); err != nil {
		t.Fatal(err)
	}
	log.Debug("shown", "k", "v")
	if out := buf.String(); !strings.Contains(out, "level=DEBUG msg=shown k=v") {
		t.Errorf("text logger at debug wrote %q", out)
	}
	if _, err := New(&buf, "loud", "text"); err == nil || !strings.Contains(err.Error(), "debug, info, warn or error") {
		t.Errorf("bad level: %v", err)
	}
	if _, err := New(&buf, "info", "xml"); err == nil || !strings.Contains(err.Error(), "text or json") {
		t.Errorf("bad format: %v", err)
	}
}
