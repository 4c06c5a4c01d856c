// Command ferry-demo runs Ferry's whole loop on the embedded example,
// against servers it starts on 127.0.0.1: an emulator of the AWS ECR API, an
// OCI registry, a git server, an emulator of the GitHub API and, when `make
// testbin` built them, a kube-apiserver and etcd. Each step runs the ferry
// binary as a user would type it. `make demo` builds both and runs it.
//
// The servers are test servers (internal/testenv): they live here, not in
// the ferry binary.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/google/go-github/v60/github"
	"golang.org/x/term"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/ferrygitops/ferry/examples"
	"github.com/ferrygitops/ferry/gitrepo"
	"github.com/ferrygitops/ferry/internal/testenv"
	"github.com/ferrygitops/ferry/internal/testenv/ecrapi"
	"github.com/ferrygitops/ferry/internal/testenv/githubapi"
	"github.com/ferrygitops/ferry/internal/testenv/gitserver"
	"github.com/ferrygitops/ferry/internal/testenv/kube"
	"github.com/ferrygitops/ferry/internal/testenv/ociregistry"
)

const (
	demoAccount = "123456789012"
	demoRegion  = "ap-northeast-1"
	demoGHCR    = "ghcr.io/acme/web"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Main runs the demo with args and returns the exit code: 0 done, 1 a step
// failed, 2 bad usage.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ferry-demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	d := &demo{stdout: stdout, stderr: stderr}
	fs.BoolVar(&d.keep, "keep", false, "at the end, keep every server running until Ctrl-C and write a script of their settings, to run ferry against them by hand")
	fs.StringVar(&d.ferry, "ferry", "", "the ferry binary each step runs (default: ferry next to this command, else on $PATH)")
	fs.StringVar(&d.logLevel, "log-level", "warn", "ferry's --log-level")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: ferry-demo [--keep] [--ferry PATH]\n\nRuns Ferry's whole loop on the embedded example, against local servers.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ferry-demo: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if err := d.findFerry(); err != nil {
		fmt.Fprintf(stderr, "ferry-demo: %v\n", err)
		return 2
	}
	if err := d.run(ctx); err != nil {
		fmt.Fprintf(stderr, "ferry-demo: %v\n", err)
		return 1
	}
	return 0
}

// demo is one run of the demo.
type demo struct {
	stdout, stderr io.Writer
	keep           bool
	ferry          string
	logLevel       string
	env            []string // for every ferry step: the emulators' endpoints and credentials
	try            []string // commands a person can run against the kept servers
}

