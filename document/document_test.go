package document

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Chunk
	}{
		{"one", "a: 1\n", []Chunk{{Data: []byte("a: 1\n"), Line: 1}}},
		{"markers and comments", "# head\n---\n# c\na: 1\n---\nb: 2\n...\n---\n\n", []Chunk{
			{Data: []byte("a: 1\n"), Line: 4}, {Data: []byte("b: 2\n"), Line: 6}}},
		{"flow on marker line", "a: 1\n--- {b: 2}\n", []Chunk{
			{Data: []byte("a: 1\n"), Line: 1}, {Data: []byte("--- {b: 2}\n"), Line: 2}}},
		{"marker with comment", "--- # x\na: 1\n", []Chunk{{Data: []byte("a: 1\n"), Line: 2}}},
		{"not a marker", "a: |\n  ---x\n----\n", []Chunk{{Data: []byte("a: |\n  ---x\n----\n"), Line: 1}}},
		{"bom and crlf", "\xef\xbb\xbf---\r\na: 1\r\n", []Chunk{{Data: []byte("a: 1\r\n"), Line: 2}}},
		{"empty", "\n# only\n---\n", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Split([]byte(tc.in))); diff != "" {
				t.Errorf("Split (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWalker reads a document through every helper and checks the
// problems' files, lines, fields and messages.
func TestWalker(t *testing.T) {
	src := `# comment
---
name: x
count: 3
ratio: 0.5
wait: 5m
flags: {a: true, b: "no"}
list: [a, 2, {x: 1}]
labels: {k: v, n: 1}
extra: 1
name: again
`
	var errs Errors
	var got struct {
		name  string
		count int64
		ratio float64
		wait  string
		a     bool
		list  []string
		label map[string]string
	}
	ReadFile("f.yaml", []byte(src), &errs, func(d *Doc) {
		fs := d.Fields(d.Root, "", "name", "count", "ratio", "wait", "flags", "list", "labels")
		got.name, _ = d.Str(fs["name"], "name")
		got.count, _ = d.Int(fs["count"], "count")
		got.ratio, _ = d.Float(fs["ratio"], "ratio")
		w, _ := d.Duration(fs["wait"], "wait")
		got.wait = w.String()
		flags := d.Fields(fs["flags"].Val, "flags", "a", "b")
		got.a = d.Bool(flags["a"], "flags.a")
		d.Bool(flags["b"], "flags.b")
		got.list, _ = d.StrList(fs["list"], "list")
		got.label = d.StrMap(fs["labels"], "labels")
		if d.Source() != (Source{File: "f.yaml", Line: 3}) {
			t.Errorf("Source = %v", d.Source())
		}
	})
	if got.name != "x" || got.count != 3 || got.ratio != 0.5 || got.wait != "5m0s" || !got.a ||
		!slicesEqual(got.list, []string{"a", "2"}) || got.label["k"] != "v" || got.label["n"] != "1" {
		t.Errorf("read %+v", got)
	}
	want := []string{
		`f.yaml:7: flags.b: must be true or false, got a string`,
		`f.yaml:8: list[2]: must be a string, got a mapping`,
		`f.yaml:10: extra: unknown field "extra" (allowed: name, count, ratio, wait, flags, list, labels)`,
		`f.yaml:11: name: duplicate field (first set at line 3)`,
	}
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	if diff := cmp.Diff(want, msgs); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

func slicesEqual(a, b []string) bool { return strings.Join(a, "\x00") == strings.Join(b, "\x00") }

func TestReadFileProblems(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a: [1\n", "f.yaml:1: invalid YAML: "},
		{"a: 1\n---\n- x\n", "f.yaml:3: a document must be a mapping, got a list"},
		{"a: &x 1\nb: *x\n", "f.yaml:2: YAML aliases (*x) are not allowed in Ferry's documents"},
		{"a: 1\n---\nb: 2\n  c: 3\n", "f.yaml:4: invalid YAML: "},
	}
	for _, tc := range tests {
		var errs Errors
		called := 0
		ReadFile("f.yaml", []byte(tc.in), &errs, func(*Doc) { called++ })
		if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), tc.want) {
			t.Errorf("ReadFile(%q) problems = %v, want %q...", tc.in, errs, tc.want)
		}
	}
}

func TestErrorsFormat(t *testing.T) {
	es := Errors{{File: "b", Line: 2, Msg: "y"}, {File: "a", Line: 9, Field: "f", Msg: "x"}, {File: "a", Msg: "whole file"}}
	es.Sort()
	want := "a: whole file\na:9: f: x\nb:2: y"
	if got := es.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var one *Error
	if !errors.As(es.Err(), &one) || one.Msg != "whole file" {
		t.Errorf("errors.As(*Error) = %v", one)
	}
	if Errors(nil).Err() != nil {
		t.Error("empty Errors.Err() is not nil")
	}
}

// TestReadDirRules: hidden entries are skipped, links inside the directory
// are read once (a ConfigMap mounted as a directory), links that leave it
// are errors naming them; on disk and in an fstest.MapFS alike.
func TestReadDirRules(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "secret.yaml")
	write(t, outside, "secret: 1\n")
	write(t, filepath.Join(dir, "a.yaml"), "a: 1\n")
	write(t, filepath.Join(dir, "sub/b.yml"), "b: 1\n")
	write(t, filepath.Join(dir, "notes.txt"), "x")
	write(t, filepath.Join(dir, ".hidden.yaml"), "h: 1\n")
	// The shape of a mounted ConfigMap: files link through ..data to a
	// hidden, timestamped directory.
	write(t, filepath.Join(dir, "..2026_12_04/c.yaml"), "c: 1\n")
	symlink(t, "..2026_12_04", filepath.Join(dir, "..data"))
	symlink(t, "..data/c.yaml", filepath.Join(dir, "c.yaml"))
	// A link to a file read anyway is skipped, not read twice.
	symlink(t, "a.yaml", filepath.Join(dir, "again.yaml"))

	files, err := ReadDir(os.DirFS(dir), ".")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, f.Name+"="+strings.TrimSpace(string(f.Data)))
	}
	want := []string{"a.yaml=a: 1", "c.yaml=c: 1", "sub/b.yml=b: 1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ReadDir (-want +got):\n%s", diff)
	}

	for name, target := range map[string]string{
		"out.yaml":      outside,
		"up.yaml":       "../" + filepath.Base(filepath.Dir(outside)) + "/secret.yaml",
		"dangling.yaml": "nope.yaml",
		"dirlink.yaml":  "sub",
	} {
		t.Run(name, func(t *testing.T) {
			link := filepath.Join(dir, name)
			symlink(t, target, link)
			defer os.Remove(link)
			_, err := ReadDir(os.DirFS(dir), ".")
			var es Errors
			if !errors.As(err, &es) || len(es) != 1 || es[0].File != name {
				t.Fatalf("ReadDir with %s -> %s: %v, want one problem naming it", name, target, err)
			}
		})
	}

	if _, err := ReadDir(os.DirFS(dir), "nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadDir(nope) = %v, want fs.ErrNotExist", err)
	}
	// An fs.FS without ReadLink: every link is an error.
	mfs := fstest.MapFS{"a.yaml": {Data: []byte("a: 1\n")}, "l.yaml": {Data: []byte("a.yaml"), Mode: fs.ModeSymlink}}
	if _, err := ReadDir(struct{ fs.FS }{mfs}, "."); err == nil {
		t.Error("ReadDir read a link of an fs.FS without ReadLink")
	}
}

func write(t *testing.T, name, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, name string) {
	t.Helper()
	if err := os.Symlink(target, name); err != nil {
		t.Skipf("symlinks: %v", err)
	}
}
