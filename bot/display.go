package bot

import (
	"strings"

	"github.com/ferrygitops/ferry/image"
	"github.com/ferrygitops/ferry/updater"
)

// ObjectName renders a reference's "Kind/namespace/name" without its empty
// parts: "Deployment/api", "Kustomization".
func ObjectName(o string) string {
	var parts []string
	for _, p := range strings.Split(o, "/") {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "/")
}

// ShortValue shows what changes in a whole-image value, its tag and digest
// (the repository is the policy's); other forms are shown as they are.
func ShortValue(form updater.Form, v string) string {
	if form != updater.FormImage {
		return v
	}
	_, tag, digest := image.Split(v)
	if len(digest) > 19 {
		digest = digest[:19] + "…"
	}
	switch {
	case tag != "" && digest != "":
		return tag + "@" + digest
	case digest != "":
		return "@" + digest
	case tag != "":
		return tag
	}
	return "(no tag)"
}
