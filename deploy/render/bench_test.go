package render

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/ferrygitops/ferry/dotferry"
)

// BenchmarkRender4000 renders the shape of deploy's BenchmarkSync4000:
// 1,000 × (Deployment, Service, ConfigMap, ServiceAccount) in ten files.
func BenchmarkRender4000(b *testing.B) {
	fsys := fstest.MapFS{}
	for f := range 10 {
		var s strings.Builder
		for i := f * 100; i < (f+1)*100; i++ {
			fmt.Fprintf(&s, `---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: svc-%[1]d
spec:
  replicas: 1
  selector:
    matchLabels: {app: svc-%[1]d}
  template:
    metadata:
      labels: {app: svc-%[1]d}
    spec:
      containers:
      - name: app
        image: registry.example.com/app:1.0.0
---
apiVersion: v1
kind: Service
metadata: {name: svc-%[1]d}
spec:
  clusterIP: None
  selector: {app: svc-%[1]d}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: svc-%[1]d}
data: {LOG_LEVEL: info, FEATURE: svc-%[1]d}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: svc-%[1]d}
`, i)
		}
		fsys[fmt.Sprintf("app/part-%02d.yaml", f)] = &fstest.MapFile{Data: []byte(s.String())}
	}
	b.Run("parsed", func(b *testing.B) {
		for b.Loop() {
			r, err := Render(fsys, "app", Options{App: "bench", Namespace: "ns"})
			if err != nil || len(r.Manifests) != 4000 {
				b.Fatal(err, len(r.Manifests))
			}
		}
	})
	// The files parsed by an earlier render (ParseCache, as `ferry sync
	// --workdir` keeps it).
	b.Run("cached", func(b *testing.B) {
		c, err := NewParseCache(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Render(fsys, "app", Options{App: "bench", Namespace: "ns", ParseCache: c}); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			r, err := Render(fsys, "app", Options{App: "bench", Namespace: "ns", ParseCache: c})
			if err != nil || len(r.Manifests) != 4000 {
				b.Fatal(err, len(r.Manifests))
			}
		}
	})
}

// BenchmarkHelmChart200 renders a chart of 200 templates (a Deployment
// and a Service each, from shared helpers and values).
func BenchmarkHelmChart200(b *testing.B) {
	fsys := fstest.MapFS{
		"chart/Chart.yaml":  {Data: []byte("apiVersion: v2\nname: big\nversion: 1.0.0\n")},
		"chart/values.yaml": {Data: []byte("image: {repository: registry.example.com/app, tag: 1.0.0}\nreplicas: 2\n")},
		"chart/templates/_helpers.tpl": {Data: []byte(`{{- define "big.labels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/name: {{ .name }}
{{- end -}}
`)},
	}
	for i := range 200 {
		fsys[fmt.Sprintf("chart/templates/svc-%03d.yaml", i)] = &fstest.MapFile{Data: []byte(fmt.Sprintf(`{{- $name := "svc-%[1]d" }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  labels:
    {{- include "big.labels" (dict "Release" .Release "name" $name) | nindent 4 }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels:
      {{- include "big.labels" (dict "Release" .Release "name" $name) | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "big.labels" (dict "Release" .Release "name" $name) | nindent 8 }}
    spec:
      containers:
        - name: app
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $name }}
spec:
  selector:
    {{- include "big.labels" (dict "Release" .Release "name" $name) | nindent 4 }}
  ports: [{port: 80}]
`, i))}
	}
	for b.Loop() {
		r, err := Render(fsys, "chart", Options{App: "bench", Namespace: "ns"})
		if err != nil || len(r.Manifests) != 400 {
			b.Fatal(err, len(r.Manifests))
		}
	}
}

// BenchmarkJsonnet1000 evaluates a jsonnet program of 1,000 objects
// (ConfigMaps and Services from a library function).
func BenchmarkJsonnet1000(b *testing.B) {
	fsys := fstest.MapFS{
		"lib/k.libsonnet": {Data: []byte(`{
  cm(name, i):: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: name, labels: { app: name } }, data: { index: std.toString(i), env: std.extVar('env') } },
  svc(name):: { apiVersion: 'v1', kind: 'Service', metadata: { name: name }, spec: { selector: { app: name }, ports: [{ port: 80 }] } },
}
`)},
		"app/main.jsonnet": {Data: []byte(`local k = import 'k.libsonnet';
function(count=500) std.flattenArrays([
  [k.cm('app-' + i, i), k.svc('app-' + i)]
  for i in std.range(1, count)
])
`)},
	}
	js := &dotferry.Jsonnet{Libs: []string{"lib"}, ExtVars: []dotferry.JsonnetVar{{Name: "env", Value: "prod"}}}
	for b.Loop() {
		r, err := Render(fsys, "app", Options{App: "bench", Namespace: "ns", Jsonnet: js})
		if err != nil || len(r.Manifests) != 1000 {
			b.Fatal(err, len(r.Manifests))
		}
	}
}
