package buildinfo

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestFrom(t *testing.T) {
	stamped := &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}}}
	for _, tc := range []struct {
		name             string
		version, commit  string
		bi               *debug.BuildInfo
		wantVer, wantCom string
	}{
		{"ldflags win", "v9.9.9", "fff", stamped, "v9.9.9", "fff"},
		{"build info fills in", "", "", stamped, "v1.2.3", "abc123"},
		{"devel is no version", "", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "dev", "unknown"},
		{"no build info", "", "", nil, "dev", "unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := from(tc.version, tc.commit, tc.bi)
			if v.Version != tc.wantVer || v.Commit != tc.wantCom {
				t.Errorf("got version %q commit %q, want %q %q", v.Version, v.Commit, tc.wantVer, tc.wantCom)
			}
			if v.GoVersion != runtime.Version() || v.Platform != runtime.GOOS+"/"+runtime.GOARCH {
				t.Errorf("got %q %q", v.GoVersion, v.Platform)
			}
		})
	}
}

func TestRead(t *testing.T) {
	if v := Read("", ""); v.Version == "" || v.Commit == "" {
		t.Errorf("Read: %+v", v)
	}
}
