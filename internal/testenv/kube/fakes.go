package kube

import (
	"context"
	"hash/fnv"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// FakeDeploymentController stands in for the controller manager, which the
// harness does not run: until the test ends, it marks every Deployment in
// namespace ns rolled out (status for its current generation, all replicas
// updated, ready and available) through the status subresource, so health
// checks (kstatus) see it Current.
func FakeDeploymentController(t testing.TB, cfg *rest.Config, ns string) {
	t.Helper()
	cs := kubernetes.NewForConfigOrDie(cfg)
	fakeController(t, func(ctx context.Context) (watch.Interface, error) {
		return cs.AppsV1().Deployments(ns).Watch(ctx, metav1.ListOptions{})
	}, func(ctx context.Context, ev watch.Event) {
		d, ok := ev.Object.(*appsv1.Deployment)
		if (ev.Type == watch.Added || ev.Type == watch.Modified) && ok && d.Status.ObservedGeneration != d.Generation {
			MarkDeploymentReady(ctx, cs, d)
		}
	})
}

// fakeController runs handle on every event of the watches open starts,
// reopening them, until the test ends. Like the controller manager
// (--concurrent-deployment-syncs=5), it handles events on five workers,
// each object's events on one worker, in order.
func fakeController(t testing.TB, open func(context.Context) (watch.Interface, error), handle func(context.Context, watch.Event)) {
	const workers = 5
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	queues := make([]chan watch.Event, workers)
	for i := range queues {
		queues[i] = make(chan watch.Event, 64)
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case ev := <-queues[i]:
					handle(ctx, ev)
				}
			}
		})
	}
	wg.Go(func() {
		for ctx.Err() == nil {
			w, err := open(ctx)
			if err != nil {
				time.Sleep(200 * time.Millisecond)
				continue
			}
			for ev := range w.ResultChan() {
				h := fnv.New32a()
				if m, err := meta.Accessor(ev.Object); err == nil {
					h.Write([]byte(m.GetNamespace() + "/" + m.GetName()))
				}
				select {
				case queues[h.Sum32()%workers] <- ev:
				case <-ctx.Done():
				}
			}
			w.Stop()
		}
	})
}

// MarkDeploymentReady sets d's status to a finished rollout of its
// current generation.
func MarkDeploymentReady(ctx context.Context, cs kubernetes.Interface, d *appsv1.Deployment) {
	r := int32(1)
	if d.Spec.Replicas != nil {
		r = *d.Spec.Replicas
	}
	now := metav1.Now()
	d = d.DeepCopy()
	d.Status = appsv1.DeploymentStatus{
		ObservedGeneration: d.Generation, Replicas: r, UpdatedReplicas: r, ReadyReplicas: r, AvailableReplicas: r,
		Conditions: []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable", LastUpdateTime: now, LastTransitionTime: now},
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable", LastUpdateTime: now, LastTransitionTime: now},
		},
	}
	_, _ = cs.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{FieldManager: "fake-deployment-controller"})
}

// FakeJobController stands in for the Job controller and a kubelet whose
// pods all succeed: until the test ends, it marks every Job created in
// namespace ns Complete (start and completion times, one succeeded pod,
// the SuccessCriteriaMet and Complete conditions, as the controller sets
// them) through the status subresource.
func FakeJobController(t testing.TB, cfg *rest.Config, ns string) {
	t.Helper()
	cs := kubernetes.NewForConfigOrDie(cfg)
	fakeController(t, func(ctx context.Context) (watch.Interface, error) {
		return cs.BatchV1().Jobs(ns).Watch(ctx, metav1.ListOptions{})
	}, func(ctx context.Context, ev watch.Event) {
		j, ok := ev.Object.(*batchv1.Job)
		if ev.Type != watch.Added || !ok || j.Status.CompletionTime != nil {
			return
		}
		now := metav1.Now()
		j = j.DeepCopy()
		j.Status.StartTime, j.Status.CompletionTime, j.Status.Succeeded = &now, &now, 1
		for _, typ := range []batchv1.JobConditionType{batchv1.JobSuccessCriteriaMet, batchv1.JobComplete} {
			j.Status.Conditions = append(j.Status.Conditions, batchv1.JobCondition{Type: typ, Status: corev1.ConditionTrue, LastProbeTime: now, LastTransitionTime: now})
		}
		_, _ = cs.BatchV1().Jobs(ns).UpdateStatus(ctx, j, metav1.UpdateOptions{FieldManager: "fake-job-controller"})
	})
}
