package render

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/Masterminds/semver/v3"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/repo"
	"sigs.k8s.io/yaml"

	"github.com/ferrygitops/ferry/gitrepo"
	"github.com/ferrygitops/ferry/image"
	"github.com/ferrygitops/ferry/registry"
)

// HelmChartLayer is the media type of a Helm chart's content in an OCI
// registry.
const HelmChartLayer = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"

// maxChartSize bounds a downloaded chart archive and a repository index.
const maxChartSize = 64 << 20

// Charts fetches the dependencies a chart declares in Chart.yaml and does
// not vendor under charts/: from OCI registries (oci://) through a
// registry.Client, so with the credentials, rate limits and retries of
// image listing, and from HTTP chart repositories (index.yaml) through the
// same Client's transport. A version range is resolved against the
// registry's tags or the repository's index on every render; an archive,
// once fetched, is kept in memory by repository, name and version. It is
// safe for concurrent use.
type Charts struct {
	reg  *registry.Client
	http *http.Client

	mu    sync.Mutex
	cache map[string][]byte
}

// NewCharts returns a Charts fetching through reg (nil: a registry.Client
// with the defaults: docker config credentials, loopback hosts over plain
// HTTP).
func NewCharts(reg *registry.Client) *Charts {
	if reg == nil {
		reg = registry.New(registry.Options{})
	}
	return &Charts{reg: reg, http: &http.Client{Transport: reg.Transport()}, cache: map[string][]byte{}}
}

var (
	defaultChartsOnce sync.Once
	defaultCharts     *Charts
)

// charts returns o.Charts, or a process-wide default.
func (o Options) charts() *Charts {
	if o.Charts != nil {
		return o.Charts
	}
	defaultChartsOnce.Do(func() { defaultCharts = NewCharts(nil) })
	return defaultCharts
}

// resolveDependencies adds to ch the dependencies of its Chart.yaml that
// charts/ does not hold: file:// ones from the repository, others fetched
// by c. Chart.lock's versions are used when it locks the dependency.
func resolveDependencies(ctx context.Context, ch *chart.Chart, fsys fs.FS, dir string, c *Charts) error {
	have := map[string]bool{}
	for _, d := range ch.Dependencies() {
		have[d.Name()] = true
	}
	locked := map[string]string{}
	if ch.Lock != nil {
		for _, d := range ch.Lock.Dependencies {
			locked[d.Name+"\x00"+d.Repository] = d.Version
		}
	}
	for _, dep := range ch.Metadata.Dependencies {
		if have[dep.Name] {
			continue
		}
		version := dep.Version
		if v, ok := locked[dep.Name+"\x00"+dep.Repository]; ok {
			version = v
		}
		var sub *chart.Chart
		var err error
		switch {
		case dep.Repository == "":
			return fmt.Errorf("dependency %s is not in charts/ and names no repository", dep.Name)
		case strings.HasPrefix(dep.Repository, "file://"):
			var p string
			if p, err = inRepo(dir, strings.TrimPrefix(dep.Repository, "file://")); err == nil {
				sub, err = loadChart(fsys, p)
			}
		default:
			var data []byte
			if data, err = c.fetch(ctx, dep.Repository, dep.Name, version); err == nil {
				sub, err = loader.LoadArchive(bytes.NewReader(data))
			}
		}
		if err != nil {
			return fmt.Errorf("dependency %s %s from %s: %w", dep.Name, version, gitrepo.StripUserinfo(dep.Repository), err)
		}
		if sub.Name() != dep.Name {
			return fmt.Errorf("dependency %s from %s: the chart fetched is named %s", dep.Name, gitrepo.StripUserinfo(dep.Repository), sub.Name())
		}
		ch.AddDependency(sub)
		have[dep.Name] = true
	}
	return nil
}

// fetch returns the archive of chart name at version (an exact version or
// a semver range) from repository (oci://HOST/PATH, or an HTTP chart
// repository's URL).
func (c *Charts) fetch(ctx context.Context, repository, chartName, version string) ([]byte, error) {
	if strings.HasPrefix(repository, "oci://") {
		return c.fetchOCI(ctx, strings.TrimSuffix(strings.TrimPrefix(repository, "oci://"), "/")+"/"+chartName, version)
	}
	if !strings.HasPrefix(repository, "https://") && !strings.HasPrefix(repository, "http://") {
		return nil, fmt.Errorf("unsupported repository %q: want oci://, https:// or file:// (repository aliases such as @name are not supported)", gitrepo.StripUserinfo(repository))
	}
	return c.fetchHTTP(ctx, strings.TrimSuffix(repository, "/"), chartName, version)
}

