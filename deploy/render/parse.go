package render

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"

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
		j, err := yaml.YAMLToJSONStrict(c.Data)
		if err != nil {
			line, msg := c.Line, err.Error()
			if m := yamlLineRE.FindStringSubmatchIndex(msg); m != nil {
				n, _ := strconv.Atoi(msg[m[2]:m[3]])
				line, msg = c.Line-1+n, msg[m[1]:]
			}
			return nil, fmt.Errorf("%s:%d: invalid YAML: %s", name, line, strings.TrimSpace(msg))
		}
		if bytes.Equal(bytes.TrimSpace(j), []byte("null")) {
			continue
		}
		var v any
		if err := utiljson.Unmarshal(j, &v); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, c.Line, err)
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
		if _, gen := md["generateName"]; gen {
			return fmt.Errorf("%s: metadata.generateName is not supported: give the object a name", r.source)
		}
		return fmt.Errorf("%s: metadata.name is missing or not a string", r.source)
	}
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
