package updater

import (
	"fmt"
	"strconv"

	"github.com/ferrygitops/ferry/image"
)

// Plan decides, for each reference of res in order, what it should become
// given each policy's target. It never downgrades: a reference whose tag
// ranks above the chosen one under the policy's ordering is StatusAhead, and
// one whose tag the policy cannot order is StatusUnmanaged unless force.
// References of a policy named in res.Errors are StatusBlocked, and so are
// all the updates of a policy one of whose references would need a rewrite
// that cannot be made in place (a block scalar, an escaped quoted scalar).
// Plan is pure: it reads no files.
func Plan(res *Result, targets map[string]Target, force bool) []Decision {
	if res == nil {
		return nil
	}
	blocked := make(map[string]string)
	for _, e := range res.Errors {
		for _, p := range e.Policies {
			if _, ok := blocked[p]; !ok {
				blocked[p] = where(e.File, e.Line)
			}
		}
	}
	ds := make([]Decision, len(res.References))
	for i, ref := range res.References {
		ds[i] = decide(ref, targets, blocked, force)
		refuseBroken(&ds[i], targets)
	}
	coupleGroups(ds, targets)

	// A policy one of whose updates cannot be written is blocked whole, as
	// it would be by a file error.
	cannot := make(map[string]string)
	for _, d := range ds {
		if d.Status == StatusUpdate && d.bad != "" {
			if _, ok := cannot[d.Policy]; !ok {
				cannot[d.Policy] = fmt.Sprintf("cannot rewrite %s: %s", where(d.File, d.Line), d.bad)
			}
		}
	}
	for i := range ds {
		d := &ds[i]
		if why, ok := cannot[d.Policy]; ok && d.Status == StatusUpdate {
			d.Status = StatusBlocked
			if d.bad == "" {
				why = "policy " + d.Policy + " is blocked: " + why
			}
			d.Why = why
		}
	}
	return ds
}

// Changes returns one Change per StatusUpdate decision, in order.
func Changes(decisions []Decision) []Change {
	var cs []Change
	for _, d := range decisions {
		if d.Status == StatusUpdate {
			cs = append(cs, Change{Reference: d.Reference, From: d.Current, To: d.Wanted})
		}
	}
	return cs
}

func where(file string, line int) string {
	if line > 0 {
		return file + ":" + strconv.Itoa(line)
	}
	return file
}

func decide(ref Reference, targets map[string]Target, blocked map[string]string, force bool) Decision {
	d := Decision{Reference: ref}
	if at, ok := blocked[ref.Policy]; ok {
		d.Status = StatusBlocked
		d.Why = at + " could not be read; nothing is written for policy " + ref.Policy
		return d
	}
	t, ok := targets[ref.Policy]
	if !ok || t.Tag == "" {
		d.Status = StatusNoTarget
		d.Why = "policy " + ref.Policy + " chose no tag"
		return d
	}
	cur := ref.Current
	switch ref.Form {
	case FormName:
		d.Status, d.Wanted = StatusCurrent, cur
		d.Why = "repository names are never changed"
	case FormTag:
		d.Wanted = t.Tag
		if cur == t.Tag {
			d.Status = StatusCurrent
			return d
		}
		d.Status, d.Why = order(cur, t, force)
	case FormDigest:
		if t.Digest == "" {
			d.Status = StatusNoTarget
			d.Why = "no digest is known for tag " + t.Tag
			return d
		}
		d.Wanted = t.Digest
		if cur == t.Digest {
			d.Status = StatusCurrent
			return d
		}
		d.Status = StatusUpdate
		if tag := tagByDigest(cur, t.Tags); tag != "" && tag != t.Tag {
			d.Status, d.Why = order(tag, t, force)
		}
	case FormImage:
		if ref.Image.Repository == "" {
			d.Status = StatusUnmanaged
			d.Why = "the current value is not an image reference"
			return d
		}
		name, tag, digest := image.Split(cur)
		newDigest := ""
		if digest != "" || t.Policy != nil && t.Policy.Digest {
			newDigest = t.Digest
		}
		d.Wanted = name + ":" + t.Tag
		if newDigest != "" {
			d.Wanted += "@" + newDigest
		}
		if d.Wanted == cur {
			d.Status = StatusCurrent
			return d
		}
		d.Status = StatusUpdate
		ranked := tag
		if ranked == "" && digest != "" {
			ranked = tagByDigest(digest, t.Tags)
		}
		if ranked != "" && ranked != t.Tag {
			d.Status, d.Why = order(ranked, t, force)
		}
		if d.Status == StatusUpdate && digest != "" && newDigest == "" {
			d.Why = join(d.Why, "dropping the current digest: no digest is known for tag "+t.Tag)
		}
	default:
		d.Status = StatusUnmanaged
		d.Why = "unknown reference form " + string(ref.Form)
	}
	return d
}

