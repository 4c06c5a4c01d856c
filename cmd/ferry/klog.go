package main

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"k8s.io/klog/v2"
)

// klog is process-wide: client-go's goroutines (watches, leader election,
// retries) keep logging after the command that started them returned, so the
// logger klog holds is set once and forwards to whatever handler the current
// command configured. Swapping klog's logger per command would race with
// those goroutines.
var (
	klogOnce    sync.Once
	klogCurrent atomic.Pointer[slog.Handler]
)

// routeKlog sends client-go's log lines through h, at h's level.
func routeKlog(h slog.Handler) {
	klogCurrent.Store(&h)
	klogOnce.Do(func() { klog.SetSlogLogger(slog.New(forwardHandler{})) })
}

// forwardHandler forwards each record to the handler routeKlog stored last,
// applying the attributes and groups it was derived with.
type forwardHandler struct {
	derive []func(slog.Handler) slog.Handler
}

func (f forwardHandler) current() slog.Handler {
	p := klogCurrent.Load()
	if p == nil {
		return discardHandler{}
	}
	h := *p
	for _, d := range f.derive {
		h = d(h)
	}
	return h
}

func (f forwardHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return f.current().Enabled(ctx, l)
}

func (f forwardHandler) Handle(ctx context.Context, r slog.Record) error {
	return f.current().Handle(ctx, r)
}

func (f forwardHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return f.with(func(h slog.Handler) slog.Handler { return h.WithAttrs(attrs) })
}

func (f forwardHandler) WithGroup(name string) slog.Handler {
	return f.with(func(h slog.Handler) slog.Handler { return h.WithGroup(name) })
}

func (f forwardHandler) with(d func(slog.Handler) slog.Handler) forwardHandler {
	derive := make([]func(slog.Handler) slog.Handler, len(f.derive), len(f.derive)+1)
	copy(derive, f.derive)
	return forwardHandler{derive: append(derive, d)}
}

type discardHandler struct{}

func (discardHandler) Enabled(context.Context, slog.Level) bool  { return false }
func (discardHandler) Handle(context.Context, slog.Record) error { return nil }
func (d discardHandler) WithAttrs([]slog.Attr) slog.Handler      { return d }
func (d discardHandler) WithGroup(string) slog.Handler           { return d }
