package dotferry

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/ferrygitops/ferry/document"
	"github.com/ferrygitops/ferry/image"
	"github.com/ferrygitops/ferry/policy"
)

// The kinds of promotion and rejection documents.
const (
	KindPromotion = "Promotion"
	KindRejection = "Rejection"
)

// RejectionsFile is the file `ferry reject` writes its Rejection documents
// to, relative to the repository root.
const RejectionsFile = Dir + "/rejections.yaml"

// Promotion moves what runs in one App (staging) to another App or path
// (production) by pull request, once staging proved it (kind: Promotion).
type Promotion struct {
	Name string `json:"name"`
	// From is the App whose synced revision is promoted (staging).
	From string `json:"from"`
	// ToApp or ToPath is where it goes: an App's path, or a path.
	ToApp  string `json:"toApp,omitempty"`
	ToPath string `json:"toPath,omitempty"`
	// Soak is how long staging must have been synced and healthy at the
	// revision.
	Soak time.Duration `json:"soak,omitempty"`
	// Job, if set, is a file in the repository holding a Kubernetes Job
	// run in staging's namespace after the sync: it passes when the Job
	// completes, fails when the Job fails.
	Job        string        `json:"job,omitempty"`
	JobTimeout time.Duration `json:"jobTimeout,omitempty"`
	// HTTP, if set, is a URL whose GET must answer Status.
	HTTP   string `json:"http,omitempty"`
	Status int    `json:"status,omitempty"`
	// PullRequest gives labels, reviewers, assignees and draft to the
	// promotion's pull request (the Config's when empty).
	PullRequest policy.PullRequest `json:"pullRequest,omitzero"`

	Source document.Source `json:"source,omitzero"`
}

// Rejection is a version of an image no bump or promotion may write
// (kind: Rejection).
type Rejection struct {
	// Image is the repository, normalised; Tag or Digest the version.
	Image  string `json:"image"`
	Tag    string `json:"tag,omitempty"`
	Digest string `json:"digest,omitempty"`
	// Written is spec.image as written.
	Written string `json:"written"`
	Reason  string `json:"reason"`
	By      string `json:"by,omitempty"`
	At      string `json:"at,omitempty"`

	Source document.Source `json:"source,omitzero"`
}

// Matches reports whether the version (tag and/or digest of repository
// repo, normalised) is the rejected one.
func (r Rejection) Matches(repo, tag, digest string) bool {
	if r.Image != repo {
		return false
	}
	if r.Digest != "" {
		return digest != "" && strings.EqualFold(r.Digest, digest)
	}
	return r.Tag != "" && r.Tag == tag
}

// Version is the rejected version as "tag" or "digest".
func (r Rejection) Version() string {
	if r.Digest != "" {
		return r.Digest
	}
	return r.Tag
}

// FindRejection returns the first rejection matching the version.
func FindRejection(rs []Rejection, repo, tag, digest string) (Rejection, bool) {
	for _, r := range rs {
		if r.Matches(repo, tag, digest) {
			return r, true
		}
	}
	return Rejection{}, false
}

// ParseRejected reads IMAGE:TAG or IMAGE@DIGEST into a Rejection (without
// reason).
func ParseRejected(s string) (Rejection, error) {
	ref, err := image.Parse(s)
	if err != nil {
		return Rejection{}, err
	}
	if ref.Tag == "" && ref.Digest == "" {
		return Rejection{}, fmt.Errorf("%q names no version: give IMAGE:TAG or IMAGE@DIGEST", s)
	}
	if ref.Tag != "" && ref.Digest != "" {
		return Rejection{}, fmt.Errorf("%q names a tag and a digest: give IMAGE:TAG or IMAGE@DIGEST", s)
	}
	return Rejection{Image: ref.Repository, Tag: ref.Tag, Digest: ref.Digest, Written: strings.TrimSpace(s)}, nil
}

func (l *loader) promotion(d *document.Doc) {
	mark := d.Mark()
	root := d.Root
	p := Promotion{Source: d.Source()}
	top := d.Fields(root, "", "apiVersion", "kind", "metadata", "spec")
	if mf, ok := top["metadata"]; !ok || document.IsNull(mf.Val) {
		d.Missing(document.OrKey(root, mf), "metadata.name")
	} else {
		meta := d.Fields(mf.Val, "metadata", "name", "labels", "annotations")
		if name, nn, ok := d.Required(meta, "name", mf.Key, "metadata"); ok {
			if err := CheckAppName(name); err != nil {
				d.Errorf(nn, "metadata.name", "%v", strings.Replace(err.Error(), "app name", "promotion name", 1))
			}
			p.Name = name
		}
		d.StrMap(meta["labels"], "metadata.labels")
		d.StrMap(meta["annotations"], "metadata.annotations")
	}
	if sf, ok := d.RequiredField(top, "spec", root, ""); ok {
		spec := d.Fields(sf.Val, "spec", "from", "to", "soak", "verify", "pullRequest")
		if f, ok := spec["from"]; !ok || document.IsNull(f.Val) {
			d.Missing(sf.Key, "spec.from")
		} else {
			fm := d.Fields(f.Val, "spec.from", "app")
			if a, an, ok := d.Required(fm, "app", f.Key, "spec.from"); ok {
				p.From = a
				l.appRefs = append(l.appRefs, appRef{name: a, src: document.Source{File: d.File, Line: d.Line(an)}, field: "spec.from.app"})
			}
		}
		if f, ok := spec["to"]; !ok || document.IsNull(f.Val) {
			d.Missing(sf.Key, "spec.to")
		} else {
			to := d.Fields(f.Val, "spec.to", "app", "path")
			af, pf := to["app"], to["path"]
			switch {
			case af.Present() && pf.Present():
				d.Errorf(pf.Key, "spec.to", "give app or path, not both")
			case af.Present():
				if a, ok := d.Str(af, "spec.to.app"); ok {
					p.ToApp = a
					l.appRefs = append(l.appRefs, appRef{name: a, src: document.Source{File: d.File, Line: d.Line(af.Val)}, field: "spec.to.app"})
					if a == p.From && a != "" {
						d.Errorf(af.Val, "spec.to.app", "promotes %s to itself", a)
					}
				}
			case pf.Present():
				if s, ok := d.Str(pf, "spec.to.path"); ok {
					if err := validPath(s); err != nil || s == "" || s == "." {
						d.Errorf(pf.Val, "spec.to.path", "want a directory below the repository root, got %q", s)
					} else {
						p.ToPath = strings.TrimSuffix(s, "/")
					}
				}
			default:
				d.Errorf(f.Key, "spec.to", "one of app or path is required")
			}
		}
		if f, ok := spec["soak"]; ok {
			if s, ok := d.Str(f, "spec.soak"); ok {
				v, err := time.ParseDuration(s)
				if err != nil || v < 0 {
					d.Errorf(f.Val, "spec.soak", "must be a duration such as 30m or 2h, got %q", s)
				}
				p.Soak = v
			}
		}
		if f, ok := spec["verify"]; ok && !document.IsNull(f.Val) {
			promotionVerify(d, &p, f)
		}
		if f, ok := spec["pullRequest"]; ok {
			p.PullRequest = pullRequest(d, f, "spec.pullRequest", false)
		}
	}
	if d.Failed(mark) {
		return
	}
	if !claim(d, nil, l.promotions, p.Name, p.Source, "promotion %q is also declared at %s") {
		return
	}
	l.set.Promotions = append(l.set.Promotions, p)
}

