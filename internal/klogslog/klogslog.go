// Package klogslog routes klog (client-go's logger) through log/slog.
//
// klog is process-wide: client-go's goroutines (watches, leader election,
// retries) keep logging after the command that started them returned, so the
// logger klog holds is set once and forwards to whatever handler Route stored
// last. Swapping klog's logger per command would race with those goroutines.
package klogslog

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"

	"k8s.io/klog/v2"
)

var (
	once    sync.Once
	current atomic.Pointer[slog.Handler]
)

// New returns a logger writing to w at level (debug, info, warn, error)
// in format (text: key=value, json: an object a line), and routes klog
// through it: client-go's lines get the same level and format.
func New(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("invalid --log-level %q: use debug, info, warn or error", level)
	}
	ho := &slog.HandlerOptions{Level: l}
	var log *slog.Logger
	switch format {
	case "text":
		log = slog.New(slog.NewTextHandler(w, ho))
	case "json":
		log = slog.New(slog.NewJSONHandler(w, ho))
	default:
		return nil, fmt.Errorf("invalid --log-format %q: use text or json", format)
	}
	Route(log.Handler())
	return log, nil
}

// Route sends client-go's log lines through h, at h's level.
func Route(h slog.Handler) {
	current.Store(&h)
	once.Do(func() { klog.SetSlogLogger(slog.New(Forwarder{})) })
}

// Forwarder forwards each record to the handler Route stored last,
// applying the attributes and groups it was derived with. Before any
// Route it discards everything.
type Forwarder struct {
	derive []func(slog.Handler) slog.Handler
}

func (f Forwarder) current() slog.Handler {
	p := current.Load()
	if p == nil {
		return discardHandler{}
	}
	h := *p
	for _, d := range f.derive {
		h = d(h)
	}
	return h
}

// Enabled reports whether the current handler handles level l.
func (f Forwarder) Enabled(ctx context.Context, l slog.Level) bool {
	return f.current().Enabled(ctx, l)
}

// Handle passes r to the current handler.
func (f Forwarder) Handle(ctx context.Context, r slog.Record) error {
	return f.current().Handle(ctx, r)
}

// WithAttrs returns a Forwarder that adds attrs to the current handler.
func (f Forwarder) WithAttrs(attrs []slog.Attr) slog.Handler {
	return f.with(func(h slog.Handler) slog.Handler { return h.WithAttrs(attrs) })
}

// WithGroup returns a Forwarder that opens group name on the current handler.
func (f Forwarder) WithGroup(name string) slog.Handler {
	return f.with(func(h slog.Handler) slog.Handler { return h.WithGroup(name) })
}

func (f Forwarder) with(d func(slog.Handler) slog.Handler) Forwarder {
	derive := make([]func(slog.Handler) slog.Handler, len(f.derive), len(f.derive)+1)
	copy(derive, f.derive)
	return Forwarder{derive: append(derive, d)}
}

type discardHandler struct{}

func (discardHandler) Enabled(context.Context, slog.Level) bool  { return false }
func (discardHandler) Handle(context.Context, slog.Record) error { return nil }
func (d discardHandler) WithAttrs([]slog.Attr) slog.Handler      { return d }
func (d discardHandler) WithGroup(string) slog.Handler           { return d }
