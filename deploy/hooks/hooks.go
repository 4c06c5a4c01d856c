package hooks

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/ferrygitops/ferry/deploy/render"
)

// The annotations Ferry reads.
const (
	AnnotationHook         = render.AnnotationHook
	AnnotationDeletePolicy = "argocd.argoproj.io/hook-delete-policy"
	AnnotationSyncWave     = "argocd.argoproj.io/sync-wave"
	AnnotationHelmHook     = render.AnnotationHelmHook
	AnnotationHelmWeight   = "helm.sh/hook-weight"
	AnnotationHelmPolicy   = "helm.sh/hook-delete-policy"
)

// Phase is a phase of a sync.
type Phase string

// The phases, in the order a sync runs them; SyncFail runs only when the
// sync fails.
const (
	PreSync  Phase = "PreSync"
	Sync     Phase = "Sync"
	PostSync Phase = "PostSync"
	SyncFail Phase = "SyncFail"
)

// DeletePolicy says when a hook object is deleted.
type DeletePolicy string

// The delete policies.
const (
	// BeforeHookCreation: an object of the hook's name left by an earlier
	// sync is deleted before the hook is created (the default).
	BeforeHookCreation DeletePolicy = "BeforeHookCreation"
	// HookSucceeded: deleted once it succeeded.
	HookSucceeded DeletePolicy = "HookSucceeded"
	// HookFailed: deleted once it failed.
	HookFailed DeletePolicy = "HookFailed"
)

// Info is what an object's annotations say about its place in a sync.
type Info struct {
	// Wave orders objects within a phase, lower first.
	Wave int
	// Phases are the phases a hook is created in; empty for an ordinary
	// object.
	Phases []Phase
	// Skip: the object is not applied at all; SkipReason says why.
	Skip       bool
	SkipReason string
	// Policies are a hook's delete policies.
	Policies []DeletePolicy
	// Helm: the hook was read from Helm's annotations.
	Helm bool
}

// IsHook reports whether the object is a hook.
func (i Info) IsHook() bool { return len(i.Phases) > 0 }

// Has reports whether the hook has delete policy p.
func (i Info) Has(p DeletePolicy) bool { return slices.Contains(i.Policies, p) }

// In reports whether the hook runs in phase p.
func (i Info) In(p Phase) bool { return slices.Contains(i.Phases, p) }

var argoPhases = map[string]Phase{"PreSync": PreSync, "Sync": Sync, "PostSync": PostSync, "SyncFail": SyncFail}

var helmPhases = map[string]Phase{"pre-install": PreSync, "pre-upgrade": PreSync, "post-install": PostSync, "post-upgrade": PostSync}

// helmNotRun are the Helm hooks that have no sync phase.
var helmNotRun = map[string]bool{
	"pre-delete": true, "post-delete": true, "pre-rollback": true, "post-rollback": true,
	"test": true, "test-success": true, "test-failure": true,
}

var argoPolicies = map[string]DeletePolicy{
	"BeforeHookCreation": BeforeHookCreation, "HookSucceeded": HookSucceeded, "HookFailed": HookFailed,
}

var helmPolicies = map[string]DeletePolicy{
	"before-hook-creation": BeforeHookCreation, "hook-succeeded": HookSucceeded, "hook-failed": HookFailed,
}

// AnnotationError is an invalid annotation value.
type AnnotationError struct {
	Annotation string
	Value      string
	Msg        string
}

func (e *AnnotationError) Error() string {
	return fmt.Sprintf("annotation %s: %q %s", e.Annotation, e.Value, e.Msg)
}

// csv splits a comma-separated annotation value, trimming spaces; empty
// items are errors.
func csv(ann, v string) ([]string, error) {
	parts := strings.Split(v, ",")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
		if parts[i] == "" {
			return nil, &AnnotationError{ann, v, "has an empty item"}
		}
	}
	return parts, nil
}

// sorted lists the keys of allowed in order, comma-separated.
func sorted[V any](allowed map[string]V) string {
	return strings.Join(slices.Sorted(maps.Keys(allowed)), ", ")
}

