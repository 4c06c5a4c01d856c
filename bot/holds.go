package bot

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/ferrygitops/ferry/internal/scratch"

	"github.com/ferrygitops/ferry/gitrepo"
	"github.com/ferrygitops/ferry/image"
	"github.com/ferrygitops/ferry/policy"
	"github.com/ferrygitops/ferry/updater"
)

// StatusHeld marks a reference Ferry will not bump because people rolled
// back an earlier bump of it: only a tag newer than the rolled-back one is
// proposed.
const StatusHeld updater.Status = "held"

// historyDepth is how many versions of a file the hold check reads.
const historyDepth = 50

// Hold is a rollback-aware hold on one reference, derived from git history.
type Hold struct {
	Policy    string `json:"policy"`
	File      string `json:"file"`
	Object    string `json:"object,omitempty"`
	FieldPath string `json:"fieldPath"`
	Tag       string `json:"tag"`    // the rolled-back tag: only newer ones are proposed
	Commit    string `json:"commit"` // the commit that rolled it back
	By        string `json:"by"`     // who rolled it back
}

// refKey identifies a reference across versions of its file.
type refKey struct{ policy, object, fieldPath string }

// botDetector tells Ferry's own commits from other people's.
type botDetector struct {
	email  string
	merged *regexp.Regexp
}

func newBotDetector(email, branchPrefix string) botDetector {
	return botDetector{
		email:  strings.ToLower(email),
		merged: regexp.MustCompile(`(?m)^Merge pull request #\d+ from \S+/` + regexp.QuoteMeta(branchPrefix)),
	}
}

// isBot reports whether a commit was made by Ferry: authored with its
// e-mail, carrying its trailer (squash merges keep it in the body), or a
// merge of one of its branches.
func (b botDetector) isBot(v gitrepo.FileVersion) bool {
	return strings.EqualFold(v.Author.Email, b.email) ||
		strings.Contains(v.Message, "\n"+trailerChangeset+":") ||
		b.merged.MatchString(v.Message)
}

// findHolds reads the history of every file with a planned update and
// returns the holds on its references: a bump by Ferry to tag T that
// someone else later changed back to an older value holds the reference at
// T. The rule needs no state but git history, so it survives restarts.
func findHolds(ctx context.Context, repo *gitrepo.Repo, decisions []updater.Decision, policies map[string]*policy.Policy, bot botDetector) ([]Hold, error) {
	files := map[string][]*policy.Policy{}
	for _, d := range decisions {
		if d.Status != updater.StatusUpdate {
			continue
		}
		if p := policies[d.Policy]; p != nil && !slices.Contains(files[d.File], p) {
			files[d.File] = append(files[d.File], p)
		}
	}
	var holds []Hold
	for _, file := range slices.Sorted(maps.Keys(files)) {
		versions, truncated, err := repo.FileHistory(ctx, file, historyDepth)
		if err != nil {
			return nil, fmt.Errorf("reading the history of %s: %w", file, err)
		}
		if truncated && len(versions) < historyDepth {
			if err := repo.Deepen(ctx, historyDepth*4); err != nil {
				return nil, fmt.Errorf("deepening the clone for the history of %s: %w", file, err)
			}
			if versions, _, err = repo.FileHistory(ctx, file, historyDepth); err != nil {
				return nil, fmt.Errorf("reading the history of %s: %w", file, err)
			}
		}
		h, err := holdsInHistory(ctx, file, versions, files[file], bot)
		if err != nil {
			return nil, err
		}
		holds = append(holds, h...)
	}
	return holds, nil
}

// holdsInHistory walks the versions of one file (newest first, as
// FileHistory gives them) from the oldest on.
func holdsInHistory(ctx context.Context, file string, versions []gitrepo.FileVersion, pols []*policy.Policy, bot botDetector) ([]Hold, error) {
	tmpDir, err := scratch.New("ferry-history-")
	if err != nil {
		return nil, err
	}
	defer tmpDir.Close()
	tmp := tmpDir.Path

	byName := map[string]*policy.Policy{}
	for _, p := range pols {
		byName[p.Name] = p
	}
	prev := map[refKey]string{}
	botSet := map[refKey]string{}
	held := map[refKey]Hold{}
	for i := len(versions) - 1; i >= 0; i-- {
		v := versions[i]
		if v.Deleted {
			clear(prev)
			continue
		}
		values, err := valuesAt(ctx, tmp, file, v.Content, pols)
		if err != nil {
			continue // a version that does not parse tells nothing
		}
		for k, tag := range values {
			old, seen := prev[k]
			prev[k] = tag
			if !seen || old == tag {
				continue
			}
			p := byName[k.policy]
			if bot.isBot(v) {
				botSet[k] = tag
				continue
			}
			t, ok := botSet[k]
			if !ok || p == nil {
				continue
			}
			// Someone else changed a value Ferry had set: a rollback when
			// the new value is older than Ferry's.
			if c, err := p.Compare(image.Tag{Name: tag}, image.Tag{Name: t}); err == nil && c < 0 {
				if h, ok := held[k]; !ok || newer(p, t, h.Tag) {
					held[k] = Hold{Policy: k.policy, File: file, Object: k.object, FieldPath: k.fieldPath,
						Tag: t, Commit: v.Commit.String(), By: v.Author.Name}
				}
			}
			delete(botSet, k)
		}
	}
	out := make([]Hold, 0, len(held))
	keys := slices.SortedFunc(maps.Keys(held), func(a, b refKey) int {
		return cmp.Or(cmp.Compare(a.policy, b.policy), cmp.Compare(a.object, b.object), cmp.Compare(a.fieldPath, b.fieldPath))
	})
	for _, k := range keys {
		out = append(out, held[k])
	}
	return out, nil
}

