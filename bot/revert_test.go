package bot

import (
	"strings"
	"testing"

	"github.com/ferrygitops/ferry/internal/testenv/githubapi"
	"github.com/ferrygitops/ferry/internal/testenv/gitserver"
)

// OpenRevertPR commits the restored files on ferry/revert-APP and opens
// its pull request; a second revert updates the same branch and pull
// request.
func TestOpenRevertPR(t *testing.T) {
	git := gitserver.New(t)
	url := git.CreateRepo("manifests", map[string]string{"app/a.yaml": "v2\n", "app/c.yaml": "new\n"})
	gh := githubapi.NewServer(git.GitHub())
	t.Cleanup(gh.Close)
	gh.AddRepo("acme", "manifests")
	env := map[string]string{"GITHUB_TOKEN": githubapi.DefaultToken, "FERRY_GITHUB_URL": gh.BaseURL(), "FERRY_GITHUB_REPO": "acme/manifests"}
	getenv := func(k string) string { return env[k] }
	pr := RevertPR{RepoURL: url, Branch: "main", App: "web", Files: map[string][]byte{"app/a.yaml": []byte("v1\n"), "app/b.yaml": []byte("old\n")},
		Deleted: []string{"app/c.yaml"}, Title: "Revert web to v1", Body: "Restores app/."}

	u, err := OpenRevertPR(t.Context(), pr, getenv)
	if err != nil {
		t.Fatal(err)
	}
	prs := gh.PullRequests("acme", "manifests")
	if len(prs) != 1 || prs[0].Head != "ferry/revert-web" || prs[0].Base != "main" || prs[0].Title != pr.Title || !strings.HasSuffix(u, "/1") {
		t.Fatalf("pull requests %+v, url %s", prs, u)
	}
	for file, want := range map[string]string{"app/a.yaml": "v1\n", "app/b.yaml": "old\n"} {
		if got, err := git.ReadFile("manifests", "ferry/revert-web", file); err != nil || got != want {
			t.Errorf("%s on the revert branch = %q, %v; want %q", file, got, err, want)
		}
	}
	if _, err := git.ReadFile("manifests", "ferry/revert-web", "app/c.yaml"); err == nil {
		t.Error("app/c.yaml is still on the revert branch")
	}

	pr.Files = map[string][]byte{"app/a.yaml": []byte("v0\n")}
	if _, err := OpenRevertPR(t.Context(), pr, getenv); err != nil {
		t.Fatal(err)
	}
	if prs := gh.PullRequests("acme", "manifests"); len(prs) != 1 {
		t.Errorf("a second revert opened another pull request: %+v", prs)
	}
	if got, _ := git.ReadFile("manifests", "ferry/revert-web", "app/a.yaml"); got != "v0\n" {
		t.Errorf("app/a.yaml after the second revert = %q", got)
	}
}

func TestOpenRevertPRCredentials(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, "opening a revert pull request needs GITHUB_TOKEN"},
		{map[string]string{"GITHUB_TOKEN": "t", "FERRY_GITHUB_REPO": "nope"}, `FERRY_GITHUB_REPO "nope": want OWNER/NAME`},
		{map[string]string{"GITHUB_TOKEN": "t"}, "(or set FERRY_GITHUB_REPO)"},
	} {
		_, err := OpenRevertPR(t.Context(), RevertPR{RepoURL: "https://git.example.com/manifests.git", Branch: "main", App: "web"}, func(k string) string { return tc.env[k] })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("env %v: error %v, want %q", tc.env, err, tc.want)
		}
	}
}
