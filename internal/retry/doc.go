// Package retry is Ferry's one retry loop: capped exponential backoff with
// jitter, a server's Retry-After honoured, a bound on retries and on the
// time spent, and a context that ends the waiting.
//
// The wait schedule is k8s.io/apimachinery's wait.Backoff, already a
// dependency through client-go, so the Kubernetes calls and the registry and
// GitHub calls back off alike. Neither it nor cenkalti/backoff fits the loop
// itself: both sleep on their own timers, while Ferry's tests replace the
// sleep to record waits (a rate limit reset of ten minutes cannot be slept
// in a test), and neither knows a wait asked for by the server. So the loop
// is here, small, and the callers keep what is theirs: which outcomes are
// worth retrying (HTTP statuses for registries and GitHub, API errors for
// Kubernetes), and what to count.
//
// A caller's operation returns a Verdict:
//
//	var resp *http.Response
//	err := policy.Do(ctx, func(attempt int) retry.Verdict {
//		resp, err = send()
//		switch {
//		case err != nil && transient(err):
//			return retry.Again()
//		case resp.StatusCode == 429:
//			d, _ := retry.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
//			return retry.AtLeast(d)
//		}
//		return retry.Stop()
//	})
package retry
