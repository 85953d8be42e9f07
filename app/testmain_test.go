package app

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// serverBin is the real program, built once by TestMain for the process
// tests: they exercise exactly what ships, signals and exit codes included.
var serverBin string

// coverDir is where the server processes write their coverage counters
// when the tests run with -cover: the test binary merges everything in it
// into its own profile, so code that only the process tests reach counts as
// covered (for `go test -cover` and for the mutation testing in
// scripts/mutate alike).
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
	args := []string{"build", "-o", serverBin,
		"-ldflags", "-X " + appPackage + ".version=test-1.2.3 -X " + appPackage + ".commit=testcommit"}
	if mode := testing.CoverMode(); mode != "" {
		args = append(args, "-cover", "-covermode="+mode, "-coverpkg="+appPackage)
		if f := flag.Lookup("test.gocoverdir"); f != nil {
			coverDir = f.Value.String()
		}
	}
	build := exec.Command("go", append(args, "./cmd/server")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building server:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
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
