package ui

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ferrygitops/ferry/deploy"
	"github.com/ferrygitops/ferry/gitrepo"
	"github.com/ferrygitops/ferry/image"
	"github.com/ferrygitops/ferry/server"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

func assetHandler() http.Handler {
	sub, _ := fs.Sub(assetFS, ".")
	fsrv := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		fsrv.ServeHTTP(w, r)
	})
}

var pages = template.Must(template.New("ui").Funcs(template.FuncMap{
	"sha":    gitrepo.ShortRevision,
	"digest": image.ShortDigest,
	"ts": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"tone":  tone,
	"lower": strings.ToLower,
}).ParseFS(templateFS, "templates/*.html"))

// tone classifies a status word for its colour.
func tone(s string) string {
	switch strings.ToLower(s) {
	case "succeeded", "current", "healthy", "synced", "ok", "created", "updated", "pushed", "merged", "unchanged", "open":
		return "ok"
	case "inprogress", "progressing", "update", "pending", "create", "would-create", "would-update":
		return "info"
	case "degraded", "drifted", "pinned", "held", "ahead", "unknown", "terminating", "prune", "skipped", "declined":
		return "warn"
	case "failed", "error", "notfound", "blocked":
		return "err"
	}
	return "muted"
}

// forgeWeb is the web address of a repository URL on a forge
// (https://github.com/o/r for https://github.com/o/r.git), "" when it has
// none.
func forgeWeb(repo string) string {
	u, err := url.Parse(gitrepo.StripCredentials(repo))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), ".git")
	u.RawQuery, u.Fragment = "", ""
	return u.String()
}

func commitURL(repo, rev string) string {
	web := forgeWeb(repo)
	if web == "" || rev == "" {
		return ""
	}
	if strings.Contains(web, "gitlab") {
		return web + "/-/commit/" + rev
	}
	return web + "/commit/" + rev
}

func blobURL(repo, branch, file string, line int) string {
	web := forgeWeb(repo)
	if web == "" {
		return ""
	}
	sep := "/blob/"
	if strings.Contains(web, "gitlab") {
		sep = "/-/blob/"
	}
	s := web + sep + url.PathEscape(branch) + "/" + (&url.URL{Path: file}).EscapedPath()
	if line > 0 {
		s += fmt.Sprintf("#L%d", line)
	}
	return s
}

func drifted(a server.AppStatus) bool { return strings.Contains(a.Message, "drifted") }

// appRow is one row of the app list.
type appRow struct {
	server.AppStatus
	Health      string
	RevisionURL string
	Drifted     bool
	Ago         string
}

func healthOf(result string) string {
	switch result {
	case "Succeeded":
		return "Healthy"
	case "Degraded":
		return "Degraded"
	case "Failed":
		return "Unknown"
	}
	return "Unknown"
}

