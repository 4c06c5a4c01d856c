// Command benchsync times `ferry sync` against `kubectl apply
// --server-side` of the same directory, and against cli-utils' applier
// (hack/benchsync/cliutils) when -cliutils is given, on the same real
// kube-apiserver, in one run: 1,000 × (Deployment, Service, ConfigMap, ServiceAccount),
// applied from nothing, re-applied with nothing to do, and re-applied
// after a one-image change. hack/bench-sync.sh builds both binaries and
// runs it; see BENCHMARKS.md.
//
//	go run ./hack/benchsync -ferry bin/ferry -kubectl KUBECTL [-cliutils BIN] [-groups 1000] [-runs 1] [-- ferry sync flags]
//
// Each tool gets its own namespace, each with a stand-in deployment
// controller (kube.FakeDeploymentController: no kubelet runs) so that
// Ferry's health wait and cli-utils' reconcile wait end as they would
// on a cluster; kubectl does not wait. The API server is the one the tests start (hack/testbin.sh).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ferrygitops/ferry/internal/testenv"
	"github.com/ferrygitops/ferry/internal/testenv/kube"
)

func main() {
	ferry := flag.String("ferry", "bin/ferry", "the ferry binary")
	kubectl := flag.String("kubectl", "", "the kubectl binary")
	cliutils := flag.String("cliutils", "", "the hack/benchsync/cliutils binary (cli-utils' applier); none: no such column")
	groups := flag.Int("groups", 1000, "groups of Deployment, Service, ConfigMap and ServiceAccount")
	runs := flag.Int("runs", 1, "runs of the whole comparison, each on fresh namespaces")
	flag.StringVar(profile, "profile", "", "directory for a CPU profile of each ferry sync (ferry --profile cpu)")
	flag.BoolVar(verbose, "v", false, "print what the commands print (with -- --log-level debug: Ferry's steps)")
	flag.Parse()
	if err := run(*ferry, *kubectl, *cliutils, *groups, *runs, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "benchsync:", err)
		os.Exit(1)
	}
}

