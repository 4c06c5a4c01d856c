package render

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	goyaml "go.yaml.in/yaml/v2"

	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"

	"github.com/ferrygitops/ferry/document"
)

// rawObject is a parsed manifest before preparation.
type rawObject struct {
	obj    map[string]any
	source string
}

var yamlLineRE = regexp.MustCompile(`line (\d+): `)

// parseManifests parses a YAML (multi-document) or JSON file.
func parseManifests(name string, data []byte) ([]rawObject, error) {
	var out []rawObject
	for _, c := range document.Split(data) {
		v, err := yamlObject(c.Data)
		if err != nil {
			line, msg := c.Line, err.Error()
			if m := yamlLineRE.FindStringSubmatchIndex(msg); m != nil {
				n, _ := strconv.Atoi(msg[m[2]:m[3]])
				line, msg = c.Line-1+n, msg[m[1]:]
			}
			return nil, fmt.Errorf("%s:%d: invalid YAML: %s", name, line, strings.TrimSpace(msg))
		}
		if v == nil {
			continue
		}
		src := fmt.Sprintf("%s:%d", name, c.Line)
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: a manifest must be a mapping", src)
		}
		out = append(out, rawObject{obj: obj, source: src})
	}
	return out, nil
}

// yamlObject decodes one YAML document (duplicate keys are an error) into
// the value sigs.k8s.io/yaml's YAMLToJSONStrict and Kubernetes' JSON
// decoder would make of it: maps with string keys, int64 for integral
// numbers, float64 for others. It converts the YAML decoder's values
// directly instead of writing and reading JSON between, which takes a
// third off a large render's parse time (BenchmarkParseManifests);
// TestYAMLObjectAsYAMLToJSON holds it to the round trip.
func yamlObject(doc []byte) (any, error) {
	var v any
	if err := goyaml.UnmarshalStrict(doc, &v); err != nil {
		return nil, err
	}
	return jsonValue(v)
}

// jsonValue converts a value of the YAML decoder as a JSON round trip
// would (see yamlObject).
func jsonValue(v any) (any, error) {
	switch t := v.(type) {
	case nil, bool:
		return t, nil
	case string:
		return validUTF8(t), nil
	case int:
		return int64(t), nil
	case int64:
		return t, nil
	case map[any]any:
		m := make(map[string]any, len(t))
		var coerced map[string]string // key as JSON writes it → key as written
		for k, e := range t {
			key, err := jsonKey(k)
			if err != nil {
				return nil, fmt.Errorf("unsupported map key of type: %s, key: %+#v, value: %+#v", reflect.TypeOf(k), k, e)
			}
			if v := validUTF8(key); v != key || strings.ContainsRune(key, utf8.RuneError) {
				// Keys that read the same once made UTF-8: JSON writes
				// them sorted as written, and the last one read wins.
				if coerced == nil {
					coerced = map[string]string{}
				}
				if prev, ok := coerced[v]; ok && prev > key {
					continue
				}
				coerced[v] = key
				key = v
			}
			if m[key], err = jsonValue(e); err != nil {
				return nil, err
			}
		}
		return m, nil
	case []any:
		a := make([]any, len(t))
		for i, e := range t {
			var err error
			if a[i], err = jsonValue(e); err != nil {
				return nil, err
			}
		}
		return a, nil
	default: // floats, uint64, timestamps: rare; exactly as JSON makes them
		return jsonRoundTrip(t)
	}
}

// jsonRoundTrip writes v as JSON and reads it back.
func jsonRoundTrip(v any) (any, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	if err := utiljson.Unmarshal(j, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// validUTF8 replaces each byte of s that is not UTF-8 by U+FFFD, as
// encoding/json does.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s { // an invalid byte reads as one utf8.RuneError
		b.WriteRune(r)
	}
	return b.String()
}

