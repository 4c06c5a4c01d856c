package render

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
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
	for b.Loop() {
		r, err := Render(fsys, "app", Options{App: "bench", Namespace: "ns"})
		if err != nil || len(r.Manifests) != 4000 {
			b.Fatal(err, len(r.Manifests))
		}
	}
}