func (c *Charts) cached(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.cache[key]
	return b, ok
}

func (c *Charts) keep(key string, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cache[key] = b
}

// exactVersion reports whether v names one version rather than a range.
func exactVersion(v string) bool {
	_, err := semver.StrictNewVersion(strings.TrimPrefix(v, "v"))
	return err == nil
}

// fetchOCI pulls the chart repo:version; a range is resolved against the
// repository's tags (Helm writes + as _ in tags).
func (c *Charts) fetchOCI(ctx context.Context, repo, version string) ([]byte, error) {
	tag := strings.ReplaceAll(version, "+", "_")
	if !exactVersion(version) {
		cons, err := semver.NewConstraint(cmpOrStar(version))
		if err != nil {
			return nil, fmt.Errorf("invalid version %q: %w", version, err)
		}
		norm, err := image.NormalizeRepository(repo)
		if err != nil {
			return nil, err
		}
		tags, err := c.reg.ListTags(ctx, norm)
		if err != nil {
			return nil, err
		}
		var best *semver.Version
		for _, t := range tags {
			v, err := semver.NewVersion(strings.ReplaceAll(t.Name, "_", "+"))
			if err == nil && cons.Check(v) && (best == nil || v.GreaterThan(best)) {
				best, tag = v, t.Name
			}
		}
		if best == nil {
			return nil, fmt.Errorf("no tag of %s matches %q", repo, version)
		}
	}
	key := "oci://" + repo + ":" + tag
	if b, ok := c.cached(key); ok {
		return b, nil
	}
	ref, err := name.NewTag(repo + ":" + tag)
	if err != nil {
		return nil, err
	}
	img, err := remote.Image(ref, append(c.reg.RemoteOptions(), remote.WithContext(ctx))...)
	if err != nil {
		return nil, err
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	for _, l := range layers {
		mt, err := l.MediaType()
		if err != nil || string(mt) != HelmChartLayer {
			continue
		}
		rc, err := l.Compressed()
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(io.LimitReader(rc, maxChartSize+1))
		rc.Close()
		if err != nil {
			return nil, err
		}
		if len(b) > maxChartSize {
			return nil, fmt.Errorf("the chart is larger than %d bytes", maxChartSize)
		}
		c.keep(key, b)
		return b, nil
	}
	return nil, fmt.Errorf("%s is not a Helm chart (no layer of type %s)", ref, HelmChartLayer)
}

func cmpOrStar(v string) string {
	if v == "" {
		return "*"
	}
	return v
}

// fetchHTTP reads the repository's index.yaml, picks the newest version
// matching version and downloads it (a relative URL is relative to the
// repository).
func (c *Charts) fetchHTTP(ctx context.Context, repoURL, chartName, version string) ([]byte, error) {
	key := repoURL + "\x00" + chartName + "\x00" + version
	if exactVersion(version) {
		if b, ok := c.cached(key); ok {
			return b, nil
		}
	}
	data, err := c.get(ctx, repoURL+"/index.yaml")
	if err != nil {
		return nil, err
	}
	var idx repo.IndexFile
	if err := yaml.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("reading %s/index.yaml: %w", gitrepo.StripUserinfo(repoURL), err)
	}
	idx.SortEntries()
	cv, err := idx.Get(chartName, version)
	if err != nil || len(cv.URLs) == 0 {
		return nil, fmt.Errorf("%s/index.yaml lists no version of %s matching %q", gitrepo.StripUserinfo(repoURL), chartName, version)
	}
	exact := repoURL + "\x00" + chartName + "\x00" + cv.Version
	if b, ok := c.cached(exact); ok {
		return b, nil
	}
	base, err := url.Parse(repoURL + "/")
	if err != nil {
		return nil, err
	}
	u, err := base.Parse(cv.URLs[0])
	if err != nil {
		return nil, fmt.Errorf("%s/index.yaml: invalid URL %q for %s %s", gitrepo.StripUserinfo(repoURL), cv.URLs[0], chartName, cv.Version)
	}
	b, err := c.get(ctx, u.String())
	if err != nil {
		return nil, err
	}
	c.keep(exact, b)
	return b, nil
}

func (c *Charts) get(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", gitrepo.StripUserinfo(u), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching %s: %s", gitrepo.StripUserinfo(u), resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxChartSize+1))
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", gitrepo.StripUserinfo(u), err)
	}
	if len(b) > maxChartSize {
		return nil, fmt.Errorf("fetching %s: larger than %d bytes", gitrepo.StripUserinfo(u), maxChartSize)
	}
	return b, nil
}
