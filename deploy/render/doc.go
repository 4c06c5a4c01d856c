// Package render turns an app's directory in git into the objects a sync
// applies, without a cluster: it is what `ferry render` prints.
//
// # Source
//
// Clones keeps one clone per repository and branch in a work directory,
// fetched on every render; App reads the app's path at a commit straight
// from its git objects (gitrepo.TreeFS), so the same code renders a
// directory on disk (os.DirFS) or in memory (fstest.MapFS).
//
// # Rendering
//
// Detect says how a path renders, as Argo CD decides it: Chart.yaml makes
// a Helm chart, a kustomization a kustomize build, *.jsonnet files a
// jsonnet program, anything else a plain directory. A Helm chart is
// rendered with Helm's engine as a library (templates only, no release
// storage, hooks kept with their helm.sh/hook annotations), its
// dependencies vendored or fetched by Charts (OCI registries through
// package registry, HTTP chart repositories), .Capabilities from
// Options.Capabilities (the engine's: DiscoveryCapabilities) or
// DefaultCapabilities. A jsonnet program is evaluated with go-jsonnet,
// imports read from the fs.FS only (never outside the repository).
//
// A directory holding kustomization.yaml (or .yml, or Kustomization) is
// built with kustomize (krusty, plugins off, loads restricted to the
// kustomization root), which reads the tree in place through an adapter of
// the fs.FS: nothing is extracted to disk. Any other directory contributes
// every *.yaml, *.yml and *.json file below it, recursively, in path
// order, each possibly holding several documents, with List kinds
// flattened. Hidden files and directories, symbolic links and submodules
// are skipped (kustomize does not see them either).
//
// Namespaced objects without a namespace get the app's destination
// namespace, cluster-scoped objects lose theirs. Whether a kind is
// namespaced comes from a table of the kinds Kubernetes serves without
// CRDs, then from the CustomResourceDefinitions of the render itself, and
// only then from the Scoper the caller gives (the engine's asks the
// cluster's RESTMapper); without one, an object of an unknown kind keeps
// the namespace it was written with and is marked ScopeUnknown. Every
// object gets the label ferry.dev/app=NAME and the annotation
// ferry.dev/applied-hash, a hash of the rendered object; the fields a
// server sets (status, resourceVersion, uid, managedFields, ...) are
// dropped. Two objects with the same kind, namespace and name are an
// error naming both sources.
//
// Objects come out in apply order: Namespaces, CRDs, then by kind priority
// (policies, ServiceAccounts, Secrets, ConfigMaps, storage, RBAC,
// Services, workloads, Ingresses, webhooks; custom resources last), then
// by group, kind, namespace and name. The same commit always renders the
// same bytes. Errors name the file and line (or the kustomize build) of
// the offending object.
package render
