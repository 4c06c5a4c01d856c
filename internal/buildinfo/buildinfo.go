// Package buildinfo says which Ferry this is: the version and commit
// stamped at link time, else those the Go toolchain recorded in the binary.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Info is what `ferry version` prints.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"` // "unknown" when the build stamped none
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Read returns the build's Info. version and commit are those stamped with
// -ldflags -X (empty when not): the module version and the VCS revision
// of the build info fill what they leave empty, else "dev" and "unknown".
func Read(version, commit string) Info {
	bi, _ := debug.ReadBuildInfo()
	return from(version, commit, bi)
}

func from(version, commit string, bi *debug.BuildInfo) Info {
	v := Info{Version: version, Commit: commit, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi != nil {
		if v.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && v.Commit == "" {
				v.Commit = s.Value
			}
		}
	}
	if v.Version == "" {
		v.Version = "dev"
	}
	if v.Commit == "" {
		v.Commit = "unknown"
	}
	return v
}