// valuesAt finds the tags of the references in one version of a file, by
// scanning it alone in a scratch directory with the same policies.
func valuesAt(ctx context.Context, tmp, file string, content []byte, pols []*policy.Policy) (map[refKey]string, error) {
	p := filepath.Join(tmp, filepath.FromSlash(file))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(p, content, 0o644); err != nil {
		return nil, err
	}
	defer os.Remove(p)
	res, err := updater.Scan(ctx, tmp, pols, updater.Options{})
	if err != nil {
		return nil, err
	}
	if len(res.Errors) > 0 {
		return nil, res.Errors[0].Err
	}
	out := map[refKey]string{}
	for _, r := range res.References {
		if r.File != file {
			continue
		}
		tag := r.Current
		switch r.Form {
		case updater.FormImage:
			_, tag, _ = image.Split(r.Current)
		case updater.FormTag:
		default:
			continue
		}
		if tag != "" {
			out[refKey{r.Policy, r.Object, r.FieldPath}] = tag
		}
	}
	return out, nil
}

// applyHolds marks as held the planned updates that a hold forbids: those
// whose wanted tag is not newer than the held tag.
func applyHolds(decisions []updater.Decision, holds []Hold, policies map[string]*policy.Policy) {
	byKey := map[string]Hold{}
	for _, h := range holds {
		byKey[h.File+"\x00"+h.Policy+"\x00"+h.Object+"\x00"+h.FieldPath] = h
	}
	for i := range decisions {
		d := &decisions[i]
		if d.Status != updater.StatusUpdate {
			continue
		}
		h, ok := byKey[d.File+"\x00"+d.Policy+"\x00"+d.Object+"\x00"+d.FieldPath]
		if !ok {
			continue
		}
		wanted := d.Wanted
		if d.Form == updater.FormImage {
			_, wanted, _ = image.Split(d.Wanted)
		}
		if p := policies[d.Policy]; p != nil && !newer(p, wanted, h.Tag) {
			d.Status = StatusHeld
			short := h.Commit
			if len(short) > 12 {
				short = short[:12]
			}
			d.Why = fmt.Sprintf("%s rolled back %s in %s; only a tag newer than %s will be proposed", h.By, h.Tag, short, h.Tag)
		}
	}
}

// newer reports whether tag a is newer than b under p's ordering.
func newer(p *policy.Policy, a, b string) bool {
	c, err := p.Compare(image.Tag{Name: a}, image.Tag{Name: b})
	return err == nil && c > 0
}

// TrailerChangeset is the commit trailer naming a change set: the hold
// check counts commits carrying it (or merges of branches under the
// Config's branch prefix) as Ferry's, so other write-backs (package
// promote) use it too.
const TrailerChangeset = trailerChangeset

// FindHolds returns the history-derived holds on the references that
// decisions plan to update (see findHolds): Ferry's commits are those
// authored with authorEmail, carrying TrailerChangeset, or merging a branch
// whose name starts with branchPrefix.
func FindHolds(ctx context.Context, repo *gitrepo.Repo, decisions []updater.Decision, pols []*policy.Policy, authorEmail, branchPrefix string) ([]Hold, error) {
	byName := make(map[string]*policy.Policy, len(pols))
	for _, p := range pols {
		byName[p.Name] = p
	}
	return findHolds(ctx, repo, decisions, byName, newBotDetector(authorEmail, branchPrefix))
}

// ApplyHolds marks as held (StatusHeld) the planned updates a hold forbids.
func ApplyHolds(decisions []updater.Decision, holds []Hold, pols []*policy.Policy) {
	byName := make(map[string]*policy.Policy, len(pols))
	for _, p := range pols {
		byName[p.Name] = p
	}
	applyHolds(decisions, holds, byName)
}