func promotionVerify(d *document.Doc, p *Promotion, f document.Field) {
	const path = "spec.verify"
	v := d.Fields(f.Val, path, "job", "http")
	jf, hf := v["job"], v["http"]
	switch {
	case jf.Present() && hf.Present():
		d.Errorf(hf.Key, path, "give job or http, not both")
		return
	case !jf.Present() && !hf.Present():
		d.Errorf(f.Key, path, "one of job or http is required")
		return
	}
	if jf.Present() {
		j := d.Fields(jf.Val, path+".job", "template", "timeout")
		if t, tn, ok := d.Required(j, "template", jf.Key, path+".job"); ok {
			if err := validPath(t); err != nil || t == "" || t == "." {
				d.Errorf(tn, path+".job.template", "want a file in the repository, got %q", t)
			} else {
				p.Job = t
			}
		}
		p.JobTimeout = positiveDuration(d, j["timeout"], path+".job.timeout")
		return
	}
	h := d.Fields(hf.Val, path+".http", "url", "status")
	if u, un, ok := d.Required(h, "url", hf.Key, path+".http"); ok {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			d.Errorf(un, path+".http.url", "must be an http or https URL, got %q", u)
		} else {
			p.HTTP = u
		}
	}
	p.Status = 200
	if sf, ok := h["status"]; ok {
		if n, ok := d.Int(sf, path+".http.status"); ok {
			if n < 100 || n > 599 {
				d.Errorf(sf.Val, path+".http.status", "must be an HTTP status (100-599), got %d", n)
			}
			p.Status = int(n)
		}
	}
}

func (l *loader) rejection(d *document.Doc) {
	mark := d.Mark()
	root := d.Root
	r := Rejection{Source: d.Source()}
	top := d.Fields(root, "", "apiVersion", "kind", "metadata", "spec")
	if mf, ok := top["metadata"]; ok {
		meta := d.Fields(mf.Val, "metadata", "name", "labels", "annotations")
		d.Str(meta["name"], "metadata.name")
		d.StrMap(meta["labels"], "metadata.labels")
		d.StrMap(meta["annotations"], "metadata.annotations")
	}
	sf, ok := d.RequiredField(top, "spec", root, "")
	if !ok {
		return
	}
	spec := d.Fields(sf.Val, "spec", "image", "reason", "by", "at")
	if img, n, ok := d.Required(spec, "image", sf.Key, "spec"); ok {
		parsed, err := ParseRejected(img)
		if err != nil {
			d.Errorf(n, "spec.image", "%v", err)
		} else {
			r.Image, r.Tag, r.Digest, r.Written = parsed.Image, parsed.Tag, parsed.Digest, parsed.Written
		}
	}
	if reason, n, ok := d.Required(spec, "reason", sf.Key, "spec"); ok {
		if strings.TrimSpace(reason) == "" {
			d.Errorf(n, "spec.reason", "must not be empty: say why the version is rejected")
		}
		r.Reason = reason
	}
	r.By, _ = d.Str(spec["by"], "spec.by")
	r.At, _ = d.Str(spec["at"], "spec.at")
	if d.Failed(mark) {
		return
	}
	l.set.Rejections = append(l.set.Rejections, r)
}

// appRef is an App named by another document, checked once every file is
// read.
type appRef struct {
	name, field string
	src         document.Source
}

func (l *loader) checkAppRefs() {
	for _, r := range l.appRefs {
		if _, ok := l.apps[r.name]; !ok {
			l.errs = append(l.errs, &document.Error{File: r.src.File, Line: r.src.Line, Field: r.field,
				Msg: fmt.Sprintf("no App named %q in %s", r.name, Dir)})
		}
	}
}

// FindPromotion returns the promotion named name.
func (s *Set) FindPromotion(name string) (Promotion, bool) {
	for _, p := range s.Promotions {
		if p.Name == name {
			return p, true
		}
	}
	return Promotion{}, false
}