// jsonKey is a YAML map key as sigs.k8s.io/yaml writes it in JSON.
func jsonKey(k any) (string, error) {
	switch t := k.(type) {
	case string:
		return t, nil
	case int:
		return strconv.Itoa(t), nil
	case int64:
		return strconv.FormatInt(t, 10), nil
	case float64:
		switch s := strconv.FormatFloat(t, 'g', -1, 32); s {
		case "+Inf":
			return ".inf", nil
		case "-Inf":
			return "-.inf", nil
		case "NaN":
			return ".nan", nil
		default:
			return s, nil
		}
	case bool:
		return strconv.FormatBool(t), nil
	}
	return "", errors.New("unsupported key")
}

// flatten validates the shape of raw objects and expands List kinds.
func flatten(raws []rawObject) ([]rawObject, error) {
	var out []rawObject
	for _, r := range raws {
		kind, _ := r.obj["kind"].(string)
		items, isList := r.obj["items"].([]any)
		if kind == "List" || strings.HasSuffix(kind, "List") && isList {
			for i, it := range items {
				m, ok := it.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("%s: items[%d]: an item must be a mapping", r.source, i)
				}
				sub, err := flatten([]rawObject{{obj: m, source: fmt.Sprintf("%s (items[%d])", r.source, i)}})
				if err != nil {
					return nil, err
				}
				out = append(out, sub...)
			}
			continue
		}
		if err := checkShape(r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func checkShape(r rawObject) error {
	for _, f := range []string{"apiVersion", "kind"} {
		v, ok := r.obj[f].(string)
		if !ok || v == "" {
			return fmt.Errorf("%s: %s is missing or not a string", r.source, f)
		}
	}
	if _, err := schema.ParseGroupVersion(r.obj["apiVersion"].(string)); err != nil {
		return fmt.Errorf("%s: %w", r.source, err)
	}
	md, ok := r.obj["metadata"].(map[string]any)
	if !ok {
		return fmt.Errorf("%s: metadata is missing or not a mapping", r.source)
	}
	name, _ := md["name"].(string)
	if name == "" {
		if gen, isGen := md["generateName"]; isGen {
			if g, ok := gen.(string); !ok || g == "" {
				return fmt.Errorf("%s: metadata.generateName is not a string", r.source)
			}
			if !isHook(md) {
				return fmt.Errorf("%s: metadata.generateName is only supported for hooks (annotation %s or %s): give the object a name", r.source, AnnotationHook, AnnotationHelmHook)
			}
			return checkMetadata(r, md)
		}
		return fmt.Errorf("%s: metadata.name is missing or not a string", r.source)
	}
	return checkMetadata(r, md)
}

// Hook annotations (package hooks reads them): a hook object may have a
// generated name.
const (
	AnnotationHook     = "argocd.argoproj.io/hook"
	AnnotationHelmHook = "helm.sh/hook"
)

// isHook reports whether metadata md marks a hook object.
func isHook(md map[string]any) bool {
	ann, _ := md["annotations"].(map[string]any)
	_, argo := ann[AnnotationHook]
	_, helm := ann[AnnotationHelmHook]
	return argo || helm
}

// GeneratedName reports the generateName of an object that has no name:
// a hook created with a name the API server generates. Its key names it
// by the prefix.
func GeneratedName(u map[string]any) (string, bool) {
	md, _ := u["metadata"].(map[string]any)
	if name, _ := md["name"].(string); name != "" {
		return "", false
	}
	g, ok := md["generateName"].(string)
	return g, ok && g != ""
}

func checkMetadata(r rawObject, md map[string]any) error {
	if ns, ok := md["namespace"]; ok && ns != nil {
		if _, isStr := ns.(string); !isStr {
			return fmt.Errorf("%s: metadata.namespace is not a string", r.source)
		}
	}
	for _, f := range []string{"labels", "annotations"} {
		if v, ok := md[f]; ok && v != nil {
			m, isMap := v.(map[string]any)
			if !isMap {
				return fmt.Errorf("%s: metadata.%s is not a mapping", r.source, f)
			}
			for k, val := range m {
				if _, isStr := val.(string); !isStr {
					return fmt.Errorf("%s: metadata.%s.%s is not a string", r.source, f, k)
				}
			}
		}
	}
	return nil
}
