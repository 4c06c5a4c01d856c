package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/spf13/cobra"
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

func newDemoCmd(g *globals) *cobra.Command {
	var keep bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole loop on an embedded example, against local servers (no cloud account)",
		Long: `Demo needs no cloud account and no network. On 127.0.0.1 it starts an emulator of
the AWS ECR API (release.YYYYMMDD tags with push times, reached through the SDK's endpoint
override), an OCI registry (semver and noise tags, standing in for ghcr.io), a git server
holding the example manifest repository and an emulator of the GitHub API; then it runs
'ferry scan', 'ferry bump', merges the staging pull request, and runs 'ferry sync' and
'ferry status' against a local kube-apiserver when 'make testbin' has built one (otherwise
it shows what the sync would apply). Everything it starts is stopped at the end.`,
		Example: `  ferry demo
  ferry demo --keep    # keep the temporary manifest repository to look around`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), g, keep)
		},
	}
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the temporary manifest repository")
	return cmd
}

func runDemo(ctx context.Context, g *globals, keep bool) error {
	w := g.stdout
	now := g.now()
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
			age = 10 * time.Minute // too fresh for production's minAge: 1h
		}
		ecr.Put(demoAccount, demoRegion, "myapp", []string{tag}, "", now.Add(-age))
	}
	ecr.Put(demoAccount, demoRegion, "myapp", []string{"latest", "pr-1234"}, "", now.Add(-2*time.Hour))
	ecr.Put(demoAccount, demoRegion, "myapp", []string{"release.20240231"}, "", now.Add(-30*24*time.Hour))
	for i, tag := range []string{"release.20240215", "release.20240301", "release.20240303"} {
		ecr.Put(demoAccount, demoRegion, "myapp-worker", []string{tag}, "", now.Add(-time.Duration(3-i)*48*time.Hour))
	}
	ecr.Put(demoAccount, demoRegion, "myapp-worker", []string{"release.20240303.sig"}, "", now.Add(-time.Hour))
	restore := setEnv(ecr.Env(), map[string]string{
		"AWS_CONFIG_FILE":             os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_PROFILE":                 "",
	})
	defer restore()
	fmt.Fprintf(w, "    ECR API emulator  %s  (AWS_ENDPOINT_URL_ECR; account %s, region %s)\n", ecr.URL, demoAccount, demoRegion)
	fmt.Fprintf(w, "      myapp:        %s, plus latest, pr-1234, release.20240231\n", strings.Join(myapp, " "))
	fmt.Fprintf(w, "      myapp-worker: release.20240215 release.20240301 release.20240303 release.20240303.sig\n")
	fmt.Fprintf(w, "      (release.20240305 was pushed 10 minutes ago: too fresh for production's minAge of 1h)\n")

	oci := ociregistry.New()
	defer oci.Close()
	webTags := []string{"1.4.2", "1.5.0", "1.5.1", "1.6.0-rc.1", "2.0.0", "latest", "sha-3f2a9c1"}
	if _, err := oci.Seed(ctx, "acme/web", webTags...); err != nil {
		return &exitError{code: exitFailure, err: fmt.Errorf("seeding the demo registry: %w", err)}
	}
	fmt.Fprintf(w, "    OCI registry      http://%s  (stands in for ghcr.io)\n", oci.Host)
	fmt.Fprintf(w, "      acme/web:     %s\n", strings.Join(webTags, " "))

	dir, err := os.MkdirTemp("", "ferry-demo-")
	if err != nil {
		return err
	}
	if keep {
		defer fmt.Fprintf(w, "\nThe manifest repository is kept at %s (servers' data beside it)\n", filepath.Join(dir, "scan"))
	} else {
		defer os.RemoveAll(dir)
	}
	step(2, "Putting the example manifest repository on a local git server, next to a GitHub API emulator")
	local := oci.Host + "/acme/web"
	files, err := examples.Files(demoGHCR, local)
	if err != nil {
		return err
	}
	tb := testenv.NewStandalone(dir)
	defer tb.Close()
	var git *gitserver.Server
	var url string
	if err := tb.Run(func() {
		git = gitserver.New(tb)
		url = git.CreateRepo("manifests", files)
	}); err != nil {
		return &exitError{code: exitFailure, err: fmt.Errorf("starting the git server (it needs git installed): %w", err)}
	}
	gh := githubapi.NewServer(git.GitHub())
	defer gh.Close()
	gh.AddRepo("acme", "manifests")
	restoreGH := setEnv(map[string]string{"GITHUB_TOKEN": githubapi.DefaultToken})
	defer restoreGH()
	fmt.Fprintf(w, "    git:     %s  (examples/repo, with %s rewritten to %s)\n", url, demoGHCR, local)
	fmt.Fprintf(w, "    GitHub:  %s  (acme/manifests)\n", gh.BaseURL())

	step(3, "ferry scan: the newest tag each policy allows, and where each image is used")
	scanDir := filepath.Join(dir, "scan")
	if err := writeFiles(scanDir, files); err != nil {
		return err
	}
	if code := Main(ctx, []string{"scan", "--repo", scanDir, "--stats", "--log-level", g.logLevel}, w, g.stderr); code != exitOK {
		return &exitError{code: code, err: fmt.Errorf("the demo's scan failed")}
	}

	step(4, "ferry bump: one pull request per group of policies, on its own branch")
	bumpArgs := []string{"bump", "--repo", url, "--github-url", gh.BaseURL(), "--github-repo", "acme/manifests", "--log-level", g.logLevel}
	if code := Main(ctx, bumpArgs, w, g.stderr); code != exitOK {
		return &exitError{code: code, err: fmt.Errorf("the demo's bump failed")}
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
	if code := Main(ctx, bumpArgs, w, g.stderr); code != exitOK {
		return &exitError{code: code, err: fmt.Errorf("the demo's second bump failed")}
	}
	if staging.Number == 0 {
		return &exitError{code: exitFailure, err: fmt.Errorf("the demo expected a pull request for staging")}
	}

	step(5, "A reviewer merges #%d %q", staging.Number, staging.Title)
	client, err := github.NewClient(nil).WithAuthToken(githubapi.DefaultToken).WithEnterpriseURLs(gh.BaseURL(), gh.UploadURL())
	if err != nil {
		return err
	}
	merged, _, err := client.PullRequests.Merge(ctx, "acme", "manifests", staging.Number, "", nil)
	if err != nil {
		return &exitError{code: exitFailure, err: fmt.Errorf("merging: %w", err)}
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
			return &exitError{code: exitFailure, err: fmt.Errorf("starting the local API server: %w", err)}
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
		syncArgs := []string{"--repo", url, "--kubeconfig", kubeconfig, "--log-level", g.logLevel}
		if code := Main(ctx, append([]string{"sync", "myapp-staging", "--timeout", "1m"}, syncArgs...), w, g.stderr); code != exitOK {
			return &exitError{code: code, err: fmt.Errorf("the demo's sync failed")}
		}
		step(7, "ferry status myapp-staging")
		if code := Main(ctx, append([]string{"status", "myapp-staging"}, syncArgs...), w, g.stderr); code != exitOK {
			return &exitError{code: code, err: fmt.Errorf("the demo's status failed")}
		}
		d, err := kubernetes.NewForConfigOrDie(cluster.Config()).AppsV1().Deployments("myapp-staging").Get(ctx, "myapp", metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			fmt.Fprintf(w, "\n    Deployment myapp-staging/myapp, container %s: %s", c.Name, c.Image)
		}
		fmt.Fprintln(w)
	}

	fmt.Fprintf(w, "\nDone; everything the demo started is stopped. Point Ferry at your own manifest repository with:\n    ferry scan --repo PATH\n    GITHUB_TOKEN=... ferry bump --repo https://github.com/OWNER/REPO --dry-run\n")
	return nil
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

// setEnv sets environment variables for the demo's in-process run (an empty
// value unsets) and returns a function that restores the previous values.
func setEnv(sets ...map[string]string) func() {
	type prev struct {
		v  string
		ok bool
	}
	saved := map[string]prev{}
	for _, m := range sets {
		for k, v := range m {
			if _, done := saved[k]; !done {
				old, ok := os.LookupEnv(k)
				saved[k] = prev{old, ok}
			}
			if v == "" {
				os.Unsetenv(k)
			} else {
				os.Setenv(k, v)
			}
		}
	}
	return func() {
		for k, p := range saved {
			if p.ok {
				os.Setenv(k, p.v)
			} else {
				os.Unsetenv(k)
			}
		}
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
