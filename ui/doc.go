// Package ui is Ferry's web UI: server-rendered HTML pages (html/template,
// assets embedded with embed.FS, a few lines of JavaScript and no
// JavaScript toolchain) and the JSON API they use, served by `ferry run`
// (and by `ferry ui` for one person with a kubeconfig).
//
// # Pages
//
//	GET  /ui/                    the apps: sync result, health, revision (linked to the forge commit),
//	                             pinned, drift, last sync; filters (?q=, ?result=, ?pinned=1)
//	GET  /ui/apps/{app}          one app: objects grouped by kind with their health, sync history,
//	                             events; ?diff=1 adds the live-versus-git diff per object (Refresh)
//	GET  /ui/images              every image policy: chosen tag, digest, push time, where it is used,
//	                             open pull requests, held and declined versions, last scan; and the
//	                             pipeline: which version of each image each app gets
//	GET  /ui/login               sign in with a Kubernetes bearer token
//	POST /ui/apps/{app}/sync     Sync; /rollback (revision=…) Roll back and pin; /release Release the pin
//	POST /ui/scan                Scan now
//
// # API
//
// The same data and actions as JSON, for the pages' live updates and for
// scripts, with the same bearer token (Authorization: Bearer …):
//
//	GET  /api/v1/whoami                 {"user": "...", "groups": [...]}
//	GET  /api/v1/apps                   [server.AppStatus]
//	GET  /api/v1/apps/{app}             deploy.AppStatus (history, pin, objects with health)
//	GET  /api/v1/apps/{app}/diff        deploy.DiffResult (Secret values masked as `ferry diff` masks them)
//	POST /api/v1/apps/{app}/sync        deploy.Record
//	POST /api/v1/apps/{app}/rollback    {"revision": "abc123"} (empty: the previous good one) → deploy.Record
//	POST /api/v1/apps/{app}/release     {"released": true}
//	GET  /api/v1/images                 {"repos": [server.RepoStatus], "pipeline": [...]}
//	POST /api/v1/scan                   {"started": true}
//	GET  /api/v1/events                 text/event-stream: "apps" and "images" events
//
// Errors are {"error": "..."} with 401 (not signed in), 403 (the cluster's
// RBAC refused: the message names the user, verb, resource and app), 404
// (no such app) or 500.
//
// # Who may do what
//
// The cluster decides. A person signs in with a bearer token (the one
// kubectl uses); Ferry checks it with a TokenReview and authorizes every
// view and action with a SubjectAccessReview on Ferry's own resource
// attributes, in Ferry's namespace (Options.Namespace):
//
//	group ferry.dev, resource apps,          verb list (the app list, live updates), get (an app's page,
//	                                         its diff), sync (Sync), rollback (Rollback), release (Release),
//	                                         name = the app for all but list
//	group ferry.dev, resource imagepolicies, verb list (the images page), scan (Scan now)
//
// so ordinary Roles and RoleBindings say who may sync or roll back which
// app (install/rbac/ui-roles.yaml has a viewer, an operator and an admin).
// Ferry's own service account needs to create TokenReviews and
// SubjectAccessReviews (ClusterRole system:auth-delegator).
//
// The token is kept in memory only, in a server-side session named by a
// random id in a cookie (HttpOnly, SameSite=Strict, Secure over TLS), for
// Options.SessionTTL at most, and re-reviewed every few minutes; it is
// never logged. Every POST of a page carries the session's CSRF token.
// Every action is recorded in the event log with who did it. Anonymous
// read-only access (list and get, no action) exists only when
// Options.AnonymousRead is set. Options.Local (`ferry ui`) trusts the
// person at the keyboard: requests without a token act with the
// kubeconfig's own credentials, which the cluster authorizes; a request
// with a token is still reviewed and authorized as above.
//
// # Live updates
//
// The pages subscribe to /api/v1/events (server-sent events). The server
// polls its Backend's snapshot every Options.Poll and, when the apps or
// the images changed, renders the changed part once and writes the same
// bytes to every subscriber: the CPU a change costs does not grow with the
// number of viewers beyond writing those bytes.
package ui