func run(ferry, kubectl, cliutils string, groups, runs int, ferryArgs []string) error {
	if kubectl == "" {
		return fmt.Errorf("-kubectl is required")
	}
	if !kube.Available() {
		return fmt.Errorf("no kube-apiserver in %s: run hack/testbin.sh", kube.BinDir())
	}
	work, err := os.MkdirTemp("", "ferry-benchsync-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	tb := testenv.NewStandalone(work)
	defer tb.Close()
	var c *kube.Cluster
	if err := tb.Run(func() { c = kube.Start(tb) }); err != nil {
		return fmt.Errorf("starting the API server: %w", err)
	}
	fmt.Printf("kube-apiserver %s at %s; %d objects; %s %s\n\n", kube.KubernetesVersion, c.URL, 4*groups, version(kubectl, "version", "--client"), version(ferry, "version"))

	type row struct {
		name              string
		ferry, cu, kubect cost
	}
	var rows []row
	for r := 0; r < runs; r++ {
		var fns, kns, cns string
		if err := tb.Run(func() {
			fns, kns, cns = c.Namespace(tb), c.Namespace(tb), c.Namespace(tb)
			kube.FakeDeploymentController(tb, c.Config(), fns)
			kube.FakeDeploymentController(tb, c.Config(), kns)
			kube.FakeDeploymentController(tb, c.Config(), cns)
		}); err != nil {
			return err
		}
		repo := filepath.Join(work, fmt.Sprintf("repo-%d", r))
		if err := writeApp(repo, groups, "registry.example.com/app:1.0.0"); err != nil {
			return err
		}
		if err := git(repo, "init", "-q", "-b", "main"); err != nil {
			return err
		}
		commit := func(msg string) error {
			if err := git(repo, "add", "-A"); err != nil {
				return err
			}
			return git(repo, "-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-q", "-m", msg)
		}
		if err := commit("v1"); err != nil {
			return err
		}
		workdir := filepath.Join(work, fmt.Sprintf("ferry-workdir-%d", r))
		ferrySync := func(phase string) (cost, error) {
			// One app per run: the same app synced into a new namespace
			// would first prune the previous run's 4,000 objects (as it
			// should), which is not a first sync.
			args := append([]string{"sync", fmt.Sprintf("bench-%d", r+1), "--repo", "file://" + repo, "--app-path", "app", "--namespace", fns,
				"--kubeconfig", c.Kubeconfig(), "--prune", "--workdir", workdir, "-o", "json"}, ferryArgs...)
			if *profile != "" {
				args = append(args, "--profile", "cpu", "--profile-output",
					filepath.Join(*profile, fmt.Sprintf("run%d-%s.pprof", r+1, strings.ReplaceAll(phase, " ", "-"))))
			}
			return timed(ferry, args...)
		}
		kubectlApply := func() (cost, error) {
			return timed(kubectl, "--kubeconfig", c.Kubeconfig(), "apply", "--server-side", "--field-manager", "kubectl-bench", "-n", kns, "-f", filepath.Join(repo, "app"))
		}
		cliutilsApply := func() (cost, error) {
			return timed(cliutils, "-kubeconfig", c.Kubeconfig(), "-n", cns, "-inventory-id", fmt.Sprintf("bench-%d", r), filepath.Join(repo, "app"))
		}
		phase := func(name string) error {
			f, err := ferrySync(name)
			if err != nil {
				return fmt.Errorf("%s: ferry: %w", name, err)
			}
			var u cost
			if cliutils != "" {
				if u, err = cliutilsApply(); err != nil {
					return fmt.Errorf("%s: cli-utils: %w", name, err)
				}
			}
			k, err := kubectlApply()
			if err != nil {
				return fmt.Errorf("%s: kubectl: %w", name, err)
			}
			rows = append(rows, row{name, f, u, k})
			fmt.Printf("run %d %-18s ferry sync %8s", r+1, name, secs(f.wall))
			if cliutils != "" {
				fmt.Printf("   cli-utils applier %8s", secs(u.wall))
			}
			fmt.Printf("   kubectl apply --server-side %8s\n", secs(k.wall))
			return nil
		}
		if err := phase("first sync"); err != nil {
			return err
		}
		if err := phase("no-op re-sync"); err != nil {
			return err
		}
		if err := writeApp(repo, groups, "registry.example.com/app:1.0.1"); err != nil {
			return err
		}
		if err := commit("v2"); err != nil {
			return err
		}
		if err := phase("one-image change"); err != nil {
			return err
		}
	}
	if cliutils == "" {
		fmt.Printf("\n| phase (%d objects) | `ferry sync` | `kubectl apply --server-side` |\n| --- | ---: | ---: |\n", 4*groups)
		for _, r := range rows {
			fmt.Printf("| %s | %s | %s |\n", r.name, secs(r.ferry.wall), secs(r.kubect.wall))
		}
		return nil
	}
	// Wall and CPU of each side, the API server's (kube-apiserver and
	// etcd) CPU during it, and cli-utils and kubectl as multiples of Ferry.
	fmt.Printf("\n| phase (%d objects) | | `ferry sync` | cli-utils applier | `kubectl apply --server-side` | cli-utils ÷ ferry | kubectl ÷ ferry |\n| --- | --- | ---: | ---: | ---: | ---: | ---: |\n", 4*groups)
	for _, r := range rows {
		for _, m := range []struct {
			what string
			of   func(cost) time.Duration
		}{{"wall", func(c cost) time.Duration { return c.wall }}, {"CPU", func(c cost) time.Duration { return c.cpu }}, {"API server CPU", func(c cost) time.Duration { return c.server }}} {
			f, u, k := m.of(r.ferry), m.of(r.cu), m.of(r.kubect)
			fmt.Printf("| %s | %s | %s | %s | %s | %s | %s |\n", r.name, m.what, secs(f), secs(u), secs(k), ratio(u, f), ratio(k, f))
		}
	}
	return nil
}

// cost is what one command took: wall time, its own CPU (user and
// system) and the CPU kube-apiserver and etcd used meanwhile.
type cost struct{ wall, cpu, server time.Duration }

func ratio(a, b time.Duration) string {
	if b <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a.Seconds()/b.Seconds())
}

