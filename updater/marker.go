package updater

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
)

var markerKey = []byte("$imagepolicy")

// parseMarker reads the value of a {"$imagepolicy": VALUE} marker: "NAME",
// "NAME:tag|name|digest", "NAMESPACE:NAME" or "NAMESPACE:NAME:tag|name|digest".
func parseMarker(v string) (name string, form Form, ok bool) {
	parts := strings.Split(v, ":")
	switch len(parts) {
	case 1:
		name, form = parts[0], FormImage
	case 2:
		if f, isPart := markerForm(parts[1]); isPart {
			name, form = parts[0], f
		} else {
			name, form = parts[1], FormImage
		}
	case 3:
		f, isPart := markerForm(parts[2])
		if !isPart {
			return "", "", false
		}
		name, form = parts[1], f
	default:
		return "", "", false
	}
	if name = strings.TrimSpace(name); name == "" {
		return "", "", false
	}
	return name, form, true
}

func markerForm(s string) (Form, bool) {
	switch s {
	case "tag":
		return FormTag, true
	case "name":
		return FormName, true
	case "digest":
		return FormDigest, true
	}
	return "", false
}

// commentMarker parses a comment's text (after '#') as a marker.
func commentMarker(c []byte) (string, bool) {
	if !bytes.Contains(c, markerKey) {
		return "", false
	}
	i, j := bytes.IndexByte(c, '{'), bytes.LastIndexByte(c, '}')
	if i < 0 || j < i {
		return "", false
	}
	var m struct {
		Policy *string `json:"$imagepolicy"`
	}
	if err := json.Unmarshal(c[i:j+1], &m); err != nil || m.Policy == nil {
		return "", false
	}
	return *m.Policy, true
}

var markerRE = regexp.MustCompile(`"\$imagepolicy"\s*:\s*"([^"]*)"`)

// markerNames returns the policy names the markers in data mention, for
// files that do not parse.
func markerNames(data []byte) []string {
	var names []string
	for _, m := range markerRE.FindAllSubmatch(data, -1) {
		if name, _, ok := parseMarker(string(m[1])); ok {
			names = append(names, name)
		}
	}
	return names
}
