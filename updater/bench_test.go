package updater

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ferrygitops/ferry/image"
)

// The benchmarks run on a synthetic repository of benchFiles manifest files
// of about 800 bytes each (a Deployment and a Service with comments), spread
// over 100 directories: in "all" every file names the governed image, in
// "onePercent" one file in a hundred does.

const benchFiles = 10000

const benchPolicy = `apiVersion: ferry.dev/v1alpha1
kind: ImagePolicy
metadata:
  name: app
spec:
  image: ghcr.io/acme/app
  policy:
    semver: {range: '>=1.0.0'}
`

func benchManifest(i int, governed bool) []byte {
	img := "ghcr.io/acme/billing:2.3." + strconv.Itoa(i%7)
	if governed {
		img = "ghcr.io/acme/app:1.0.0"
	}
	return fmt.Appendf(nil, `# Service %[1]d of the synthetic benchmark repository.
# Owned by team-%[2]d; see the runbook before changing the probes.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: svc-%[1]d
  namespace: team-%[2]d
  labels:
    app: svc-%[1]d
spec:
  replicas: 2
  selector:
    matchLabels:
      app: svc-%[1]d
  template:
    metadata:
      labels:
        app: svc-%[1]d
    spec:
      containers:
        - name: app
          image: %[3]s # pinned by the release pipeline
          ports:
            - containerPort: 8080
          readinessProbe:
            httpGet: {path: /healthz, port: 8080}
          resources:
            limits: {cpu: 500m, memory: 256Mi}
        - name: proxy
          image: envoyproxy/envoy:v1.29.1
---
apiVersion: v1
kind: Service
metadata:
  name: svc-%[1]d
  namespace: team-%[2]d
spec:
  selector:
    app: svc-%[1]d
  ports:
    - port: 80
      targetPort: 8080 # the app's port
`, i, i%100, img)
}

// genRepo writes the synthetic repository and returns its size in bytes.
func genRepo(tb testing.TB, dir string, every int) int64 {
	tb.Helper()
	var total int64
	for d := range 100 {
		if err := os.MkdirAll(filepath.Join(dir, "team-"+strconv.Itoa(d)), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	for i := range benchFiles {
		data := benchManifest(i, i%every == 0)
		p := filepath.Join(dir, "team-"+strconv.Itoa(i%100), "svc-"+strconv.Itoa(i)+".yaml")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			tb.Fatal(err)
		}
		total += int64(len(data))
	}
	return total
}

var benchRepos = map[string]struct {
	dir   string
	bytes int64
}{}

// benchRepo returns a generated repository, shared by the benchmarks of one
// run (its files are rewritten by each iteration to a newer tag).
func benchRepo(b *testing.B, name string, every int) (string, int64) {
	if r, ok := benchRepos[name]; ok {
		return r.dir, r.bytes
	}
	dir, err := os.MkdirTemp("", "ferry-bench-")
	if err != nil {
		b.Fatal(err)
	}
	n := genRepo(b, dir, every)
	benchRepos[name] = struct {
		dir   string
		bytes int64
	}{dir, n}
	return dir, n
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, r := range benchRepos {
		os.RemoveAll(r.dir)
	}
	os.Exit(code)
}

var benchTag = 0

func benchScanPlanApply(b *testing.B, every int, opts Options) {
	dir, size := benchRepo(b, "every"+strconv.Itoa(every), every)
	pols := parsePolicies(b, []byte(benchPolicy))
	ctx := context.Background()
	want := (benchFiles + every - 1) / every
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		benchTag++
		tag := "1.0." + strconv.Itoa(benchTag)
		targets := map[string]Target{"app": {Policy: pols[0], Tag: tag}}
		res, err := Scan(ctx, dir, pols, opts)
		if err != nil {
			b.Fatal(err)
		}
		changes := Changes(Plan(res, targets, false))
		written, err := Apply(ctx, dir, changes)
		if err != nil {
			b.Fatal(err)
		}
		if len(written) != want {
			b.Fatalf("wrote %d files, want %d", len(written), want)
		}
	}
}

// BenchmarkScanPlanApply is the whole update of the synthetic repository.
func BenchmarkScanPlanApply(b *testing.B) {
	b.Run("all", func(b *testing.B) { benchScanPlanApply(b, 1, Options{}) })
	b.Run("onePercent", func(b *testing.B) { benchScanPlanApply(b, 100, Options{}) })
	b.Run("onePercentParseAll", func(b *testing.B) { benchScanPlanApply(b, 100, Options{ParseAll: true}) })
}

// BenchmarkKyamlRoundTrip is the naive approach, for the ratio: every file
// parsed with kyaml, its governed container images set, and serialised back.
func BenchmarkKyamlRoundTrip(b *testing.B) {
	dir, size := benchRepo(b, "kyaml", 1)
	var files []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	})
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		benchTag++
		tag := "1.0." + strconv.Itoa(benchTag)
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				b.Fatal(err)
			}
			out, err := kyamlSetImage(data, "ghcr.io/acme/app", tag)
			if err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(f, out, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func kyamlSetImage(data []byte, repo, tag string) ([]byte, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, err
		}
		rn := yaml.NewRNode(&doc)
		containers, err := rn.Pipe(yaml.Lookup("spec", "template", "spec", "containers"))
		if err != nil {
			return nil, err
		}
		if containers != nil {
			err := containers.VisitElements(func(c *yaml.RNode) error {
				img, err := c.Pipe(yaml.Lookup("image"))
				if err != nil || img == nil {
					return err
				}
				ref, err := image.Parse(img.YNode().Value)
				if err == nil && ref.Repository == repo {
					name, _, _ := image.Split(img.YNode().Value)
					img.YNode().Value = name + ":" + tag
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
		if err := enc.Encode(&doc); err != nil {
			return nil, err
		}
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
