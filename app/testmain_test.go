package app

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// serverBin is the real program, built once by TestMain for the process
// tests: they exercise exactly what ships, signals and exit codes included.
var serverBin string

// coverDir is where the server processes write their coverage counters
// when the tests run with -coverprofile. TestMain adds them to the profile,
// so that code only the process tests reach counts as covered (for
// `go tool cover` and for the mutation testing in scripts/mutate alike).
// The test binary does not merge them itself: it only reads counters of
// its own build (go.dev/issue/57924).
var coverDir string

const appPackage = "github.com/example/fiber-service/app"

func TestMain(m *testing.M) {
	flag.Parse()
	// Fuzz workers are child processes that only run the fuzz target.
	if f := flag.Lookup("test.fuzzworker"); f != nil && f.Value.String() == "true" {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "server-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	serverBin = filepath.Join(dir, "server")
	// -buildvcs=false: the test binary carries no VCS stamp, so the server
	// must not either for the two to describe the same build (go build
	// stamps the commit time in a git checkout by default).
	args := []string{"build", "-o", serverBin, "-buildvcs=false",
		"-ldflags", "-X " + appPackage + ".version=test-1.2.3 -X " + appPackage + ".commit=testcommit"}
	profile := ""
	if f := flag.Lookup("test.coverprofile"); f != nil && testing.CoverMode() != "" {
		profile = f.Value.String()
	}
	if profile != "" {
		coverDir = filepath.Join(dir, "cover")
		if err := os.Mkdir(coverDir, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		// The main package too: its instrumentation writes the counters at exit.
		args = append(args, "-cover", "-covermode="+testing.CoverMode(), "-coverpkg="+appPackage+"/...")
	}
	build := exec.Command("go", append(args, "./cmd/server")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building server:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	if profile != "" {
		if err := addServerCoverage(profile); err != nil {
			fmt.Fprintln(os.Stderr, "adding the server processes' coverage:", err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// addServerCoverage appends the counters the server processes wrote to the
// text profile the test binary wrote (relative to the go test's working
// directory, as go test passes it). Tools that read profiles merge blocks
// listed twice.
func addServerCoverage(profile string) error {
	text := filepath.Join(filepath.Dir(serverBin), "server-cover.txt")
	out, err := exec.Command("go", "tool", "covdata", "textfmt", "-i="+coverDir, "-o="+text, "-pkg="+appPackage).CombinedOutput()
	if err != nil {
		return fmt.Errorf("go tool covdata: %v: %s", err, out)
	}
	data, err := os.ReadFile(text)
	if err != nil {
		return err
	}
	_, blocks, _ := strings.Cut(string(data), "\n") // after the "mode:" line
	f, err := os.OpenFile(profile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(blocks); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// serverCmd is the program with args, its environment the test's plus env
// (KEY=VALUE; later entries win).
func serverCmd(env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(serverBin, args...)
	cmd.Env = append(os.Environ(), env...)
	if coverDir != "" {
		cmd.Env = append(cmd.Env, "GOCOVERDIR="+coverDir)
	}
	return cmd
}
