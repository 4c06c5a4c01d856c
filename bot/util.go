package bot

import (
	"cmp"
	"slices"
)

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func sortedRefKeys[V any](m map[refKey]V) []refKey {
	keys := make([]refKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b refKey) int {
		return cmp.Or(cmp.Compare(a.policy, b.policy), cmp.Compare(a.object, b.object), cmp.Compare(a.fieldPath, b.fieldPath))
	})
	return keys
}
