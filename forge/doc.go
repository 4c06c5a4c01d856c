// Package forge is Ferry's GitHub layer: the lifecycle of the one pull
// request Ferry keeps per group of image updates.
//
// For each group Ferry pushes a branch ferry/<group>; Client.Ensure then
// makes sure exactly one open pull request from that branch exists with the
// wanted title, body and labels — creating it (with labels, reviewers and
// assignees: at most four writes), updating only what differs (nothing at
// all when nothing does), and never opening a duplicate, even when several
// Ferry runs race. Client.Close comments on it, closes it and deletes the
// branch when the updates are no longer needed; Client.Find looks it up.
//
// A Client talks to github.com or a GitHub Enterprise Server (Options.BaseURL)
// through go-github, authenticated by a token or as a GitHub App
// installation (Options.App: a hand-signed RS256 JWT is exchanged for
// installation tokens, which are replaced before they expire). Its transport
// honours GitHub's rate limits — it waits out a secondary limit's
// Retry-After and the primary limit's reset when that is within
// Options.MaxWait — retries 5xx answers with capped exponential backoff and
// jitter, replays request bodies, and counts what it sends (Client.Stats).
// Errors name the operation first and wrap the cause; credentials never
// appear in them.
package forge
