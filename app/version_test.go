package app

import (
	"runtime"
	"runtime/debug"
	"testing"
)

// -ldflags -X values win; what they leave empty comes from the toolchain's
// build info (module version unless "(devel)", VCS revision and time), and
// what neither knows is "dev" or "unknown".
func TestDescribeBuild(t *testing.T) {
	stamped := &debug.BuildInfo{
		Main: debug.Module{Version: "v1.4.0"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.time", Value: "2026-11-27T10:00:00Z"},
		},
	}
	cases := []struct {
		name                    string
		version, commit, built  string
		info                    *debug.BuildInfo
		wantV, wantC, wantBuilt string
	}{
		{"ldflags win", "1.2.3", "deadbeef", "2026-01-01", stamped, "1.2.3", "deadbeef", "2026-01-01"},
		{"build info fills in", "", "", "", stamped, "v1.4.0", "abc123", "2026-11-27T10:00:00Z"},
		{"devel is no version", "", "", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "dev", "unknown", "unknown"},
		{"no build info", "", "", "", nil, "dev", "unknown", "unknown"},
		{"empty build info", "", "", "", &debug.BuildInfo{}, "dev", "unknown", "unknown"},
	}
	for _, tc := range cases {
		b := describeBuild(tc.version, tc.commit, tc.built, tc.info)
		want := BuildInfo{tc.wantV, tc.wantC, tc.wantBuilt, runtime.Version(), runtime.GOOS, runtime.GOARCH}
		if b != want {
			t.Errorf("%s: %+v, want %+v", tc.name, b, want)
		}
	}
}