// findFerry resolves the ferry binary.
func (d *demo) findFerry() error {
	if d.ferry == "" {
		if self, err := os.Executable(); err == nil {
			if p := filepath.Join(filepath.Dir(self), "ferry"); isExecutable(p) {
				d.ferry = p
				return nil
			}
		}
		p, err := exec.LookPath("ferry")
		if err != nil {
			return errors.New("no ferry binary next to this command or on $PATH: build one (make build) and give --ferry bin/ferry, or run make demo")
		}
		d.ferry = p
		return nil
	}
	if !isExecutable(d.ferry) {
		return fmt.Errorf("--ferry %s: not an executable file", d.ferry)
	}
	return nil
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// step runs `ferry ARGS...` as a user would, its output going to the
// demo's.
func (d *demo) step(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, d.ferry, append(args, "--log-level", d.logLevel)...)
	cmd.Stdout, cmd.Stderr = d.stdout, d.stderr
	cmd.Env = d.environ()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ferry %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

func (d *demo) run(ctx context.Context) error {
	w := d.stdout
	now := time.Now()
	step := func(n int, format string, args ...any) {
		fmt.Fprintf(w, "\n\033[1m==> %d. %s\033[0m\n", n, fmt.Sprintf(format, args...))
	}
	if !isTerminal(w) {
		step = func(n int, format string, args ...any) {
			fmt.Fprintf(w, "\n==> %d. %s\n", n, fmt.Sprintf(format, args...))
		}
	}

	step(1, "Starting registries on 127.0.0.1")
	ecr := ecrapi.NewServer(ecrapi.WithAccount(demoAccount))
	defer ecr.Close()
	myapp := []string{"release.20240220", "release.20240226", "release.20240229", "release.20240301", "release.20240304", "release.20240305"}
	for i, tag := range myapp {
		age := time.Duration(len(myapp)-1-i) * 24 * time.Hour
		if i == len(myapp)-1 {
			age = 10 * time.Minute // the release CI just pushed
		}
		ecr.Put(demoAccount, demoRegion, "myapp", []string{tag}, "", now.Add(-age))
	}
	ecr.Put(demoAccount, demoRegion, "myapp", []string{"latest", "pr-1234"}, "", now.Add(-2*time.Hour))
	ecr.Put(demoAccount, demoRegion, "myapp", []string{"release.20240231"}, "", now.Add(-30*24*time.Hour))
	for i, tag := range []string{"release.20240215", "release.20240301", "release.20240303"} {
		ecr.Put(demoAccount, demoRegion, "myapp-worker", []string{tag}, "", now.Add(-time.Duration(3-i)*48*time.Hour))
	}
	ecr.Put(demoAccount, demoRegion, "myapp-worker", []string{"release.20240303.sig"}, "", now.Add(-time.Hour))
	d.setEnv(ecr.Env(), map[string]string{
		"AWS_CONFIG_FILE":             os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_PROFILE":                 "",
	})
	fmt.Fprintf(w, "    ECR API emulator  %s  (AWS_ENDPOINT_URL_ECR; account %s, region %s)\n", ecr.URL, demoAccount, demoRegion)
	fmt.Fprintf(w, "      myapp:        %s, plus latest, pr-1234, release.20240231\n", strings.Join(myapp, " "))
	fmt.Fprintf(w, "      myapp-worker: release.20240215 release.20240301 release.20240303 release.20240303.sig\n")
	fmt.Fprintf(w, "      (release.20240305 was pushed 10 minutes ago: staging takes it; production gets it by promotion)\n")

	oci := ociregistry.New()
	defer oci.Close()
	webTags := []string{"1.4.2", "1.5.0", "1.5.1", "1.6.0-rc.1", "2.0.0", "latest", "sha-3f2a9c1"}
	if _, err := oci.Seed(ctx, "acme/web", webTags...); err != nil {
		return fmt.Errorf("seeding the demo registry: %w", err)
	}
	fmt.Fprintf(w, "    OCI registry      http://%s  (stands in for ghcr.io)\n", oci.Host)
	fmt.Fprintf(w, "      acme/web:     %s\n", strings.Join(webTags, " "))

	dir, err := os.MkdirTemp("", "ferry-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	step(2, "Putting the example manifest repository on a local git server, next to a GitHub API emulator")
	local := oci.Host + "/acme/web"
	files, err := examples.Files(demoGHCR, local)
	if err != nil {
		return err
	}
	// The example's promotion soaks for 30 minutes; the demo cannot wait
	// that long.
	const promotionFile = ".ferry/promotion.yaml"
	if !strings.Contains(files[promotionFile], "soak: 30m") {
		return fmt.Errorf("the demo expected %s to soak for 30m", promotionFile)
	}
	files[promotionFile] = strings.Replace(files[promotionFile], "soak: 30m", "soak: 0s", 1)
	tb := testenv.NewStandalone(dir)
	defer tb.Close()
	var git *gitserver.Server
	var url string
	if err := tb.Run(func() {
		git = gitserver.New(tb)
		url = git.CreateRepo("manifests", files)
	}); err != nil {
		return fmt.Errorf("starting the git server (it needs git installed): %w", err)
	}
	gh := githubapi.NewServer(git.GitHub())
	defer gh.Close()
	gh.AddRepo("acme", "manifests")
	d.setEnv(map[string]string{"GITHUB_TOKEN": githubapi.DefaultToken})
	fmt.Fprintf(w, "    git:     %s  (examples/repo, with %s rewritten to %s)\n", url, demoGHCR, local)
	fmt.Fprintf(w, "    GitHub:  %s  (acme/manifests)\n", gh.BaseURL())

	step(3, "ferry scan: the newest tag each policy allows, and where each image is used")
	scanDir := filepath.Join(dir, "scan")
	if err := writeFiles(scanDir, files); err != nil {
		return err
	}
	if err := d.step(ctx, "scan", "--repo", scanDir, "--stats"); err != nil {
		return err
	}
	d.try = append(d.try, "ferry scan --repo "+scanDir, "ferry bump --repo "+url+" --github-url "+gh.BaseURL()+" --github-repo acme/manifests --dry-run")

	step(4, "ferry bump: one pull request per group of policies, on its own branch")
	bumpArgs := []string{"bump", "--repo", url, "--github-url", gh.BaseURL(), "--github-repo", "acme/manifests"}
	if err := d.step(ctx, bumpArgs...); err != nil {
		return err
	}
	var staging githubapi.PR
	for _, pr := range gh.PullRequests("acme", "manifests") {
		diff, _ := git.Git("manifests", "diff", "main..."+pr.Head)
		fmt.Fprintf(w, "\n  #%d %s  (%s → main, labels %v)\n%s", pr.Number, pr.Title, pr.Head, pr.Labels, indent(diff, "    "))
		if pr.Head == "ferry/myapp-staging" {
			staging = pr
		}
	}
	fmt.Fprintf(w, "\n  A second run finds nothing new and writes nothing:\n")
	if err := d.step(ctx, bumpArgs...); err != nil {
		return err
	}
	if staging.Number == 0 {
		return errors.New("the demo expected a pull request for staging")
	}

	step(5, "A reviewer merges #%d %q", staging.Number, staging.Title)
	client, err := github.NewClient(nil).WithAuthToken(githubapi.DefaultToken).WithEnterpriseURLs(gh.BaseURL(), gh.UploadURL())
	if err != nil {
		return err
	}
	merged, _, err := client.PullRequests.Merge(ctx, "acme", "manifests", staging.Number, "", nil)
	if err != nil {
		return fmt.Errorf("merging: %w", err)
	}
	fmt.Fprintf(w, "    main is now at %.12s\n", merged.GetSHA())

	step(6, "ferry sync myapp-staging: apply main to the staging cluster")
	if !kube.Available() {
		fmt.Fprintf(w, "    The local Kubernetes API server is not built, so here is what the sync would apply\n")
		fmt.Fprintf(w, "    (overlays/staging at %.12s, rendered with kustomize):\n\n", merged.GetSHA())
		if err := printRender(ctx, w, url, filepath.Join(dir, "render")); err != nil {
			return err
		}
		fmt.Fprintf(w, "\n    For the whole loop, build the API server once (about 10 minutes) and run the demo again:\n        make testbin\n")
	} else {
		var cluster *kube.Cluster
		if err := tb.Run(func() { cluster = kube.Start(tb) }); err != nil {
			return fmt.Errorf("starting the local API server: %w", err)
		}
		kubeconfig, err := demoKubeconfig(cluster.Kubeconfig(), filepath.Join(dir, "kubeconfig"))
		if err != nil {
			return err
		}
		// No kubelet or controllers run here: a stand-in marks Deployments
		// rolled out, so the health check sees them Current.
		if err := tb.Run(func() { kube.FakeDeploymentController(tb, cluster.Config(), "myapp-staging") }); err != nil {
			return err
		}
		fmt.Fprintf(w, "    kube-apiserver %s and etcd on %s (contexts staging and production; no nodes,\n    so a stand-in controller marks Deployments rolled out)\n\n", kube.KubernetesVersion, cluster.URL)
		syncArgs := []string{"--repo", url, "--kubeconfig", kubeconfig}
		if err := d.step(ctx, append([]string{"sync", "myapp-staging", "--timeout", "1m"}, syncArgs...)...); err != nil {
			return err
		}
		d.try = append(d.try, "ferry status myapp-staging "+strings.Join(syncArgs, " "), "ferry diff myapp-staging "+strings.Join(syncArgs, " "))
		step(7, "ferry status myapp-staging")
		if err := d.step(ctx, append([]string{"status", "myapp-staging"}, syncArgs...)...); err != nil {
			return err
		}
		if err := printImages(ctx, w, cluster, "myapp-staging", "myapp"); err != nil {
			return err
		}

		step(8, "ferry promote myapp: production gets exactly what staging proved (.ferry/promotion.yaml)")
		fmt.Fprintf(w, "    The gates: staging synced and healthy, the soak (30 minutes in the example; the demo\n")
		fmt.Fprintf(w, "    shortens it to 0s), the smoke test Job in staging (a stand-in Job controller completes\n")
		fmt.Fprintf(w, "    it), no rejection. The first run starts the Job; the next one opens the pull request.\n")
		if err := tb.Run(func() {
			kube.FakeJobController(tb, cluster.Config(), "myapp-staging")
			kube.FakeDeploymentController(tb, cluster.Config(), "myapp-production")
		}); err != nil {
			return err
		}
		promoteArgs := append([]string{"promote", "myapp", "--github-url", gh.BaseURL(), "--github-repo", "acme/manifests"}, syncArgs...)
		var promotion githubapi.PR
		for attempt := 0; promotion.Number == 0; attempt++ {
			if attempt == 10 {
				return errors.New("the demo's promotion opened no pull request after 10 runs")
			}
			if attempt > 0 {
				time.Sleep(time.Second)
			}
			if err := d.step(ctx, promoteArgs...); err != nil {
				return err
			}
			for _, pr := range gh.PullRequests("acme", "manifests") {
				if pr.Head == "ferry/promote-myapp" && pr.State == "open" {
					promotion = pr
				}
			}
		}
		diff, _ := git.Git("manifests", "diff", "main..."+promotion.Head)
		fmt.Fprintf(w, "\n  #%d %s  (%s → main, labels %v)\n%s", promotion.Number, promotion.Title, promotion.Head, promotion.Labels, indent(diff, "    "))

		step(9, "A reviewer approves and merges #%d; ferry sync myapp-production", promotion.Number)
		mergedP, _, err := client.PullRequests.Merge(ctx, "acme", "manifests", promotion.Number, "", nil)
		if err != nil {
			return fmt.Errorf("merging the promotion: %w", err)
		}
		fmt.Fprintf(w, "    main is now at %.12s\n", mergedP.GetSHA())
		if err := d.step(ctx, append([]string{"sync", "myapp-production", "--timeout", "1m"}, syncArgs...)...); err != nil {
			return err
		}
		if err := printImages(ctx, w, cluster, "myapp-production", "myapp"); err != nil {
			return err
		}
		if err := d.secretsStep(ctx, w, step, dir, syncArgs); err != nil {
			return err
		}
		step(11, "ferry sync web-staging and guestbook-staging: a Helm chart and a jsonnet program")
		for _, app := range []string{"web-staging", "guestbook-staging"} {
			if err := d.step(ctx, append([]string{"sync", app, "--timeout", "1m"}, syncArgs...)...); err != nil {
				return err
			}
		}
	}

	if d.keep {
		return d.hold(ctx, dir)
	}
	fmt.Fprintf(w, "\nDone; everything the demo started is stopped. Point Ferry at your own manifest repository with:\n    ferry scan --repo PATH\n    GITHUB_TOKEN=... ferry bump --repo https://github.com/OWNER/REPO --dry-run\n")
	return nil
}

// hold keeps the servers running until ctx ends (Ctrl-C), after writing
// dir/demo.env with the settings the steps ran with and printing commands
// to try against them.
func (d *demo) hold(ctx context.Context, dir string) error {
	envFile := filepath.Join(dir, "demo.env")
	var b strings.Builder
	b.WriteString("# The settings ferry ran with in the demo: . this file, then run ferry.\n")
	for _, kv := range d.env {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&b, "export %s=%s\n", k, shellQuote(v))
	}
	if err := os.WriteFile(envFile, []byte(b.String()), 0o600); err != nil {
		return err
	}
	w := d.stdout
	fmt.Fprintf(w, "\nDone. The servers keep running until Ctrl-C (everything is removed then). In another shell:\n    . %s\n", envFile)
	for _, c := range d.try {
		fmt.Fprintf(w, "    %s %s\n", d.ferry, strings.TrimPrefix(c, "ferry "))
	}
	<-ctx.Done()
	fmt.Fprintf(w, "\nStopping the demo's servers.\n")
	return nil
}

// shellQuote quotes s for a POSIX shell.
// printImages prints the images of the containers of Deployment ns/name.
func printImages(ctx context.Context, w io.Writer, cluster *kube.Cluster, ns, name string) error {
	dep, err := kubernetes.NewForConfigOrDie(cluster.Config()).AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	for _, c := range dep.Spec.Template.Spec.Containers {
		fmt.Fprintf(w, "\n    Deployment %s/%s, container %s: %s", ns, name, c.Name, c.Image)
	}
	fmt.Fprintln(w)
	return nil
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// printRender clones the repository and lists the objects overlays/staging
// renders to, with their images.
func printRender(ctx context.Context, w io.Writer, url, dir string) error {
	repo, err := gitrepo.Clone(ctx, url, "main", dir, gitrepo.Auth{}, 1)
	if err != nil {
		return err
	}
	resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join(repo.Dir(), "overlays", "staging"))
	if err != nil {
		return fmt.Errorf("rendering overlays/staging: %w", err)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "    KIND\tNAMESPACE\tNAME\tIMAGES")
	for _, r := range resMap.Resources() {
		var images []string
		for _, path := range [][]string{{"spec", "template", "spec", "containers"}, {"spec", "jobTemplate", "spec", "template", "spec", "containers"}} {
			m, err := r.Map()
			if err != nil {
				continue
			}
			v, _, _ := unstructured.NestedFieldNoCopy(m, path...)
			cs, _ := v.([]any)
			for _, c := range cs {
				if img, ok := c.(map[string]any)["image"].(string); ok {
					images = append(images, img)
				}
			}
		}
		fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\n", r.GetKind(), orDash(r.GetNamespace()), r.GetName(), strings.Join(images, ", "))
	}
	return tw.Flush()
}

// demoKubeconfig copies the cluster's kubeconfig with two contexts, staging
// and production, both on the local API server, as the example apps expect.
func demoKubeconfig(src, dst string) (string, error) {
	cfg, err := clientcmd.LoadFromFile(src)
	if err != nil {
		return "", err
	}
	cur := cfg.Contexts[cfg.CurrentContext]
	if cur == nil {
		return "", fmt.Errorf("kubeconfig %s has no current context", src)
	}
	for _, name := range []string{"staging", "production"} {
		c := *cur
		cfg.Contexts[name] = &c
	}
	return dst, clientcmd.WriteToFile(*cfg, dst)
}

func writeFiles(dir string, files map[string]string) error {
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func indent(s, prefix string) string {
	if s == "" {
		return ""
	}
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return prefix + strings.Join(lines, "\n"+prefix) + "\n"
}

// setEnv sets environment variables for every ferry step; an empty value
// unsets one.
func (d *demo) setEnv(sets ...map[string]string) {
	for _, m := range sets {
		for k, v := range m {
			d.env = append(d.env, k+"="+v)
		}
	}
}

// environ is the steps' environment: the demo's own, with setEnv's
// settings in place of any value it had.
func (d *demo) environ() []string {
	set := map[string]bool{}
	for _, kv := range d.env {
		k, _, _ := strings.Cut(kv, "=")
		set[k] = true
	}
	var out []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !set[k] {
			out = append(out, kv)
		}
	}
	for _, kv := range d.env {
		if k, v, _ := strings.Cut(kv, "="); v != "" {
			out = append(out, k+"="+v)
		}
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// isTerminal reports whether w is a terminal (the steps' headings are
// bold there).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
