package migrate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ferrygitops/ferry/document"
	"github.com/ferrygitops/ferry/dotferry"
	"github.com/ferrygitops/ferry/updater"
)

// ImportedFile is where Import writes the converted policies, in .ferry/.
const ImportedFile = "argocd-image-updater.yaml"

// ImportResult is what Import wrote, or would write (DryRun).
type ImportResult struct {
	DryRun  bool     `json:"dryRun"`
	Plan    *Plan    `json:"plan"`
	Written []string `json:"written"`
	Diff    string   `json:"diff,omitempty"`
}

// ExistsError is a policies file already in the repository that differs
// from the one an import would write.
type ExistsError struct{ Path string }

func (e *ExistsError) Error() string {
	return fmt.Sprintf("%s exists and differs from this import: remove it (or import into a clean checkout) to convert again", e.Path)
}

// Import writes plan into the repository's working tree repo: the
// policies file, then the markers (if the markers cannot be written, a
// policies file it created is removed again). A mark that cannot be
// written (a flow mapping, a line with another comment) moves to
// plan.Unmapped first. With dryRun it writes nothing and gives the diff.
func Import(ctx context.Context, repo string, plan *Plan, dryRun bool) (*ImportResult, error) {
	plan.CheckMarks(func(m updater.Mark) error {
		_, _, err := updater.AddMarkers(ctx, repo, []updater.Mark{m}, true)
		var me *updater.MarkError
		if errors.As(err, &me) {
			return me.Err
		}
		return err
	})
	res := &ImportResult{DryRun: dryRun, Plan: plan, Written: []string{}}
	if len(plan.Policies) == 0 {
		return res, nil
	}
	written, diff, err := write(ctx, repo, plan, dryRun)
	if err != nil {
		return nil, err
	}
	res.Written, res.Diff = append(res.Written, written...), diff
	return res, nil
}

// write writes the policies file, then the markers.
func write(ctx context.Context, repo string, plan *Plan, dryRun bool) ([]string, string, error) {
	data := plan.YAML()
	rel := filepath.ToSlash(filepath.Join(dotferry.Dir, ImportedFile))
	if _, err := dotferry.Parse(rel, data); err != nil {
		return nil, "", fmt.Errorf("the converted policies do not read back (a Ferry bug; please report it): %w", err)
	}
	target := filepath.Join(repo, dotferry.Dir, ImportedFile)
	old, err := os.ReadFile(target)
	existed := err == nil
	switch {
	case existed && !bytes.Equal(old, data):
		return nil, "", &ExistsError{Path: target}
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, "", err
	}
	if dryRun {
		_, diff, err := updater.AddMarkers(ctx, repo, plan.Marks, true)
		if err != nil {
			return nil, "", err
		}
		return nil, "--- /dev/null\n+++ b/" + rel + "\n" + addLines(data) + diff, nil
	}
	var written []string
	if !existed {
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return nil, "", err
		}
		if err := atomicCreate(target, data); err != nil {
			return nil, "", err
		}
		written = append(written, rel)
	}
	marked, _, err := updater.AddMarkers(ctx, repo, plan.Marks, false)
	if err != nil {
		if !existed {
			os.Remove(target)
		}
		return nil, "", err
	}
	return append(written, marked...), "", nil
}

// atomicCreate writes a new file that must not exist yet, atomically.
func atomicCreate(target string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".ferry-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// Link fails if the target appeared meanwhile: never overwrite.
		err = os.Link(f.Name(), target)
	}
	os.Remove(f.Name())
	return err
}

// addLines prefixes every line of data with + (a new file's diff).
func addLines(data []byte) string {
	var b bytes.Buffer
	for _, l := range bytes.SplitAfter(data, []byte("\n")) {
		if len(l) > 0 {
			b.WriteString("+")
			b.Write(l)
		}
	}
	return b.String()
}

// ReadFiles reads the files named, or, with none, every file of the
// repository that mentions Argo CD Image Updater's API group. A repository
// that is not a directory, a file that cannot be read, and no configuration
// at all are each a *document.NotFoundError.
func ReadFiles(ctx context.Context, repo string, names []string) ([]document.File, error) {
	if info, err := os.Stat(repo); err != nil || !info.IsDir() {
		if err == nil {
			err = errors.New("not a directory")
		}
		return nil, &document.NotFoundError{What: "repository", Path: repo, Err: err}
	}
	var files []document.File
	if len(names) == 0 {
		var err error
		if files, err = updater.FindFiles(ctx, repo, []byte(ArgoGroup), updater.Options{}); err != nil {
			return nil, err
		}
	}
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			return nil, &document.NotFoundError{What: "file", Path: n, Err: err}
		}
		files = append(files, document.File{Name: n, Data: data})
	}
	if len(files) == 0 {
		return nil, &document.NotFoundError{What: "Argo CD Image Updater configuration in", Path: repo, Err: fmt.Errorf("no file mentions %s", ArgoGroup)}
	}
	return files, nil
}
