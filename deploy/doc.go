// Package deploy is Ferry's sync engine: after an image bump is merged, it
// renders the app's manifests at the merged commit, diffs them against
// the live cluster, applies them with server-side apply, prunes what was
// deleted from git, waits for health, records the result in the cluster,
// and can roll back.
//
// It is a thin composition of one package per question a sync asks, as
// Argo CD's gitops-engine is:
//
//   - render: what should be there (git, kustomize, namespaces, order),
//     without a cluster; `ferry render` prints it;
//   - diff: what differs, Secret values masked;
//   - health: is it ready (kstatus);
//   - inventory: what Ferry applied, and what each sync did (ConfigMaps
//     in the cluster).
//
// This package holds what needs the cluster: the plan (live objects and
// dry-runs), apply, prune, the health wait, the per-app lock, Watch and
// Rollback. The rules of each step are documented in its package; the
// rules of a sync as a whole are here.
//
// # Apps
//
// An app is a path in a branch of a git repository, applied to one
// cluster. Apps are declared in the manifest repository's .ferry
// directory, next to the image policies:
//
//	apiVersion: ferry.dev/v1alpha1
//	kind: App
//	metadata:
//	  name: myapp-staging
//	spec:
//	  source:
//	    path: overlays/staging      # repoURL and branch default to the repository holding .ferry
//	  destination:
//	    namespace: myapp-staging    # given to namespaced objects that name none
//	    context: staging            # kubeconfig context; in-cluster when empty
//	    inventoryNamespace: ferry-system   # default: Ferry's namespace (Options.Namespace)
//	  syncPolicy:
//	    automated: true             # Watch syncs new commits
//	    prune: true                 # delete what was removed from git
//	    selfHeal: true              # Watch re-applies what drifted
//	    allowEmpty: false           # let a render of nothing prune everything
//	    interval: 1m                # Watch's polling interval
//	    timeout: 5m                 # health wait
//	    releasePinOnNewCommit: false
//
// ReadApps clones the repository and reads them with package dotferry;
// documents are read strictly, and every problem comes back as
// document.Errors located to file and line. An App can also be built in
// code (from flags).
//
// # Syncing
//
//	s, err := deploy.New(restConfig, deploy.Options{WorkDir: dir})
//	rec, err := s.Sync(ctx, app, deploy.SyncOptions{Prune: true})
//
// A sync first makes sure the API server answers (GET /version, for up to
// Options.ConnectTimeout, 5 s by default, unless it answered in the last
// few seconds): an unreachable server fails the sync at once with
// ErrUnreachable, naming it. It then takes the app's Lease
// (ferry-sync-NAME, renewed while it runs; a second sync waits up to
// Options.LockTimeout, then fails with ErrLocked; a sync that cannot renew
// its lease stops), renders (package render; kinds the render does not
// know are resolved through the cluster's RESTMapper), and plans: one
// labelled List per resource and namespace fetches the live objects; an
// object whose live applied-hash equals the rendered one and whose live
// fields hold every rendered value is unchanged and costs nothing more;
// every other object is server-side applied with dry-run, in parallel.
//
// Validation precedes change. Any render error, invalid object or dry-run
// rejection stops the sync before any change: nothing is applied and the
// inventory is left as it was. Objects in a Namespace, or of a kind, that
// the same sync creates cannot be dry-run before it exists; for them, and
// only for them, the new Namespaces and CRDs they need are created first
// (tracked in the inventory first; CRDs waited for until Established),
// then those objects are dry-run; if one is rejected, the Namespaces and
// CRDs just created are deleted again (UID precondition; a Namespace stays
// Terminating until the namespace controller empties it) and reported as
// "removed", the inventory is put back, and nothing else is applied. A
// Namespace or CRD that already exists is never changed before
// validation.
//
// Then the inventory is extended with every rendered object, the changed
// objects are applied (field manager "ferry"; Force for objects Ferry
// already owns, so a field another manager changed is taken back, but not
// for objects it never applied, whose conflicting fields make the sync
// fail instead of being overwritten) in parallel (Options.Concurrency)
// within each kind-priority group, Namespaces and CRDs first (CRDs waited
// for until Established). With Prune, the inventory objects no longer
// rendered are deleted (reverse order, Background propagation, UID
// precondition), except objects whose live label ferry.dev/app is not the
// app's, objects annotated ferry.dev/prune: disabled (both are dropped
// from the inventory and reported as skipped), and anything never in the
// inventory, such as an object created by hand with the app's label. A
// pruning sync that renders nothing while the inventory holds objects
// fails with ErrRefusePruneAll unless AllowEmpty.
//
// The sync then waits (SyncOptions.Timeout) for the applied objects to be
// Current (package health), polling with labelled Lists; unchanged objects
// are judged from the plan's lists without waiting, so a sync with nothing
// to do makes no request after planning. The result is Succeeded,
// Degraded (applied, but not all Current before the timeout, or one
// Failed) or Failed. A negative timeout (`--timeout 0s`) does not wait:
// objects still rolling out are reported as InProgress and do not make the
// sync Degraded; only an object already Failed does.
//
// Every sync that starts (holds the lease) is recorded (package
// inventory), failed ones included, with the reason of the failure:
// RenderFailed, Rejected, PruneAllRefused, ApplyFailed, PruneFailed,
// ClusterError, or for a Degraded sync HealthTimeout or Unhealthy. Status
// reads the record back, with the revision the cluster is at (the newest
// sync that applied everything) beside the last attempt, the lease holder
// and the live health of the inventory objects; Watch reports the same
// through Options.OnTick (Tick.Record, Tick.Synced). The inventory, record
// and lease live in one namespace, Ferry's own: Options.Namespace, by
// default the namespace of the pod Ferry runs in, else ferry-system
// (created if missing and allowed); an App may name another
// (inventoryNamespace).
//
// # Phases, hooks and waves
//
// Objects annotated as hooks (package hooks reads Argo CD's annotations,
// and Helm's mapped onto them) are set apart from the render: they are
// never in the inventory, never pruned, never diffed, and Skip objects are
// never applied (nor pruned, if an earlier sync applied them). A sync
// whose render has hooks or more than one wave runs in phases: PreSync
// hooks, then the Sync phase wave by wave (its Sync hooks created and its
// objects applied as above, then every object of the wave waited for
// until Current and every hook until it finished, before the next wave),
// prune, the health wait, and PostSync hooks when every object is Current.
// Hooks are validated with the rest (a dry-run create; a hook of a fixed
// name that exists must be the app's and have BeforeHookCreation), then
// created (generateName allowed), each wave's waited for (Jobs until
// Complete or Failed, Pods until Succeeded or Failed, other kinds until
// Current; up to the sync's timeout, DefaultTimeout when it does not
// wait), and deleted by their policies. A failed PreSync or Sync hook, or
// a wave not Current in time, stops the sync (Failed, HookFailed or
// WaveUnhealthy; a failed PreSync hook leaves everything else unapplied);
// a failed PostSync hook makes it Degraded (HookFailed); a failure after
// validation runs the SyncFail hooks. Hooks run only when the sync applies
// a new revision or has something to change or prune; Watch does not
// retry a revision whose hook failed. Every hook run is in Record.Hooks.
// A render without hooks or waves takes the path described above, at the
// same cost.
//
// # Permissions
//
// A sync needs, in each namespace its objects live in: list, get, create,
// patch and delete on their kinds (get and patch on the Namespace object
// itself, when the app holds it); in Ferry's namespace: get, create and
// update on ConfigMaps and Leases, and get on that Namespace (to create it
// when missing, which needs more). No cluster-scoped permission is needed:
// when RBAC forbids listing a cluster-scoped kind (Namespaces, in the
// namespaced mode of install/), its objects are read one by one, and a
// refusal there names the object and what to grant. Apply and prune
// failures carry the API server's Forbidden message, naming the verb,
// resource and namespace.
//
// A sync that fails while applying (the API server going away for longer
// than Options.RetryTimeout, say) leaves the objects it applied in place,
// tracked by the inventory, and records the failure; the next sync
// converges. Transient errors (connection refused or reset, 429, 5xx,
// timeouts) are retried with backoff, so a restart of the API server in
// the middle of a sync is usually ridden out.
//
// # Diff, drift and Watch
//
// Diff dry-runs every object (Force) and returns a unified diff of the
// live object against the result per object (package diff): "+" whole
// objects to create, "-" objects to prune. An object whose live hash
// equals the render's but whose fields differ has drifted: someone
// changed it since Ferry applied it.
//
// Watch polls the branch every interval, syncs new commits (automated),
// re-applies drifted objects (selfHeal; each logged with the paths of the
// changed fields, never their values), and records only rounds that
// changed something or ended differently from the last record (a branch
// that stays broken is recorded once). The long-running `ferry run` calls
// it per app.
//
// # Rollback
//
// Rollback syncs an earlier revision (by default the newest successful
// one before the current, from the record), reading it from the clone's
// history (so clones are full unless Options.GitDepth says otherwise),
// and pins the app to it: Sync without a revision and Watch apply the
// pinned revision until Release, or until a new commit when
// releasePinOnNewCommit. RevertPR prepares a revert of the app's path in
// git instead and hands it to Options.RevertPR, the hook the integrator
// wires to the forge package.
//
// # Limitations
//
//   - One Syncer talks to one cluster; an app's context selects the
//     rest.Config (RESTConfig) before New.
//   - The inventory is one ConfigMap: about 15,000 objects per app.
//   - Kustomize remote bases are fetched by kustomize itself (git CLI,
//     network), which makes such renders depend on the network; Helm
//     charts and plugins are off.
//   - Objects are labelled, not owned: a kind that rejects the label, or
//     an admission webhook rewriting it, defeats pruning of those objects.
//   - The drift check compares rendered values with live ones; values the
//     server normalises (quantities such as cpu: 0.5 → 500m) always look
//     different and cost one dry-run per sync to be confirmed unchanged.
//   - The per-app lock is client-go's leader election on a Lease
//     (resourcelock.LeaseLock); a lease whose holder's renew time is older
//     than its duration is taken over at once, which judges expiry with
//     the local clock.
//   - A CRD changed so that objects of a new version of it validate is
//     applied with the rest, after validation: such objects are dry-run
//     against the CRD as it is, and rejected if it does not serve their
//     version yet.
package deploy
