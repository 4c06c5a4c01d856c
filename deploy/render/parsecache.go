package render

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	utiljson "k8s.io/apimachinery/pkg/util/json"

	"github.com/ferrygitops/ferry/internal/atomicfile"
)

// ParseCache keeps parsed manifest files on disk, keyed by file name and
// content: a render of files unchanged since an earlier one reads their
// objects as JSON instead of parsing YAML again, which is most of an
// unchanged render's time (BenchmarkRender4000/cached). A file an fs.FS
// decrypted (one with Decrypted() []string, as sops.FS) is never written
// to it. Entries unused for ParseCacheTTL are removed when a ParseCache is
// made. Methods are safe for concurrent use; a cache that cannot be read
// or written only costs time.
type ParseCache struct {
	dir string
}

// ParseCacheTTL is how long an unused entry stays.
const ParseCacheTTL = 7 * 24 * time.Hour

// parseCacheFormat is part of every key: a change of parser or format
// starts afresh.
const parseCacheFormat = "ferry-parse-1"

// NewParseCache returns the cache in dir (made, mode 0700, if missing)
// and removes its entries unused for ParseCacheTTL.
func NewParseCache(dir string) (*ParseCache, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	c := &ParseCache{dir: dir}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > ParseCacheTTL {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	return c, nil
}

type cachedObject struct {
	Source string         `json:"source"`
	Object map[string]any `json:"object"`
}

func (c *ParseCache) path(name string, data []byte) string {
	h := sha256.New()
	h.Write([]byte(parseCacheFormat + "\x00" + name + "\x00"))
	h.Write(data)
	return filepath.Join(c.dir, hex.EncodeToString(h.Sum(nil))+".json")
}

// parse is parseManifests of f, through the cache.
func (c *ParseCache) parse(f File) ([]rawObject, error) {
	p := c.path(f.Name, f.Data)
	if b, err := os.ReadFile(p); err == nil {
		var objs []cachedObject
		if utiljson.Unmarshal(b, &objs) == nil {
			now := time.Now()
			_ = os.Chtimes(p, now, now) // in use: kept
			out := make([]rawObject, len(objs))
			for i, o := range objs {
				out[i] = rawObject{obj: o.Object, source: o.Source}
			}
			return out, nil
		}
	}
	raws, err := parseManifests(f.Name, f.Data)
	if err != nil {
		return nil, err
	}
	objs := make([]cachedObject, len(raws))
	for i, r := range raws {
		objs[i] = cachedObject{Source: r.source, Object: r.obj}
	}
	if b, err := json.Marshal(objs); err == nil {
		_ = atomicfile.Write(p, b, 0o600) // unwritten: the next render parses again
	}
	return raws, nil
}

// decrypted returns the files fsys decrypted so far, if it says.
func decrypted(fsys any) map[string]bool {
	d, ok := fsys.(interface{ Decrypted() []string })
	if !ok {
		return nil
	}
	out := map[string]bool{}
	for _, n := range d.Decrypted() {
		out[n] = true
	}
	return out
}
