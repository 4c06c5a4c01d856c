package updater

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pmezard/go-difflib/difflib"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// batchSync is the number of files from which Apply makes the new files
// durable with one filesystem sync rather than one fsync each, where the
// platform allows it.
const batchSync = 8

// edit is the new content of one file.
type edit struct {
	file    string // slash-separated, relative to the root
	path    string // absolute, directory symlinks resolved
	mode    fs.FileMode
	modTime time.Time
	old     []byte
	new     []byte
	temp    string // the new content, staged beside path
	batched bool   // temp was not synced: one filesystem sync covers all
}

// Apply writes the changes into the repository at root and returns the
// slash-separated paths of the files it wrote, sorted. It writes all of them
// or none: every file is read again, every change's bytes must still be what
// the scan saw (else the file changed since the scan and nothing is
// written), and every new content must parse and read back the new values
// before the first file is replaced. Files are replaced atomically with
// their mode kept; if replacing one fails, those already replaced are
// restored. Paths must stay inside root.
func Apply(ctx context.Context, root string, changes []Change) ([]string, error) {
	edits, err := prepare(ctx, root, changes, true)
	if err != nil {
		return nil, err
	}
	return commit(ctx, edits)
}

// Diff returns the unified diff (a/ and b/ prefixes, 3 lines of context) of
// what Apply would write, files in sorted order, without writing anything.
func Diff(root string, changes []Change) (string, error) {
	edits, err := prepare(context.Background(), root, changes, false)
	if err != nil {
		return "", err
	}
	return diffEdits(edits)
}

// diffEdits is the unified diff of edits, in order.
func diffEdits(edits []*edit) (string, error) {
	var b strings.Builder
	for _, e := range edits {
		d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
			A:        diffLines(e.old),
			B:        diffLines(e.new),
			FromFile: "a/" + e.file,
			ToFile:   "b/" + e.file,
			Context:  3,
		})
		if err != nil {
			return "", fmt.Errorf("diffing %s: %w", e.file, err)
		}
		b.WriteString(d)
	}
	return b.String(), nil
}

// diffLines splits data into lines for difflib, marking a last line
// without a line break the way git does.
func diffLines(data []byte) []string {
	lines := strings.SplitAfter(string(data), "\n")
	if last := len(lines) - 1; lines[last] == "" {
		lines = lines[:last]
	} else {
		lines[last] += "\n\\ No newline at end of file\n"
	}
	return lines
}

// prepare computes the new content of every file the changes touch, and
// checks it. With stage, it also writes each new content to a temporary
// file beside the original (edit.temp), in parallel with the next files'
// checks; on error, no temporary file is left.
func prepare(ctx context.Context, root string, changes []Change, stage bool) ([]*edit, error) {
	byFile := make(map[string][]Change)
	for _, c := range changes {
		byFile[c.File] = append(byFile[c.File], c)
	}
	return prepareFiles(ctx, root, slices.Collect(maps.Keys(byFile)), stage, func(file, p string) (*edit, error) {
		return editFile(file, p, byFile[file])
	})
}

// prepareFiles confines every file to root, then has build compute each
// one's new content (in parallel) and, with stage, writes it to a
// temporary file beside the original. On error, no temporary file is left.
func prepareFiles(ctx context.Context, root string, files []string, stage bool, build func(file, path string) (*edit, error)) ([]*edit, error) {
	real, err := realPath(root)
	if err != nil {
		return nil, fmt.Errorf("applying changes to %s: %w", root, err)
	}
	files = slices.Clone(files)
	slices.Sort(files)
	// Confine every path before reading any file.
	paths := make([]string, len(files))
	dirs := make(map[string]string)
	seen := make(map[string]string)
	for i, f := range files {
		if paths[i], err = confine(real, f, dirs); err != nil {
			return nil, fmt.Errorf("applying changes to %s: %w", f, err)
		}
		if other, dup := seen[paths[i]]; dup {
			return nil, fmt.Errorf("applying changes to %s: the same file as %s", f, other)
		}
		seen[paths[i]] = f
	}
	batched := canSyncFS && len(files) >= batchSync
	edits := make([]*edit, len(files))
	errs := make([]error, len(files))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0)+2, len(files)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(files) || ctx.Err() != nil {
					return
				}
				e, err := build(files[i], paths[i])
				if err == nil && e != nil && stage {
					e.batched = batched
					if e.temp, err = writeTemp(e.path, e.new, e.mode, !batched); err != nil {
						err = fmt.Errorf("applying changes to %s: %w", e.file, err)
					}
				}
				edits[i], errs[i] = e, err
			}
		}()
	}
	wg.Wait()
	err = ctx.Err()
	if err != nil {
		err = fmt.Errorf("applying changes: %w", err)
	}
	for _, e := range errs {
		if e != nil && err == nil {
			err = e
		}
	}
	out := edits[:0]
	for _, e := range edits {
		if e != nil {
			out = append(out, e)
		}
	}
	if err != nil {
		removeTemps(out)
		return nil, err
	}
	return out, nil
}

