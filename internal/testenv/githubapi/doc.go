// Package githubapi is a test emulator of the part of the GitHub REST API
// that Ferry uses to manage pull requests, for tests, end-to-end runs and
// demos only. It is not meant for production.
//
// A Server is an httptest server on 127.0.0.1 serving the API under /api/v3/,
// the way GitHub Enterprise Server does, so go-github talks to it with
//
//	github.NewClient(httpClient).WithEnterpriseURLs(srv.BaseURL(), srv.UploadURL())
//
// Routes (see the Route constants): list, create, get, update and merge pull
// requests; request reviewers; add and list labels, create and list comments
// and add assignees on a pull request's issue; delete a branch ref; mint a
// GitHub App installation token; GET /rate_limit; create and list commit
// statuses (POST statuses/{sha}, GET commits/{ref}/statuses, newest first);
// create and list deployments (filters sha, ref, task, environment; newest
// first) and their statuses (deployments.go). Anything else is 404.
//
// Repositories exist once added with Server.AddRepo; branches are not stored
// by the emulator but asked of a Git (Head, Merge, DeleteBranch), so the
// emulator can sit in front of a real git server or a map in a test.
//
// It is strict the way GitHub is:
//
//   - Authentication: every request needs "Authorization: Bearer TOKEN" or
//     "token TOKEN" with a configured personal access token (WithToken;
//     DefaultToken otherwise) or an unexpired installation token; else 401
//     {"message":"Bad credentials"}. POST /app/installations/{id}/access_tokens
//     instead needs an RS256 JWT Bearer signed with the App's key (WithApp),
//     iss the app id, iat not in the future, exp in the future and at most ten
//     minutes ahead; installation tokens expire after App.TokenTTL.
//   - An X-GitHub-Api-Version other than 2022-11-28 is 400.
//   - Bodies: malformed JSON is 400 "Problems parsing JSON"; a body that is
//     not an object, a property of the wrong type or outside its enum, or a
//     missing required property is 422 "Invalid request." with GitHub's
//     wording. Unknown properties are ignored, as on GitHub.
//   - Pull requests: creating one needs a non-blank title (at most 256
//     characters; bodies at most 65536), an existing base and head branch
//     ("branch" or "owner:branch" of the same repository: forks are not
//     modelled), commits between them (different tips), and no open pull
//     request from the same head into the same base; failures are 422
//     "Validation Failed" with GitHub's errors, e.g. {"resource":
//     "PullRequest","code":"custom","message":"A pull request already exists
//     for owner:branch."}. Several open pull requests from one head into
//     different bases are allowed, as on GitHub. Updates check the same
//     rules when reopening or retargeting; merged pull requests cannot be
//     reopened. Merging needs an open, non-draft pull request (else 405) and
//     a matching sha if one is given (else 409). Requesting a review from the
//     author is 422. Deleting a branch closes the open pull requests from it.
//   - Statuses: state in error, failure, pending, success (422 otherwise);
//     the sha must be a full commit SHA ("No commit found for SHA"); context
//     defaults to "default"; descriptions longer than 140 characters are 422.
//   - Deployments: ref is a full SHA or an existing branch (else 422 "No ref
//     found for"); task defaults to deploy, environment to production
//     (production_environment then defaults to true); without
//     required_contexts, any commit status of the SHA not success is 409
//     "Conflict: Commit status checks failed" (auto_merge is accepted but
//     no merge is modelled). Deployment statuses: state in error, failure,
//     inactive, in_progress, queued, pending, success; a success with
//     auto_inactive (default true) adds an inactive status to the earlier
//     successful, non-production, non-transient deployments of the
//     environment.
//   - Lists: state=open|closed|all (default open), head=owner:branch (a head
//     without the owner is silently ignored, as on GitHub), base, sort
//     (created by default) and direction (desc for created, else asc);
//     per_page (default 30, at most 100) and page, with a Link header of
//     rel="prev", "next", "last" and "first" like GitHub's.
//   - Rate limits: every response carries X-RateLimit-Limit, -Remaining,
//     -Reset, -Used and -Resource: core. Authenticated requests but
//     GET /rate_limit and token exchanges use up one shared primary limit
//     (WithRateLimit, default 5000 an hour): once spent, requests are 403
//     "API rate limit exceeded" with X-RateLimit-Remaining: 0 until the window
//     resets.
//
// Faults can be injected (Server.FailNext): the next n requests, optionally
// only writes or only one route, answer a secondary rate limit 403 with
// Retry-After (SecondaryRateLimit), a 5xx (ServerError) or any status.
// Requests are counted per route (Server.Requests), writes to repositories
// (Server.Writes) and in full (Server.Calls); Server.PullRequests returns the
// state for assertions, and Server.OpenPullRequest opens one as a person
// would. The clock is injectable (WithClock) for rate limit windows and
// token expiry.
package githubapi
