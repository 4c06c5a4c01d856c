package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferrygitops/ferry/examples"
	"github.com/ferrygitops/ferry/internal/testenv/ecrapi"
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
		Short: "Run Ferry's main job on an embedded example, against local registries",
		Long: `Demo needs no cloud account and no network. It starts, on 127.0.0.1:
  - an emulator of the AWS ECR API holding release.YYYYMMDD tags with push times,
    reached through the AWS SDK's endpoint override (AWS_ENDPOINT_URL_ECR);
  - an OCI registry holding semver and noise tags, standing in for ghcr.io;
copies the example manifest repository to a temporary directory, and runs
'ferry scan' and 'ferry update --dry-run' against it.`,
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
		defer fmt.Fprintf(w, "\nThe manifest repository is kept at %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	step(2, "Copying the example manifest repository to %s", dir)
	local := oci.Host + "/acme/web"
	if err := copyExample(dir, map[string]string{demoGHCR: local}); err != nil {
		return err
	}
	fmt.Fprintf(w, "    (in the copy, %s is rewritten to %s)\n", demoGHCR, local)

	step(3, "ferry scan --repo %s", dir)
	if code := Main(ctx, []string{"scan", "--repo", dir, "--stats", "--log-level", g.logLevel}, w, g.stderr); code != exitOK {
		return &exitError{code: code, err: fmt.Errorf("the demo's scan failed")}
	}

	step(4, "ferry update --repo %s --dry-run", dir)
	if code := Main(ctx, []string{"update", "--repo", dir, "--dry-run", "--log-level", g.logLevel}, w, g.stderr); code != exitOK {
		return &exitError{code: code, err: fmt.Errorf("the demo's update failed")}
	}

	fmt.Fprintf(w, "\nDone. Point Ferry at your own manifest repository with:\n    ferry scan --repo PATH\n")
	return nil
}

// copyExample writes the embedded example repository to dir, replacing
// strings in every file as given.
func copyExample(dir string, replace map[string]string) error {
	return fs.WalkDir(examples.Repo, "repo", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, "repo"), "/")
		target := filepath.Join(dir, filepath.FromSlash(rel))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := fs.ReadFile(examples.Repo, p)
		if err != nil {
			return err
		}
		s := string(data)
		for from, to := range replace {
			s = strings.ReplaceAll(s, from, to)
		}
		return os.WriteFile(target, []byte(s), 0o644)
	})
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
