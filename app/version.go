package app

import (
	"encoding/json"
	"runtime"
	"runtime/debug"
)

// Set at build time with -ldflags "-X github.com/example/fiber-service/app.version=…";
// empty values fall back to what the Go toolchain recorded in the binary.
var (
	version   string
	commit    string
	buildTime string
)

// BuildInfo says which build is running and on what machine.
type BuildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	BuildTime string `json:"build_time"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
}

func currentBuild() BuildInfo {
	info, _ := debug.ReadBuildInfo()
	return describeBuild(version, commit, buildTime, info)
}

// describeBuild fills in what -ldflags -X left empty from what the Go
// toolchain recorded in the binary (info, nil when there is none).
func describeBuild(version, commit, buildTime string, info *debug.BuildInfo) BuildInfo {
	b := BuildInfo{
		Version:   version,
		Commit:    commit,
		BuildTime: buildTime,
		GoVersion: runtime.Version(),
		OS:        runtime.GOOS,
		Arch:      runtime.GOARCH,
	}
	if info != nil {
		if b.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			b.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch {
			case s.Key == "vcs.revision" && b.Commit == "":
				b.Commit = s.Value
			case s.Key == "vcs.time" && b.BuildTime == "":
				b.BuildTime = s.Value
			}
		}
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	if b.BuildTime == "" {
		b.BuildTime = "unknown"
	}
	return b
}

func (b BuildInfo) JSON() []byte {
	out, err := json.Marshal(b)
	if err != nil {
		panic(err) // only strings: cannot fail
	}
	return out
}
