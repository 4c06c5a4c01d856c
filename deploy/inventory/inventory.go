package inventory

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/ferrygitops/ferry/deploy/render"
)

// Inventory is the set of objects Ferry applied for an app and has not
// pruned: key → apiVersion.
type Inventory map[render.ObjectKey]string

// Encode writes one [apiVersion, kind, namespace, name] row per line, in
// apply order.
func (inv Inventory) Encode() string {
	keys := slices.SortedFunc(maps.Keys(inv), render.ObjectKey.Compare)
	var b strings.Builder
	b.WriteString("[")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(",")
		}
		row, _ := json.Marshal([4]string{inv[k], k.Kind, k.Namespace, k.Name})
		b.WriteString("\n")
		b.Write(row)
	}
	b.WriteString("\n]\n")
	return b.String()
}

// Decode reads what Encode wrote; "" is the empty inventory.
func Decode(s string) (Inventory, error) {
	inv := Inventory{}
	if s == "" {
		return inv, nil
	}
	var rows [][4]string
	if err := json.Unmarshal([]byte(s), &rows); err != nil {
		return nil, err
	}
	for _, r := range rows {
		gv, err := schema.ParseGroupVersion(r[0])
		if err != nil {
			return nil, err
		}
		inv[render.ObjectKey{Group: gv.Group, Kind: r[1], Namespace: r[2], Name: r[3]}] = r[0]
	}
	return inv, nil
}
