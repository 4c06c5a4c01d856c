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
