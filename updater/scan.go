package updater

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	ignore "github.com/sabhiram/go-gitignore"

	"github.com/ferrygitops/ferry/document"
	"github.com/ferrygitops/ferry/image"
	"github.com/ferrygitops/ferry/policy"
)

// DefaultMaxFileSize is the largest file Scan reads unless Options say
// otherwise.
const DefaultMaxFileSize = 10 << 20

// ReasonSymlinkInside is the reason a symlink whose target is inside the
// repository is skipped: its target is read under its own path.
const ReasonSymlinkInside = "symlink inside the repository"

// IgnoreFile is the name of the ignore file read at the repository root.
const IgnoreFile = ".ferryignore"

// Error returns "FILE:LINE: MESSAGE (policies: A, B)".
func (e FileError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else {
		b.WriteString("cannot be read")
	}
	if len(e.Policies) > 0 {
		b.WriteString(" (blocks policies ")
		b.WriteString(strings.Join(e.Policies, ", "))
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e FileError) Unwrap() error { return e.Err }

// scanPolicy is a policy with what the scan needs of it.
type scanPolicy struct {
	p      *policy.Policy
	needle []byte
}

// job is one file to read.
type job struct {
	rel string // slash-separated, relative to the root
	abs string
}

// jobResult is what reading one file gave.
type jobResult struct {
	refs    []Reference
	markers []MarkerProblem
	skip    string // a Reason*, or ""
	ferr    *FileError
	parsed  bool
	bytes   int64
	skipped bool
}

type scanner struct {
	known   map[string]bool // every policy's name
	root    string          // absolute, symlinks resolved
	opts    Options
	pols    []scanPolicy
	ignore  *ignore.GitIgnore
	jobs    []job
	skipped []Skipped
	files   int
}

// Scan finds every reference to an image governed by policies in the
// manifest repository at root. See the package documentation for what is
// read. Files that cannot be parsed are reported in Result.Errors, not as an
// error; the error is for a root that cannot be walked or a cancelled ctx.
func Scan(ctx context.Context, root string, policies []*policy.Policy, opts Options) (*Result, error) {
	s, err := walk(ctx, root, opts)
	if err != nil {
		return nil, err
	}
	s.known = make(map[string]bool, len(policies))
	for _, p := range policies {
		if p == nil {
			continue
		}
		s.known[p.Name] = true
		sp := scanPolicy{p: p}
		if p.Image != "" {
			sp.needle = []byte(image.Needle(p.Image))
		}
		s.pols = append(s.pols, sp)
	}

	results := make([]jobResult, len(s.jobs))
	if err := s.read(ctx, results); err != nil {
		return nil, fmt.Errorf("scanning %s: %w", root, err)
	}
	res := &Result{Skipped: s.skipped, Files: s.files}
	for i, r := range results {
		res.Bytes += r.bytes
		if r.parsed {
			res.Parsed++
		}
		res.References = append(res.References, r.refs...)
		res.Markers = append(res.Markers, r.markers...)
		if r.ferr != nil {
			res.Errors = append(res.Errors, *r.ferr)
		}
		if r.skip != "" && (opts.Explain || alwaysListed(r.skip)) {
			res.Skipped = append(res.Skipped, Skipped{File: s.jobs[i].rel, Reason: r.skip})
		}
	}
	sortReferences(res.References)
	slices.SortStableFunc(res.Skipped, func(a, b Skipped) int { return strings.Compare(a.File, b.File) })
	slices.SortStableFunc(res.Errors, func(a, b FileError) int { return strings.Compare(a.File, b.File) })
	return res, nil
}

// realPath is root made absolute, with its symbolic links resolved.
func realPath(root string) (string, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}

// walk selects the files of the repository at root that a scan reads.
func walk(ctx context.Context, root string, opts Options) (*scanner, error) {
	if opts.MaxFileSize <= 0 {
		opts.MaxFileSize = DefaultMaxFileSize
	}
	real, err := realPath(root)
	if err != nil {
		return nil, fmt.Errorf("scanning %s: %w", root, err)
	}
	if fi, err := os.Stat(real); err != nil {
		return nil, fmt.Errorf("scanning %s: %w", root, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("scanning %s: not a directory", root)
	}
	s := &scanner{root: real, opts: opts}
	if data, err := os.ReadFile(filepath.Join(real, IgnoreFile)); err == nil {
		s.ignore = ignore.CompileIgnoreLines(strings.Split(string(data), "\n")...)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("scanning %s: reading %s: %w", root, IgnoreFile, err)
	}
	if err := filepath.WalkDir(real, func(p string, d fs.DirEntry, err error) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return s.visit(p, d, err)
	}); err != nil {
		return nil, fmt.Errorf("scanning %s: %w", root, err)
	}
	return s, nil
}

// FindFiles returns the manifest files of the repository at root whose
// bytes contain needle, in path order, chosen and read by the rules Scan
// reads files by (.ferryignore, .git and .ferry skipped, chart templates
// skipped, links never followed, opts.MaxFileSize): how Ferry finds Flux's
// image automation objects in a repository without .ferry. Names are
// slash-separated and relative to root.
func FindFiles(ctx context.Context, root string, needle []byte, opts Options) ([]document.File, error) {
	s, err := walk(ctx, root, opts)
	if err != nil {
		return nil, err
	}
	found := make([][]byte, len(s.jobs))
	err = parallel(ctx, len(s.jobs), func(i int, buf []byte) []byte {
		data, err := readFile(s.jobs[i].abs, s.opts.MaxFileSize, nil)
		if err == nil && bytes.Contains(data, needle) {
			found[i] = data
		}
		return buf
	})
	if err != nil {
		return nil, fmt.Errorf("scanning %s: %w", root, err)
	}
	var out []document.File
	for i, data := range found {
		if data != nil {
			out = append(out, document.File{Name: s.jobs[i].rel, Data: data})
		}
	}
	return out, nil
}

func sortReferences(refs []Reference) {
	slices.SortStableFunc(refs, func(a, b Reference) int {
		return cmp.Or(strings.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
}

// alwaysListed reports whether a skip reason is listed without Explain.
func alwaysListed(reason string) bool {
	switch reason {
	case ReasonIgnored, ReasonChartTemplate, ReasonTooLarge, ReasonSymlink:
		return true
	}
	return false
}

func (s *scanner) skip(file, reason string) {
	if s.opts.Explain || alwaysListed(reason) {
		s.skipped = append(s.skipped, Skipped{File: file, Reason: reason})
	}
}

// visit selects the files to read.
func (s *scanner) visit(p string, d fs.DirEntry, err error) error {
	rel, rerr := filepath.Rel(s.root, p)
	if rerr != nil {
		return rerr
	}
	rel = filepath.ToSlash(rel)
	if err != nil {
		if rel == "." {
			return err
		}
		return fmt.Errorf("reading %s: %w", rel, err)
	}
	if d.IsDir() {
		switch {
		case rel == ".":
			return nil
		case d.Name() == ".git", rel == ".ferry":
			if s.opts.Explain {
				s.skipped = append(s.skipped, Skipped{File: rel + "/", Reason: ReasonIgnored})
			}
			return filepath.SkipDir
		case s.ignore != nil && s.ignore.MatchesPath(rel+"/"):
			s.skip(rel+"/", ReasonIgnored)
			return filepath.SkipDir
		case d.Name() == "templates" && exists(filepath.Join(filepath.Dir(p), "Chart.yaml")):
			s.skip(rel+"/", ReasonChartTemplate)
			return filepath.SkipDir
		}
		return nil
	}
	s.files++
	if s.ignore != nil && s.ignore.MatchesPath(rel) {
		s.skip(rel, ReasonIgnored)
		return nil
	}
	if d.Type()&fs.ModeSymlink != 0 {
		target, err := filepath.EvalSymlinks(p)
		if err != nil || !within(s.root, target) {
			s.skip(rel, ReasonSymlink)
		} else {
			s.skip(rel, ReasonSymlinkInside)
		}
		return nil
	}
	if !d.Type().IsRegular() || !document.IsManifest(rel) {
		s.skip(rel, ReasonNotManifest)
		return nil
	}
	s.jobs = append(s.jobs, job{rel: rel, abs: p})
	return nil
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// within reports whether the cleaned absolute path p is root or below it.
func within(root, p string) bool {
	if p == root {
		return true
	}
	rel, err := filepath.Rel(root, p)
	return err == nil && filepath.IsLocal(rel)
}

// read reads and parses the selected files, in parallel.
func (s *scanner) read(ctx context.Context, results []jobResult) error {
	return parallel(ctx, len(s.jobs), func(i int, buf []byte) []byte {
		results[i], buf = s.file(s.jobs[i], buf)
		return buf
	})
}

// parallel calls fn for 0..n-1 on GOMAXPROCS workers, each with its own
// reusable buffer, until done or ctx is cancelled.
func parallel(ctx context.Context, n int, fn func(i int, buf []byte) []byte) error {
	workers := min(runtime.GOMAXPROCS(0), n)
	var next int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for {
				if ctx.Err() != nil {
					return
				}
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= n {
					return
				}
				buf = fn(i, buf)
			}
		}()
	}
	wg.Wait()
	return ctx.Err()
}

// file reads and scans one file; buf is a reusable read buffer.
func (s *scanner) file(j job, buf []byte) (jobResult, []byte) {
	var governing []scanPolicy
	for _, sp := range s.pols {
		if sp.p.Governs(j.rel) {
			governing = append(governing, sp)
		}
	}
	data, err := readFile(j.abs, s.opts.MaxFileSize, buf[:0])
	if data != nil {
		buf = data
	}
	switch {
	case errors.Is(err, errTooLarge):
		return jobResult{skip: ReasonTooLarge}, buf
	case errors.Is(err, errNotRegular):
		return jobResult{skip: ReasonNotManifest}, buf
	case err != nil:
		if len(governing) == 0 {
			return jobResult{skip: ReasonNoImage}, buf
		}
		ps := make([]*policy.Policy, len(governing))
		for i, sp := range governing {
			ps[i] = sp.p
		}
		return jobResult{ferr: &FileError{File: j.rel, Policies: names(ps), Err: fmt.Errorf("reading: %w", err)}}, buf
	}
	r := jobResult{bytes: int64(len(data))}
	sc := &fileScan{file: j.rel, data: data, kustomization: isKustomizationName(path.Base(j.rel))}
	for _, sp := range governing {
		if len(sp.needle) > 0 && bytes.Contains(data, sp.needle) {
			sc.pols = append(sc.pols, sp.p)
		}
	}
	hasMarker := bytes.Contains(data, markerKey)
	if len(sc.pols) == 0 && !hasMarker && !s.opts.ParseAll {
		r.skip = ReasonNoImage
		return r, buf
	}
	if hasMarker {
		sc.known = s.known
		sc.named = make(map[string]*policy.Policy, len(governing))
		for _, sp := range governing {
			if _, dup := sc.named[sp.p.Name]; !dup {
				sc.named[sp.p.Name] = sp.p
			}
		}
	}
	r.parsed = true
	err = sc.run()
	if err == nil {
		r.refs = sc.refs
		r.markers = sc.badMarkers
		if len(r.refs) == 0 && len(sc.pols) == 0 && !hasMarker {
			r.skip = ReasonNoImage
		}
		return r, buf
	}
	// The file does not parse: it is an error only for the policies whose
	// references it could hold.
	affected := slices.Clip(sc.pols)
	if hasMarker {
		for _, name := range markerNames(data) {
			if p := sc.named[name]; p != nil && !slices.Contains(affected, p) {
				affected = append(affected, p)
			}
		}
	}
	if len(affected) == 0 {
		r.skip = ReasonNoImage
		return r, buf
	}
	fe := &FileError{File: j.rel, Policies: names(affected), Err: err}
	var pe *parseError
	if errors.As(err, &pe) {
		fe.Line = pe.line
	}
	r.ferr = fe
	return r, buf
}

func names(ps []*policy.Policy) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.Name)
	}
	sort.Strings(out)
	return slices.Compact(out)
}

func isKustomizationName(base string) bool {
	switch base {
	case "kustomization.yaml", "kustomization.yml", "Kustomization":
		return true
	}
	return false
}

var (
	errTooLarge   = errors.New("file too large")
	errNotRegular = errors.New("not a regular file")
)
