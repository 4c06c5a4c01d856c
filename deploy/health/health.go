// Package health says whether a live object is what its kind calls ready,
// with kstatus (sigs.k8s.io/cli-utils/pkg/kstatus/status), the rules Flux
// and cli-utils share: Current means Deployments rolled out, StatefulSets
// and DaemonSets updated, Jobs complete, CRDs established, objects with a
// Ready condition ready, and so on. It makes no request: the engine hands
// it the objects it listed or applied.
package health

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// The statuses a sync reports.
const (
	Current    = string(status.CurrentStatus)
	InProgress = string(status.InProgressStatus)
	Failed     = string(status.FailedStatus)
	NotFound   = string(status.NotFoundStatus)
	Unknown    = string(status.UnknownStatus)
)

// Of returns the kstatus status of a live object (Current, InProgress,
// Failed, Terminating, Unknown; NotFound for nil) and, unless Current,
// kstatus's message.
func Of(u *unstructured.Unstructured) (string, string) {
	if u == nil {
		return NotFound, ""
	}
	r, err := status.Compute(u)
	if err != nil {
		return Unknown, err.Error()
	}
	if r.Status == status.CurrentStatus {
		return Current, ""
	}
	return string(r.Status), r.Message
}

// Settled reports whether waiting longer for an object of status h is
// pointless: it is Current, or Failed.
func Settled(h string) bool { return h == Current || h == Failed }
