// Package hooks reads the sync phases, hooks and waves of an app's objects
// from their annotations, without a cluster: Argo CD's own annotations as
// Argo CD writes them, so a repository Argo CD syncs moves over unchanged,
// and Helm's hook annotations mapped onto the same phases.
//
// Argo CD's annotations:
//
//   - argocd.argoproj.io/hook: a comma-separated list of PreSync, Sync,
//     PostSync, SyncFail (the phases the object is created in, as a hook),
//     or Skip (the object is not applied at all). PreDelete and PostDelete
//     are accepted and never run: Ferry does not delete apps.
//   - argocd.argoproj.io/hook-delete-policy: a comma-separated list of
//     HookSucceeded, HookFailed, BeforeHookCreation; a hook that names none
//     has BeforeHookCreation.
//   - argocd.argoproj.io/sync-wave: an integer (negative allowed), 0 when
//     absent; waves order objects within a phase, lower first.
//
// Helm's, read when the object has no argocd.argoproj.io/hook (as Argo CD
// does):
//
//   - helm.sh/hook: pre-install and pre-upgrade are PreSync, post-install
//     and post-upgrade PostSync; pre-delete, post-delete, pre-rollback,
//     post-rollback, test, test-success and test-failure hooks are never
//     run (an object with only those is not applied); crd-install (Helm 2)
//     leaves the object an ordinary one.
//   - helm.sh/hook-weight: the wave, when argocd.argoproj.io/sync-wave is
//     absent.
//   - helm.sh/hook-delete-policy: before-hook-creation, hook-succeeded,
//     hook-failed, added to Argo CD's policies.
//
// Values are case-sensitive, as in Argo CD and Helm, and surrounding
// spaces are ignored; an unknown value, or a wave that is not an integer,
// is an error naming the object, its source (file and line) and the
// annotation, where Argo CD would silently ignore it.
package hooks