func newAppRows(apps []server.AppStatus, now time.Time) []appRow {
	rows := make([]appRow, 0, len(apps))
	for _, a := range apps {
		rows = append(rows, appRow{AppStatus: a, Health: healthOf(a.Result), RevisionURL: commitURL(a.Repo, a.Revision), Drifted: drifted(a), Ago: ago(now, a.Time)})
	}
	slices.SortFunc(rows, func(a, b appRow) int { return strings.Compare(a.Name, b.Name) })
	return rows
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t)
	switch {
	case d < 5*time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

// appView is an app's page.
type appView struct {
	Row       appRow
	Rows      []appRow // the one row, for the live update
	Status    deploy.AppStatus
	StatusErr string
	Kinds     []kindGroup
	History   []historyRow
	Revisions []deploy.RevisionRecord // to roll back to
	Events    []server.EventRecord
	Diff      *diffView
}

type kindGroup struct {
	Kind    string
	Objects []deploy.ObjectResult
}

type historyRow struct {
	deploy.Record
	URL string
}

type diffView struct {
	Revision string
	InSync   bool
	Error    string
	Objects  []deploy.ObjectDiff
}

func newAppView(row server.AppStatus, st deploy.AppStatus, err error, events []server.EventRecord, now time.Time) *appView {
	rows := newAppRows([]server.AppStatus{row}, now)
	v := &appView{Row: rows[0], Rows: rows, Status: st}
	if err != nil {
		v.StatusErr = err.Error()
	}
	byKind := map[string][]deploy.ObjectResult{}
	for _, o := range st.Objects {
		byKind[o.Kind] = append(byKind[o.Kind], o)
	}
	for k, objs := range byKind {
		v.Kinds = append(v.Kinds, kindGroup{Kind: k, Objects: objs})
	}
	sort.Slice(v.Kinds, func(i, j int) bool { return v.Kinds[i].Kind < v.Kinds[j].Kind })
	for _, rec := range st.History {
		v.History = append(v.History, historyRow{Record: rec, URL: commitURL(row.Repo, rec.Revision)})
	}
	v.Revisions = st.Succeeded
	for _, e := range events {
		if strings.Contains(e.Summary, row.Name) {
			v.Events = append(v.Events, e)
		}
	}
	return v
}

func (v *appView) setDiff(res deploy.DiffResult, err error) {
	d := &diffView{Revision: res.Revision, InSync: res.InSync, Objects: res.Objects}
	if err != nil {
		d.Error = err.Error()
	}
	v.Diff = d
}

// imagesView is the images page: policies per repository and the
// pipeline.
type imagesView struct {
	Repos    []repoImages
	Pipeline Pipeline
}

type repoImages struct {
	URL, Branch string
	LastScan    time.Time
	ScanError   string
	Scanned     bool
	Policies    []policyView
	FileErrors  []server.FileErrorStatus
}

type policyView struct {
	server.PolicyStatus
	Refs  []refView
	Pulls []server.GroupStatus
	Holds []server.HoldStatus
}

type refView struct {
	server.ReferenceStatus
	URL string
}

// Pipeline says which version of each image each app gets from git.
type Pipeline struct {
	Images []PipelineRow `json:"images"`
}

// PipelineRow is one image: the apps whose manifests name it, each with
// the versions named.
type PipelineRow struct {
	Image  string         `json:"image"`
	Policy string         `json:"policy"`
	Newest string         `json:"newest,omitempty"`
	Apps   []PipelineCell `json:"apps"`
}

// PipelineCell is one app's version of an image.
type PipelineCell struct {
	App     string `json:"app"`
	Version string `json:"version"`
	Behind  bool   `json:"behind,omitempty"` // a newer allowed tag exists
}

func newImagesView(snap server.Snapshot, apps []deploy.App) imagesView {
	var v imagesView
	apps = slices.Clone(apps)
	slices.SortFunc(apps, func(a, b deploy.App) int { return strings.Compare(a.Name, b.Name) })
	// Each app's repository and directory, normalised once.
	type appDir struct{ name, repo, dir string }
	dirs := make([]appDir, len(apps))
	for i, a := range apps {
		dirs[i] = appDir{a.Name, normRepo(a.RepoURL), strings.Trim(path.Clean("/"+a.Path), "/")}
	}
	for _, r := range snap.Repos {
		rrepo := normRepo(r.URL)
		ri := repoImages{URL: r.URL, Branch: r.Branch}
		if r.LastCycle != nil {
			ri.LastScan, ri.ScanError = r.LastCycle.Time, r.LastCycle.Error
		}
		if r.Scan != nil {
			ri.Scanned = true
			ri.FileErrors = r.Scan.FileErrors
			for _, p := range r.Scan.Policies {
				pv := policyView{PolicyStatus: p}
				files := map[string]bool{}
				row := PipelineRow{Image: p.Image, Policy: p.Name, Newest: p.Tag, Apps: []PipelineCell{}}
				seen := map[PipelineCell]bool{}
				for _, ref := range p.References {
					pv.Refs = append(pv.Refs, refView{ReferenceStatus: ref, URL: blobURL(r.URL, r.Branch, ref.File, ref.Line)})
					files[ref.File] = true
					for _, a := range dirs {
						if a.repo != "" && a.repo != rrepo || !under(ref.File, a.dir) {
							continue
						}
						c := PipelineCell{App: a.name, Version: ref.Current, Behind: ref.Status == "update"}
						if !seen[c] {
							seen[c] = true
							row.Apps = append(row.Apps, c)
						}
					}
				}
				for _, g := range r.Groups {
					touches := g.Group == p.Name
					for _, c := range g.Changes {
						touches = touches || files[c.File]
					}
					if !touches {
						continue
					}
					if g.PullNumber != 0 && g.Action != "closed" && g.Action != "would-close" {
						pv.Pulls = append(pv.Pulls, g)
					}
					for _, h := range g.Holds {
						if files[h.File] {
							pv.Holds = append(pv.Holds, h)
						}
					}
				}
				ri.Policies = append(ri.Policies, pv)
				v.Pipeline.Images = append(v.Pipeline.Images, row)
			}
		}
		v.Repos = append(v.Repos, ri)
	}
	return v
}

// normRepo is a repository URL without credentials and .git, "" for "".
func normRepo(s string) string {
	if s == "" {
		return ""
	}
	return strings.TrimSuffix(strings.TrimSuffix(gitrepo.StripCredentials(s), "/"), ".git")
}

// under reports whether file is the (cleaned) app directory or below it.
func under(file, dir string) bool {
	if dir == "" {
		return true
	}
	return file == dir || strings.HasPrefix(file, dir+"/")
}