var verbose, profile = new(bool), new(string)

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func version(bin string, args ...string) string {
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		return bin + " (version unknown)"
	}
	return strings.Join(strings.Fields(string(out)), " ")
}

func timed(bin string, args ...string) (cost, error) {
	cmd := exec.Command(bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	server := serverCPU()
	start := time.Now()
	if *verbose {
		fmt.Fprintf(os.Stderr, "  %s: starting %s %s\n", start.UTC().Format("15:04:05.000"), filepath.Base(bin), args[0])
	}
	err := cmd.Run()
	d := time.Since(start)
	c := cost{wall: d, server: serverCPU() - server}
	if cmd.ProcessState != nil {
		c.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		fmt.Fprintf(os.Stderr, "  %s %s: %.2f s wall, %.2f s CPU; kube-apiserver and etcd %.2f s CPU\n",
			filepath.Base(bin), args[0], d.Seconds(), c.cpu.Seconds(), c.server.Seconds())
	}
	if !*verbose && strings.HasPrefix(out.String(), "cli-utils: ") {
		os.Stderr.Write(out.Bytes()) // its summary: the requests it made
	}
	if *verbose {
		os.Stderr.Write(out.Bytes())
	}
	if err != nil {
		tail := out.String()
		if len(tail) > 2000 {
			tail = tail[len(tail)-2000:]
		}
		return c, fmt.Errorf("%s %s: %w\n%s", filepath.Base(bin), args[0], err, tail)
	}
	return c, nil
}

// serverCPU is the CPU time kube-apiserver and etcd processes have used
// so far (user and system, from /proc; 0 where there is none).
func serverCPU() time.Duration {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var ticks int64
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		if name := s[open+1 : end]; name != "kube-apiserver" && name != "etcd" {
			continue
		}
		f := strings.Fields(s[end+1:])
		if len(f) < 13 {
			continue
		}
		var u, st int64
		fmt.Sscan(f[11], &u)
		fmt.Sscan(f[12], &st)
		ticks += u + st
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}

func git(dir string, args ...string) error {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("git %s: %w\n%s", args[0], err, out)
	}
	return nil
}

// writeApp writes groups × (Deployment, headless Service, ConfigMap,
// ServiceAccount) into ten files of dir/app, the shape of
// deploy.BenchmarkSync4000; group 0's image is image0.
func writeApp(dir string, groups int, image0 string) error {
	app := filepath.Join(dir, "app")
	if err := os.MkdirAll(app, 0o755); err != nil {
		return err
	}
	per := max(groups/10, 1)
	for f := 0; f*per < groups; f++ {
		var b strings.Builder
		for i := f * per; i < min((f+1)*per, groups); i++ {
			name := fmt.Sprintf("svc-%04d", i)
			image := "registry.example.com/app:1.0.0"
			if i == 0 {
				image = image0
			}
			fmt.Fprintf(&b, `---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
spec:
  replicas: 1
  selector:
    matchLabels: {app: %[1]s}
  template:
    metadata:
      labels: {app: %[1]s}
    spec:
      containers:
      - name: app
        image: %[2]s
---
apiVersion: v1
kind: Service
metadata: {name: %[1]s}
spec:
  clusterIP: None
  selector: {app: %[1]s}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: %[1]s}
data:
  LOG_LEVEL: "info"
  FEATURE: "%[1]s"
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: %[1]s}
`, name, image)
		}
		if err := os.WriteFile(filepath.Join(app, fmt.Sprintf("part-%02d.yaml", f)), []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	return nil
}