func removeTemps(edits []*edit) {
	for _, e := range edits {
		if e.temp != "" {
			os.Remove(e.temp)
			e.temp = ""
		}
	}
}

// confine returns the path to write for the slash-separated file, which must
// be a regular file inside root once directory symlinks are resolved.
func confine(root, file string, dirs map[string]string) (string, error) {
	if file == "" {
		return "", errors.New("empty path")
	}
	if path.IsAbs(file) || filepath.IsAbs(file) || filepath.VolumeName(file) != "" || strings.Contains(file, `\`) {
		return "", errors.New("path is not relative to the repository")
	}
	for _, seg := range strings.Split(file, "/") {
		if seg == ".." {
			return "", errors.New("path leaves the repository")
		}
	}
	clean := path.Clean(file)
	if clean == "." || !filepath.IsLocal(filepath.FromSlash(clean)) {
		return "", errors.New("path leaves the repository")
	}
	p := filepath.Join(root, filepath.FromSlash(clean))
	dir, ok := dirs[filepath.Dir(p)]
	if !ok {
		real, err := filepath.EvalSymlinks(filepath.Dir(p))
		if err != nil {
			return "", err
		}
		if !within(root, real) {
			return "", errors.New("path leaves the repository through a symlink")
		}
		dirs[filepath.Dir(p)] = real
		dir = real
	}
	return filepath.Join(dir, filepath.Base(p)), nil
}

// placed is one change located in a file.
type placed struct {
	c     *Change
	sp    span
	quote byte
	text  string // what is written in place of the span
	shift int    // offset of the value inside text (1 when quotes are added)
}

// readForEdit reads the regular file at p (never through a symlink) for
// an edit, keeping its mode and modification time.
func readForEdit(file, p string) (*edit, error) {
	f, fi, err := openRegular(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	old, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	return &edit{file: file, path: p, mode: fi.Mode(), modTime: fi.ModTime(), old: old}, nil
}

// openRegular opens the regular file p for reading, never through a
// symlink (errNotRegular when p is not a regular file), with its stat.
func openRegular(p string) (*os.File, fs.FileInfo, error) {
	f, err := openNoFollow(p)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, errNotRegular
	}
	return f, fi, nil
}

func editFile(file, p string, changes []Change) (*edit, error) {
	e, err := readForEdit(file, p)
	if err != nil {
		return nil, fmt.Errorf("applying changes to %s: %w", file, err)
	}
	old := e.old
	var lc *locator
	ps := make([]placed, 0, len(changes))
	for i := range changes {
		c := &changes[i]
		fail := func(format string, args ...any) error {
			return fmt.Errorf("applying changes to %s: %s", where(file, c.Line), fmt.Sprintf(format, args...))
		}
		if c.bad != "" {
			return nil, fail("cannot rewrite %s", c.bad)
		}
		pl := placed{c: c, sp: c.span, quote: c.quote}
		if pl.sp == (span{}) {
			// A change that did not come from this process's Scan: find
			// the value from its line and column.
			if lc == nil {
				lc = newLocator(old)
			}
			off, ok := lc.offset(c.Line, c.Column)
			if !ok {
				return nil, fail("line %d column %d is not in the file: the file changed since the scan", c.Line, c.Column)
			}
			pl.sp = span{off, off + len(c.From)}
			pl.quote = 0
			if q := byteAt(old, off-1); (q == '"' || q == '\'') && byteAt(old, pl.sp.end) == q {
				pl.quote = q
			}
		}
		if pl.sp.start < 0 || pl.sp.end > len(old) || pl.sp.start > pl.sp.end || string(old[pl.sp.start:pl.sp.end]) != c.From {
			return nil, fail("the value at column %d is not what the scan found: the file changed since the scan", c.Column)
		}
		if pl.text, pl.shift, err = encode(c.To, pl.quote); err != nil {
			return nil, fail("%v", err)
		}
		ps = append(ps, pl)
	}
	slices.SortFunc(ps, func(a, b placed) int { return a.sp.start - b.sp.start })
	out := ps[:0]
	for _, pl := range ps {
		if n := len(out); n > 0 {
			prev := out[n-1]
			if prev.sp == pl.sp {
				if prev.text == pl.text {
					continue
				}
				return nil, fmt.Errorf("applying changes to %s: two changes disagree on the value at line %d column %d", file, pl.c.Line, pl.c.Column)
			}
			if prev.sp.end > pl.sp.start {
				return nil, fmt.Errorf("applying changes to %s: changes at line %d and line %d overlap", file, prev.c.Line, pl.c.Line)
			}
		}
		out = append(out, pl)
	}
	ps = out

	size := len(old)
	for _, pl := range ps {
		size += len(pl.text) - (pl.sp.end - pl.sp.start)
	}
	buf := make([]byte, 0, size)
	want := make(map[int]string, len(ps))
	last := 0
	for _, pl := range ps {
		buf = append(buf, old[last:pl.sp.start]...)
		want[len(buf)+pl.shift] = pl.c.To
		buf = append(buf, pl.text...)
		last = pl.sp.end
	}
	buf = append(buf, old[last:]...)
	if bytes.Equal(buf, old) {
		return nil, nil
	}
	safe := true
	for _, pl := range ps {
		safe = safe && structurallySafe(pl.c.To)
	}
	if !safe {
		if err := readsBack(buf, want); err != nil {
			return nil, fmt.Errorf("applying changes to %s: %w", file, err)
		}
	}
	e.new = buf
	return e, nil
}

func byteAt(b []byte, i int) byte {
	if i < 0 || i >= len(b) {
		return 0
	}
	return b[i]
}

// structurallySafe reports whether splicing s into a scalar (encoded for
// the scalar's style, which quotes a plain value YAML would read as a
// number, boolean or null) cannot change the document's structure: s is
// made only of the characters of image references, starts and ends with a
// letter or digit. Every tag, digest and image reference is. For such
// values Apply skips parsing the rewritten file again, which is otherwise
// most of its cost; any other value is parsed and read back.
func structurallySafe(s string) bool {
	if s == "" {
		return false
	}
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }
	if !alnum(s[0]) || !alnum(s[len(s)-1]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !alnum(c) && c != '.' && c != '_' && c != '-' && c != ':' && c != '/' && c != '@' && c != '+' {
			return false
		}
	}
	return true
}

// readsBack parses data and checks that a scalar whose value starts at each
// offset of want holds the wanted value.
func readsBack(data []byte, want map[int]string) error {
	lc := newLocator(data)
	byLine := make(map[int]bool, len(want))
	for off := range want {
		byLine[lc.lines.lineOf(off)] = true
	}
	nodes, err := scalarNodes(data)
	if err != nil {
		return fmt.Errorf("the rewritten file does not parse: %w", err)
	}
	found := 0
	for _, n := range nodes {
		if byLine[n.Line] || byLine[n.Line+1] {
			if loc := locate(lc, n); loc.bad == "" {
				if v, ok := want[loc.span.start]; ok && v == n.Value {
					found++
				}
			}
		}
	}
	if found != len(want) {
		return errors.New("a rewritten value does not read back as written")
	}
	return nil
}

// scalarNodes returns the scalar nodes of every YAML document of data, in
// order.
func scalarNodes(data []byte) ([]*yaml.Node, error) {
	var out []*yaml.Node
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode {
			out = append(out, n)
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		walk(&doc)
	}
}

// commit renames each staged temporary file over its original, after
// making them durable, and restores the originals if a rename fails.
func commit(ctx context.Context, edits []*edit) ([]string, error) {
	if len(edits) == 0 {
		return nil, nil
	}
	batched := edits[0].batched
	if batched {
		if err := syncFS(filepath.Dir(edits[0].path)); err != nil {
			removeTemps(edits)
			return nil, fmt.Errorf("applying changes: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		removeTemps(edits)
		return nil, fmt.Errorf("applying changes: %w", err)
	}
	for i, e := range edits {
		err := unchanged(e)
		if err == nil && testHookRename != nil {
			err = testHookRename(e.file)
		}
		if err == nil {
			err = os.Rename(e.temp, e.path)
		}
		if err != nil {
			removeTemps(edits[i:])
			var failed []string
			for _, done := range edits[:i] {
				t, rerr := writeTemp(done.path, done.old, done.mode, true)
				if rerr == nil {
					rerr = os.Rename(t, done.path)
				}
				if rerr != nil {
					os.Remove(t)
					failed = append(failed, done.file)
				}
			}
			if len(failed) > 0 {
				return nil, fmt.Errorf("applying changes to %s: %w; restoring %s failed", e.file, err, strings.Join(failed, ", "))
			}
			return nil, fmt.Errorf("applying changes to %s: %w (the files written before it were restored)", e.file, err)
		}
		e.temp = ""
	}
	written := make([]string, len(edits))
	for i, e := range edits {
		written[i] = e.file
	}
	if batched {
		if err := syncFS(filepath.Dir(edits[0].path)); err != nil {
			return written, fmt.Errorf("applying changes: %w", err)
		}
		return written, nil
	}
	dirs := make(map[string]bool)
	for _, e := range edits {
		if d := filepath.Dir(e.path); !dirs[d] {
			dirs[d] = true
			if err := syncDir(d); err != nil {
				return written, fmt.Errorf("applying changes to %s: %w", e.file, err)
			}
		}
	}
	return written, nil
}

// testHookRename, when set by a test, runs before each rename and can fail
// it.
var testHookRename func(file string) error

// unchanged checks that the file was not changed since it was read.
func unchanged(e *edit) error {
	fi, err := os.Lstat(e.path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() || fi.Size() != int64(len(e.old)) || !fi.ModTime().Equal(e.modTime) {
		return errors.New("the file changed while the changes were applied")
	}
	return nil
}

// writeTemp writes data to a new temporary file beside target, with mode,
// and returns its name.
func writeTemp(target string, data []byte, mode fs.FileMode, sync bool) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".ferry-*")
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky))
	}
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	return nil
}
