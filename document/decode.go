package document

import (
	"reflect"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Decode fills v (a pointer to a struct) from n with the walker's rules:
// the fields a struct accepts are its `yaml` tags, an unknown or duplicate
// field is an error listing the allowed ones, and a value of the wrong type
// is an error naming its field and line. Every problem goes to the Doc's
// errors; Decode fills what it can. It is for documents whose shape is a
// plain Go struct (the run config); documents with rules between fields
// walk with Fields and the typed readers instead.
func (d *Doc) Decode(n *yaml.Node, path string, v any) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		panic("document: Decode needs a non-nil pointer")
	}
	d.decode(n, path, rv.Elem())
}

func (d *Doc) decode(n *yaml.Node, path string, v reflect.Value) {
	if IsNull(n) {
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		names, index := structFields(v.Type())
		for name, f := range d.Fields(n, path, names...) {
			d.decode(f.Val, Join(path, name), v.FieldByIndex(index[name]))
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.Errorf(n, path, "must be a list, got %s", Describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, Index(path, i), s.Index(i))
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode || v.Type().Key().Kind() != reflect.String {
			d.Errorf(n, path, "must be a mapping, got %s", Describe(n))
			return
		}
		m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
		seen := map[string]int{}
		for k, val := range d.entries(n, path, "keys") {
			if line, dup := seen[k.Value]; dup {
				d.Errorf(k, Join(path, k.Value), "duplicate key (first set at line %d)", line)
				continue
			}
			seen[k.Value] = d.Line(k)
			e := reflect.New(v.Type().Elem()).Elem()
			d.decode(val, Join(path, k.Value), e)
			m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), e)
		}
		v.Set(m)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		d.decode(n, path, p.Elem())
		v.Set(p)
	default:
		if n.Kind != yaml.ScalarNode {
			d.Errorf(n, path, "must be %s, got %s", kindName(v.Kind()), Describe(n))
			return
		}
		if v.Kind() == reflect.String && n.ShortTag() != "!!str" && n.ShortTag() != "!!int" && n.ShortTag() != "!!float" {
			// "yes" or "true" where a string is wanted is a mistake yaml
			// would let through as the text "true".
			d.Errorf(n, path, "must be a string, got %s", Describe(n))
			return
		}
		p := reflect.New(v.Type())
		if err := n.Decode(p.Interface()); err != nil {
			d.Errorf(n, path, "must be %s, got %s", kindName(v.Kind()), Describe(n))
			return
		}
		v.Set(p.Elem())
	}
}

// structFields returns the yaml names of t's fields, in order, and each
// one's index; inline fields are flattened, "-" and untagged unexported
// fields skipped.
func structFields(t reflect.Type) ([]string, map[string][]int) {
	var names []string
	index := map[string][]int{}
	var walk func(t reflect.Type, prefix []int)
	walk = func(t reflect.Type, prefix []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("yaml")
			name, opts, _ := strings.Cut(tag, ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			idx := append(append([]int(nil), prefix...), i)
			if strings.Contains(","+opts+",", ",inline,") {
				walk(f.Type, idx)
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			names = append(names, name)
			index[name] = idx
		}
	}
	walk(t, nil)
	return names, index
}

func kindName(k reflect.Kind) string {
	switch k {
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a " + k.String()
}