// refuseBroken turns an update that would write a broken reference into
// StatusRefused, whatever force says: a whole-image value that would not
// parse or would change repository, a tag or digest that is not one, or a
// :tag or :digest marker on a value that is a whole image reference.
func refuseBroken(d *Decision, targets map[string]Target) {
	switch d.Status {
	case StatusUpdate, StatusUnmanaged, StatusAhead:
	default:
		return
	}
	refuse := func(format string, args ...any) {
		d.Status = StatusRefused
		d.Why = fmt.Sprintf(format, args...)
	}
	// A marker whose form does not fit the value it sits on is refused
	// whatever the tags say.
	switch {
	case d.Form == FormTag && d.Current != "" && !image.ValidTag(d.Current):
		refuse("%q is not a tag, so a :tag marker cannot rewrite it (a whole image reference takes {\"$imagepolicy\": %q})", d.Current, d.Policy)
		return
	case d.Form == FormDigest && d.Current != "" && !image.ValidDigest(d.Current):
		refuse("%q is not a digest, so a :digest marker cannot rewrite it", d.Current)
		return
	case d.Form == FormImage && d.Source == SourceMarker && targets[d.Policy].Policy != nil && d.Image.Repository != targets[d.Policy].Policy.Image:
		refuse("the marker names policy %s, whose image is %s, on a reference to %s", d.Policy, targets[d.Policy].Policy.Image, d.Image.Repository)
		return
	}
	if d.Status != StatusUpdate {
		return
	}
	switch d.Form {
	case FormImage:
		got, err := image.Parse(d.Wanted)
		switch {
		case err != nil:
			refuse("the new value %q is not an image reference: %v", d.Wanted, err)
		case got.Repository != d.Image.Repository:
			refuse("the new value %q would change the repository of %q", d.Wanted, d.Current)
		}
	case FormTag:
		if !image.ValidTag(d.Wanted) {
			refuse("the new value %q is not a valid tag", d.Wanted)
		}
	case FormDigest:
		if d.Wanted != "" && !image.ValidDigest(d.Wanted) {
			refuse("the new value %q is not a valid digest", d.Wanted)
		}
	}
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// order ranks the current tag against the chosen one.
func order(cur string, t Target, force bool) (Status, string) {
	if t.Policy == nil {
		if force {
			return StatusUpdate, "forced: no policy to order tag " + strconv.Quote(cur)
		}
		return StatusUnmanaged, "no policy to order tag " + strconv.Quote(cur)
	}
	c, err := t.Policy.Compare(tagInfo(cur, t.Tags), tagInfo(t.Tag, t.Tags))
	switch {
	case err != nil && force:
		return StatusUpdate, fmt.Sprintf("forced: current tag %q cannot be ordered: %v", cur, err)
	case err != nil:
		return StatusUnmanaged, fmt.Sprintf("current tag %q cannot be ordered: %v", cur, err)
	case c > 0:
		return StatusAhead, fmt.Sprintf("current tag %q is newer than chosen %q", cur, t.Tag)
	case c == 0:
		return StatusCurrent, fmt.Sprintf("current tag %q ranks equal to chosen %q", cur, t.Tag)
	}
	return StatusUpdate, ""
}

func tagInfo(name string, tags []image.Tag) image.Tag {
	for _, t := range tags {
		if t.Name == name {
			return t
		}
	}
	return image.Tag{Name: name}
}

func tagByDigest(digest string, tags []image.Tag) string {
	for _, t := range tags {
		if t.Digest == digest {
			return t.Name
		}
	}
	return ""
}

// coupleGroups keeps the fields of one entry consistent (a kustomize image
// entry, the repository:/tag:/digest: keys of a Helm values mapping): a
// digest is not moved when the tag next to it is not, and a digest next to
// a tag that moves is cleared when the new tag's digest is unknown, since a
// stale digest would win over the new tag.
func coupleGroups(ds []Decision, targets map[string]Target) {
	type key struct {
		file, policy string
		group        int
	}
	tags := make(map[key]*Decision)
	for i := range ds {
		if d := &ds[i]; d.group != 0 && d.Form == FormTag {
			tags[key{d.File, d.Policy, d.group}] = d
		}
	}
	if len(tags) == 0 {
		return
	}
	for i := range ds {
		d := &ds[i]
		if d.group == 0 || d.Form != FormDigest {
			continue
		}
		tag := tags[key{d.File, d.Policy, d.group}]
		if tag == nil {
			continue
		}
		switch tag.Status {
		case StatusAhead, StatusUnmanaged, StatusNoTarget, StatusBlocked:
			if d.Status == StatusUpdate {
				d.Status = tag.Status
				d.Why = "the tag beside it is not updated: " + tag.Why
			}
		case StatusUpdate:
			if d.Status == StatusNoTarget && d.Current != "" {
				d.Status, d.Wanted = StatusUpdate, ""
				d.Why = "clearing the digest: no digest is known for tag " + targets[d.Policy].Tag
			}
		}
	}
}
