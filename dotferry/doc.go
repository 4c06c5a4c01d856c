// Package dotferry reads what a manifest repository declares in its .ferry
// directory: ImagePolicy documents (as policy.Policy values), App
// documents, and the repository's Config. One loader reads a directory on
// disk (LoadDir) or a git tree (LoadFS over gitrepo.TreeFS) with the same
// rules (package document's: strict fields, file:line:field errors, links
// never followed out of the directory).
//
// Every document names its kind:
//
//	apiVersion: ferry.dev/v1alpha1
//	kind: ImagePolicy | App | Config | Promotion | Rejection
//
// Every document is validated before any is used, and every problem is
// reported, not just the first: unknown or duplicate fields (the message
// lists the allowed ones), values of the wrong type, missing required
// fields, a wrong apiVersion, an unknown kind, two policies or two apps of
// one name (in one file or across files), two Config documents, and the
// checks of each kind (see ImagePolicy, App and Config). The problems come
// back as document.Errors.
//
// # ImagePolicy
//
// See package policy for what each field means to tag selection:
//
//	apiVersion: ferry.dev/v1alpha1
//	kind: ImagePolicy
//	metadata:
//	  name: myapp-staging
//	spec:
//	  image: 123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/myapp
//	  filterTags:
//	    pattern: '^release\.(?P<stamp>\d{8})$'
//	    extract: '$stamp'
//	    exclude: ['\.sig$']
//	  policy:
//	    date: {layout: '20060102'}
//	  minAge: 30m
//	  digest: false
//	  update:
//	    paths: ['overlays/staging/**']
//	  pullRequest: {group: prod, labels: [deploy], draft: true}
//	  verify:                     # optional: only signed images (verify.go)
//	    keys: [{file: .ferry/cosign.pub}]   # or {path: /abs}, {secret: {namespace, name, key}}
//	    keyless: [{issuer: https://token.actions.githubusercontent.com, subjectRegExp: '...'}]
//
// Checked: no strategy or more than one, regular expressions that do not
// compile, an extract naming a group the pattern lacks, a bad semver
// range, date layout, order, duration or glob, an image with a tag or
// digest; under spec.verify, no signer, a key or trusted root that is not
// exactly one of file (inside the repository), path (absolute) or secret,
// an identity without exactly one of issuer/issuerRegExp and of
// subject/subjectRegExp, and insecureIgnoreTlog without keys. Scalars are taken as written: a layout of 20060102 or a range of
// 2 needs no quotes. An explicit null is the same as leaving the field out,
// except under spec.policy, where "pushedAt:" or "numerical:" with no value
// selects that strategy with its defaults.
//
// # App
//
//	apiVersion: ferry.dev/v1alpha1
//	kind: App
//	metadata:
//	  name: myapp-staging
//	spec:
//	  source:
//	    path: overlays/staging      # repoURL and branch default to the repository holding .ferry
//	  destination:
//	    namespace: myapp-staging
//	    context: staging
//	  syncPolicy: {automated: true, prune: true, selfHeal: true}
//
// spec.source.helm (releaseName, namespace, valueFiles,
// ignoreMissingValueFiles, values or valuesObject, parameters, skipCrds,
// kubeVersion, apiVersions) and spec.source.jsonnet (main, libs, extVars,
// tlas; also read as Argo CD's spec.source.directory.jsonnet) complete the
// detection of the source's kind (see Helm and Jsonnet).
//
// See App for every field. Checked: names are DNS labels, paths are clean
// and stay in the repository, namespaces are DNS labels, durations are
// positive.
//
// # Config
//
// At most one, with repository-wide defaults for the write-back:
//
//	apiVersion: ferry.dev/v1alpha1
//	kind: Config
//	spec:
//	  pullRequest: {labels: [deps], reviewers: [alice]}
//	  branch: ferry/{{group}}
//	  commit: {authorName: Ferry, authorEmail: ferry@example.com}
//
// # Promotion
//
// Moves what runs in one App to another App (or a path) by pull request,
// once the first proved it (package promote):
//
//	apiVersion: ferry.dev/v1alpha1
//	kind: Promotion
//	metadata:
//	  name: myapp
//	spec:
//	  from: {app: myapp-staging}
//	  to: {app: myapp-production}     # or {path: overlays/production}
//	  soak: 30m                       # synced and healthy this long
//	  verify:                         # optional: one of
//	    job: {template: verify/smoke-job.yaml, timeout: 10m}
//	    # http: {url: https://staging.example.com/healthz, status: 200}
//	  pullRequest: {labels: [promotion], reviewers: [alice]}
//
// Checked: from.app and to.app name Apps of the repository (in any file)
// and differ, exactly one of to.app and to.path, exactly one of
// verify.job and verify.http, a clean template path, an http(s) URL, a
// status within 100-599, durations.
//
// # Rejection
//
// A version no bump or promotion may write (`ferry reject` writes them to
// .ferry/rejections.yaml):
//
//	apiVersion: ferry.dev/v1alpha1
//	kind: Rejection
//	spec:
//	  image: ghcr.io/acme/myapp:1.4.2   # or ghcr.io/acme/myapp@sha256:...
//	  reason: crashes on start
//	  by: alice                         # optional
//	  at: "2026-12-05T05:00:00Z"        # optional
//
// Checked: an image naming exactly one of a tag and a digest, and a reason.
package dotferry