// Read reads an object's annotations. Every invalid value is reported
// (errors.Join of *AnnotationError).
func Read(ann map[string]string) (Info, error) {
	var info Info
	var errs []error
	// Wave: Argo CD's, else Helm's weight.
	waveAnn, wave, hasWave := AnnotationSyncWave, "", false
	if wave, hasWave = ann[AnnotationSyncWave]; !hasWave {
		waveAnn = AnnotationHelmWeight
		wave, hasWave = ann[AnnotationHelmWeight]
	}
	if hasWave {
		n, err := strconv.Atoi(strings.TrimSpace(wave))
		if err != nil {
			errs = append(errs, &AnnotationError{waveAnn, wave, "is not an integer"})
		}
		info.Wave = n
	}

	if v, ok := ann[AnnotationHook]; ok {
		items, err := csv(AnnotationHook, v)
		if err != nil {
			errs = append(errs, err)
		}
		notRun := ""
		for _, it := range items {
			switch p, known := argoPhases[it]; {
			case known:
				if !info.In(p) {
					info.Phases = append(info.Phases, p)
				}
			case it == "Skip":
				info.Skip, info.SkipReason = true, AnnotationHook+": Skip"
			case it == "PreDelete" || it == "PostDelete":
				notRun = it
			default:
				errs = append(errs, &AnnotationError{AnnotationHook, v, "names no phase: " + strconv.Quote(it) + " is none of " + sorted(argoPhases) + ", Skip (PreDelete and PostDelete are accepted and never run)"})
			}
		}
		if info.Skip {
			info.Phases = nil
		} else if len(info.Phases) == 0 && notRun != "" {
			info.Skip, info.SkipReason = true, AnnotationHook+": "+notRun+" hooks are not run"
		}
	} else if v, ok := ann[AnnotationHelmHook]; ok {
		items, err := csv(AnnotationHelmHook, v)
		if err != nil {
			errs = append(errs, err)
		}
		var notRun []string
		crdInstall := false
		for _, it := range items {
			switch p, known := helmPhases[it]; {
			case known:
				if !info.In(p) {
					info.Phases = append(info.Phases, p)
				}
			case helmNotRun[it]:
				notRun = append(notRun, it)
			case it == "crd-install":
				crdInstall = true
			default:
				errs = append(errs, &AnnotationError{AnnotationHelmHook, v, "names no hook Ferry knows: " + strconv.Quote(it) +
					" is none of crd-install, post-delete, " + sorted(helmPhases) + ", post-rollback, pre-delete, pre-rollback, test, test-failure, test-success"})
			}
		}
		info.Helm = len(info.Phases) > 0
		if len(info.Phases) == 0 && len(notRun) > 0 && !crdInstall {
			info.Skip, info.SkipReason = true, AnnotationHelmHook+": "+strings.Join(notRun, ",")+" hooks are not run"
		}
	}

	if info.IsHook() {
		for _, src := range []struct {
			ann     string
			allowed map[string]DeletePolicy
		}{{AnnotationDeletePolicy, argoPolicies}, {AnnotationHelmPolicy, helmPolicies}} {
			v, ok := ann[src.ann]
			if !ok {
				continue
			}
			items, err := csv(src.ann, v)
			if err != nil {
				errs = append(errs, err)
			}
			for _, it := range items {
				p, known := src.allowed[it]
				switch {
				case !known:
					errs = append(errs, &AnnotationError{src.ann, v, "names no delete policy: " + strconv.Quote(it) + " is none of " + sorted(src.allowed)})
				case !info.Has(p):
					info.Policies = append(info.Policies, p)
				}
			}
		}
		if len(info.Policies) == 0 {
			info.Policies = []DeletePolicy{BeforeHookCreation}
		}
	}
	return info, errors.Join(errs...)
}

// Hook is a hook object of a render.
type Hook struct {
	render.Manifest
	Info
}

// Split is a render sorted into what a sync applies, the hooks it
// creates and what it leaves alone.
type Split struct {
	// Rendered holds the ordinary objects (the Sync phase), in apply
	// order: r itself when there are no hooks and nothing is skipped.
	Rendered render.Rendered
	// Waves holds the non-zero waves of the ordinary objects; nil when
	// every one is in wave 0.
	Waves map[render.ObjectKey]int
	// Hooks are the hook objects, in apply order.
	Hooks []Hook
	// Skipped are the objects not applied at all (Skip, or Helm hooks of
	// kinds Ferry does not run), with their reasons.
	Skipped []Hook
}

// Phased reports whether a sync of the split needs phases: it has hooks
// or more than one wave.
func (s *Split) Phased() bool { return len(s.Hooks) > 0 || len(s.Waves) > 0 }

// Wave returns the wave of an ordinary object.
func (s *Split) Wave(k render.ObjectKey) int { return s.Waves[k] }

// maxErrors caps the invalid annotations reported by SplitRendered.
const maxErrors = 20

// SplitRendered reads the annotations of every object of r. Errors name
// each object with an invalid annotation, its source (file and line) and
// the annotation; nothing is returned with them.
func SplitRendered(r render.Rendered) (Split, error) {
	sp := Split{Rendered: r}
	var errs []error
	n := 0
	plain := true
	var infos map[int]Info // only objects with annotations Read reads
	for i := range r.Manifests {
		m := &r.Manifests[i]
		if !relevant(m.Object.Object) {
			continue
		}
		info, err := Read(m.Object.GetAnnotations())
		if err != nil {
			if n++; n <= maxErrors {
				errs = append(errs, fmt.Errorf("%s: %s: %w", m.Source, m.Key, err))
			}
			continue
		}
		if infos == nil {
			infos = map[int]Info{}
		}
		infos[i] = info
		if info.IsHook() || info.Skip {
			plain = false
		}
	}
	if n > maxErrors {
		errs = append(errs, fmt.Errorf("and %d more objects with invalid annotations", n-maxErrors))
	}
	if len(errs) > 0 {
		return Split{}, fmt.Errorf("invalid sync annotations: %w", errors.Join(errs...))
	}
	if infos == nil {
		return sp, nil // no hook, one wave: the render as it is
	}
	if !plain {
		sp.Rendered.Manifests = make([]render.Manifest, 0, len(r.Manifests))
	}
	for i, m := range r.Manifests {
		info := infos[i]
		switch {
		case info.Skip:
			sp.Skipped = append(sp.Skipped, Hook{Manifest: m, Info: info})
		case info.IsHook():
			sp.Hooks = append(sp.Hooks, Hook{Manifest: m, Info: info})
		default:
			if !plain {
				sp.Rendered.Manifests = append(sp.Rendered.Manifests, m)
			}
			if info.Wave != 0 {
				if sp.Waves == nil {
					sp.Waves = map[render.ObjectKey]int{}
				}
				sp.Waves[m.Key] = info.Wave
			}
		}
	}
	return sp, nil
}

// relevant reports whether obj has any annotation Read reads (without
// copying its annotations: every object of every sync passes here).
func relevant(obj map[string]any) bool {
	md, _ := obj["metadata"].(map[string]any)
	ann, _ := md["annotations"].(map[string]any)
	if len(ann) == 0 {
		return false
	}
	for _, k := range []string{AnnotationHook, AnnotationSyncWave, AnnotationHelmHook, AnnotationHelmWeight} {
		if _, ok := ann[k]; ok {
			return true
		}
	}
	return false
}
