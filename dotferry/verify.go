package dotferry

// spec.verify of an ImagePolicy: the signers a candidate needs (the types
// are policy.Verify's; bot reads the keys and verifies).

import (
	"path"
	"regexp"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ferrygitops/ferry/document"
	"github.com/ferrygitops/ferry/policy"
)

func policyVerify(d *document.Doc, p *policy.Policy, f document.Field) {
	const fp = "spec.verify"
	if document.IsNull(f.Val) {
		return
	}
	mark := d.Mark()
	fs := d.Fields(f.Val, fp, "keys", "keyless", "trustedRoot", "insecureIgnoreTlog")
	if f.Val.Kind != yaml.MappingNode {
		return
	}
	v := &policy.Verify{Source: document.Source{File: d.File, Line: d.Line(f.Key)}}
	if kf, ok := fs["keys"]; ok {
		for i, n := range list(d, kf, fp+".keys") {
			if m, ok := material(d, n, fp+".keys["+strconv.Itoa(i)+"]"); ok {
				v.Keys = append(v.Keys, m)
			}
		}
	}
	if kf, ok := fs["keyless"]; ok {
		for i, n := range list(d, kf, fp+".keyless") {
			if id, ok := identity(d, n, fp+".keyless["+strconv.Itoa(i)+"]"); ok {
				v.Keyless = append(v.Keyless, id)
			}
		}
	}
	if rf, ok := fs["trustedRoot"]; ok && !document.IsNull(rf.Val) {
		if m, ok := material(d, rf.Val, fp+".trustedRoot"); ok {
			v.TrustedRoot = &m
		}
	}
	if tf, ok := fs["insecureIgnoreTlog"]; ok {
		v.InsecureIgnoreTlog = d.Bool(tf, fp+".insecureIgnoreTlog")
	}
	if d.Failed(mark) {
		return
	}
	switch {
	case len(v.Keys) == 0 && len(v.Keyless) == 0:
		d.Errorf(f.Key, fp, "name at least one signer: keys or keyless")
		return
	case v.InsecureIgnoreTlog && len(v.Keys) == 0:
		d.Errorf(fs["insecureIgnoreTlog"].Key, fp+".insecureIgnoreTlog", "applies to keys only, and spec.verify.keys is empty")
		return
	}
	p.Verify = v
}

// list returns the elements of a list field, reporting a non-list.
func list(d *document.Doc, f document.Field, fp string) []*yaml.Node {
	if document.IsNull(f.Val) {
		return nil
	}
	if f.Val.Kind != yaml.SequenceNode {
		d.Errorf(f.Val, fp, "must be a list, got %s", document.Describe(f.Val))
		return nil
	}
	return f.Val.Content
}

func material(d *document.Doc, n *yaml.Node, fp string) (policy.Material, bool) {
	m := policy.Material{Field: fp, Source: document.Source{File: d.File, Line: d.Line(n)}}
	if document.IsNull(n) || n.Kind != yaml.MappingNode {
		d.Errorf(n, fp, "must be a mapping with one of file, path or secret, got %s", document.Describe(n))
		return m, false
	}
	mark := d.Mark()
	fs := d.Fields(n, fp, "file", "path", "secret")
	if len(fs) != 1 {
		if !d.Failed(mark) {
			d.Errorf(n, fp, "set exactly one of file, path or secret")
		}
		return m, false
	}
	if _, ok := fs["file"]; ok {
		s, nn, ok := d.Required(fs, "file", n, fp)
		if !ok {
			return m, false
		}
		clean := path.Clean(s)
		if s == "" || strings.HasPrefix(s, "/") || clean == ".." || strings.HasPrefix(clean, "../") || strings.Contains(s, "\\") {
			d.Errorf(nn, fp+".file", "must be a slash-separated path inside the repository, got %q", s)
			return m, false
		}
		m.File = clean
	}
	if _, ok := fs["path"]; ok {
		s, nn, ok := d.Required(fs, "path", n, fp)
		if !ok {
			return m, false
		}
		if !strings.HasPrefix(s, "/") {
			d.Errorf(nn, fp+".path", "must be an absolute path on the machine Ferry runs on, got %q (use file: for a file in the repository)", s)
			return m, false
		}
		m.Path = path.Clean(s)
	}
	if sf, ok := fs["secret"]; ok {
		sp := fp + ".secret"
		if document.IsNull(sf.Val) {
			d.Missing(sf.Key, sp+".name")
			return m, false
		}
		sfs := d.Fields(sf.Val, sp, "namespace", "name", "key")
		ref := &policy.SecretRef{}
		ok := true
		for _, k := range []struct {
			name string
			dst  *string
		}{{"namespace", &ref.Namespace}, {"name", &ref.Name}, {"key", &ref.Key}} {
			s, nn, found := d.Required(sfs, k.name, sf.Key, sp)
			switch {
			case !found:
				ok = false
			case k.name == "namespace" && (len(s) > 63 || !dnsLabelRE.MatchString(s)),
				k.name == "name" && (len(s) > maxNameLen || !nameRE.MatchString(s)):
				d.Errorf(nn, sp+"."+k.name, "%q is not a valid Kubernetes name", s)
				ok = false
			case s == "":
				d.Errorf(nn, sp+"."+k.name, "must not be empty")
				ok = false
			default:
				*k.dst = s
			}
		}
		if !ok {
			return m, false
		}
		m.Secret = ref
	}
	return m, !d.Failed(mark)
}

func identity(d *document.Doc, n *yaml.Node, fp string) (policy.Identity, bool) {
	var id policy.Identity
	if document.IsNull(n) || n.Kind != yaml.MappingNode {
		d.Errorf(n, fp, "must be a mapping of issuer (or issuerRegExp) and subject (or subjectRegExp), got %s", document.Describe(n))
		return id, false
	}
	mark := d.Mark()
	fs := d.Fields(n, fp, "issuer", "issuerRegExp", "subject", "subjectRegExp")
	pair := func(exact, re string, dstExact, dstRE *string) {
		ef, hasExact := fs[exact]
		rf, hasRE := fs[re]
		switch {
		case hasExact && hasRE:
			d.Errorf(rf.Key, fp+"."+re, "set only one of %s and %s", exact, re)
		case !hasExact && !hasRE:
			d.Errorf(n, fp+"."+exact, "required field is missing (or %s)", re)
		case hasExact:
			if s, ok := d.Str(ef, fp+"."+exact); ok {
				if s == "" {
					d.Errorf(ef.Val, fp+"."+exact, "must not be empty")
				}
				*dstExact = s
			} else if document.IsNull(ef.Val) {
				d.Missing(ef.Key, fp+"."+exact)
			}
		default:
			if s, ok := d.Str(rf, fp+"."+re); ok {
				if _, err := regexp.Compile(s); err != nil || s == "" {
					if err == nil {
						d.Errorf(rf.Val, fp+"."+re, "must not be empty")
					} else {
						d.Errorf(rf.Val, fp+"."+re, "invalid regular expression: %v", err)
					}
				}
				*dstRE = s
			} else if document.IsNull(rf.Val) {
				d.Missing(rf.Key, fp+"."+re)
			}
		}
	}
	pair("issuer", "issuerRegExp", &id.Issuer, &id.IssuerRegExp)
	pair("subject", "subjectRegExp", &id.Subject, &id.SubjectRegExp)
	return id, !d.Failed(mark)
}
