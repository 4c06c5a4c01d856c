// Package service is `ferry run`: the long-running mode that bumps every
// configured manifest repository on a schedule and on webhooks, keeps the
// apps of those repositories in sync, and serves health, metrics, webhooks
// and a status page (package server) — optionally only while it holds a
// Kubernetes Lease, so that several replicas can stand by.
//
// A Config is the run config file (kind: RunConfig, LoadConfig reads it);
// New builds a Service from it and Run runs it until its context ends.
package service
