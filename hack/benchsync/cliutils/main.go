// Command cliutils is benchsync's third column: it does with
// sigs.k8s.io/cli-utils what a user of that library does for the job
// `ferry sync` does, the way cli-utils' own `kapply apply` does it
// (cmd/main.go and cmd/apply of cli-utils): kubectl's factory, the
// manifest reader on the directory, a ConfigMap inventory through the
// cluster inventory client factory, client-side throttling turned off
// when the API server has priority and fairness (kapply's pre-run), and
// apply.Applier.Run with server-side apply, prune, and a wait for every
// object to be Current (ReconcileTimeout). Everything else is cli-utils'
// default: its status watcher, its task order, its validation.
//
//	go run ./hack/benchsync/cliutils -kubeconfig K -n NS -inventory-id ID DIR
//
// It prints one summary line (objects applied, unchanged, pruned,
// reconciled, and the requests it made by method) and exits 1 if
// anything failed or did not become Current in time.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"sigs.k8s.io/cli-utils/pkg/apply"
	"sigs.k8s.io/cli-utils/pkg/apply/event"
	"sigs.k8s.io/cli-utils/pkg/common"
	"sigs.k8s.io/cli-utils/pkg/flowcontrol"
	"sigs.k8s.io/cli-utils/pkg/inventory"
	"sigs.k8s.io/cli-utils/pkg/manifestreader"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "the kubeconfig")
	namespace := flag.String("n", "default", "the namespace of the objects and of the inventory ConfigMap")
	invID := flag.String("inventory-id", "", "the inventory id (label cli-utils.sigs.k8s.io/inventory-id)")
	fieldManager := flag.String("field-manager", "cli-utils-bench", "the server-side apply field manager")
	reconcile := flag.Duration("reconcile-timeout", 5*time.Minute, "how long to wait for every object to be Current")
	pruneTimeout := flag.Duration("prune-timeout", 5*time.Minute, "how long to wait for pruned objects to be gone")
	verbose := flag.Bool("v", false, "print every event")
	flag.Parse()
	if flag.NArg() != 1 || *invID == "" {
		fmt.Fprintln(os.Stderr, "usage: cliutils -kubeconfig K -n NS -inventory-id ID DIR")
		os.Exit(2)
	}
	if err := run(context.Background(), *kubeconfig, *namespace, *invID, *fieldManager, *reconcile, *pruneTimeout, *verbose, flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "cliutils:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, kubeconfig, namespace, invID, fieldManager string, reconcile, pruneTimeout time.Duration, verbose bool, dir string) error {
	// kapply's factory: kubectl's config flags, version-matching flags.
	flags := genericclioptions.NewConfigFlags(true)
	flags.KubeConfig, flags.Namespace = &kubeconfig, &namespace
	requests := &counter{by: map[string]int{}}
	throttleOff := false
	flags.WrapConfigFn = func(cfg *rest.Config) *rest.Config {
		if throttleOff {
			cfg.QPS, cfg.Burst = -1, -1
		}
		cfg.Wrap(requests.wrap)
		return cfg
	}
	f := cmdutil.NewFactory(cmdutil.NewMatchVersionFlags(flags))

	// kapply's pre-run: no client-side throttling if the server has
	// priority and fairness.
	cfg, err := f.ToRESTConfig()
	if err != nil {
		return err
	}
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	throttleOff, err = flowcontrol.IsEnabled(fctx, cfg)
	cancel()
	if err != nil {
		return fmt.Errorf("checking server-side throttling: %w", err)
	}

	reader, err := manifestreader.NewManifestLoader(f).ManifestReader(nil, dir)
	if err != nil {
		return err
	}
	objs, err := reader.Read()
	if err != nil {
		return err
	}
	// The inventory template `kapply init` writes into the package; made
	// here so that the directory the three tools read is the same.
	inv := inventory.WrapInventoryInfoObj(&unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{
			"name": "inventory-" + invID, "namespace": namespace,
			"labels": map[string]any{common.InventoryLabel: invID},
		},
	}})
	invClient, err := inventory.ClusterClientFactory{StatusPolicy: inventory.StatusPolicyNone}.NewClient(f)
	if err != nil {
		return err
	}
	a, err := apply.NewApplierBuilder().WithFactory(f).WithInventoryClient(invClient).Build()
	if err != nil {
		return err
	}
	ch := a.Run(ctx, inv, objs, apply.ApplierOptions{
		ServerSideOptions: common.ServerSideOptions{ServerSideApply: true, ForceConflicts: true, FieldManager: fieldManager},
		ReconcileTimeout:  reconcile,
		PruneTimeout:      pruneTimeout,
		EmitStatusEvents:  false,
		InventoryPolicy:   inventory.PolicyMustMatch,
		DryRunStrategy:    common.DryRunNone,
	})
	var s struct{ applied, unchanged, applyFailed, pruned, pruneFailed, reconciled, notReconciled int }
	var errs []string
	for e := range ch {
		if verbose {
			fmt.Fprintln(os.Stderr, e)
		}
		switch e.Type {
		case event.ErrorType:
			errs = append(errs, e.ErrorEvent.Err.Error())
		case event.ValidationType:
			errs = append(errs, e.ValidationEvent.Error.Error())
		case event.ApplyType:
			switch e.ApplyEvent.Status {
			case event.ApplySuccessful:
				s.applied++
			case event.ApplySkipped:
				s.unchanged++
			case event.ApplyFailed:
				s.applyFailed++
				errs = append(errs, fmt.Sprintf("apply %s: %v", e.ApplyEvent.Identifier, e.ApplyEvent.Error))
			}
		case event.PruneType:
			switch e.PruneEvent.Status {
			case event.PruneSuccessful:
				s.pruned++
			case event.PruneFailed:
				s.pruneFailed++
				errs = append(errs, fmt.Sprintf("prune %s: %v", e.PruneEvent.Identifier, e.PruneEvent.Error))
			}
		case event.WaitType:
			switch e.WaitEvent.Status {
			case event.ReconcileSuccessful:
				s.reconciled++
			case event.ReconcileTimeout, event.ReconcileFailed:
				s.notReconciled++
			}
		}
	}
	fmt.Printf("cli-utils: %d objects: %d applied, %d pruned, %d Current; %d failed to apply, %d to prune, %d not Current; requests %s\n",
		len(objs), s.applied, s.pruned, s.reconciled, s.applyFailed, s.pruneFailed, s.notReconciled, requests)
	if len(errs) > 0 {
		if len(errs) > 10 {
			errs = append(errs[:10], fmt.Sprintf("and %d more", len(errs)-10))
		}
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	if s.notReconciled > 0 {
		return fmt.Errorf("%d objects not Current within %s", s.notReconciled, reconcile)
	}
	return nil
}

// counter counts the requests made, by method.
type counter struct {
	mu sync.Mutex
	by map[string]int
}

func (c *counter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		m := r.Method
		if r.URL.Query().Get("watch") == "true" {
			m = "WATCH"
		}
		c.mu.Lock()
		c.by[m]++
		c.mu.Unlock()
		return rt.RoundTrip(r)
	})
}

func (c *counter) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	total, parts := 0, []string{}
	for m, n := range c.by {
		total += n
		parts = append(parts, fmt.Sprintf("%s %d", m, n))
	}
	sort.Strings(parts)
	return fmt.Sprintf("%d (%s)", total, strings.Join(parts, ", "))
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
