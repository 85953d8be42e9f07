//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// command is name args run in the repository root, with the environment
// plus extra, its outputs captured.
func command(extra []string, name string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), extra...)
	cmd.Dir = env.root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr
}

// runEnv runs a command with extra environment variables and returns its
// trimmed stdout; on failure the error carries the tail of stdout and stderr.
func runEnv(extra []string, name string, args ...string) (string, error) {
	cmd, stdout, stderr := command(extra, name, args...)
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err,
			tail(stdout.String()+stderr.String(), 40))
	}
	return strings.TrimSpace(stdout.String()), nil
}

func run(name string, args ...string) (string, error) { return runEnv(nil, name, args...) }

// result is a finished command: exit code and both outputs.
type result struct {
	code           int
	stdout, stderr string
}

// runResult runs a command that may fail on purpose and returns how it ended.
func runResult(t *testing.T, extra []string, name string, args ...string) result {
	t.Helper()
	cmd, stdout, stderr := command(extra, name, args...)
	code := 0
	if err := cmd.Run(); err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("%s: %v", name, err)
		}
		code = ee.ExitCode()
	}
	return result{code, stdout.String(), stderr.String()}
}

// must runs a command that has to succeed, failing the test otherwise.
func must(t *testing.T, extra []string, name string, args ...string) string {
	t.Helper()
	out, err := runEnv(extra, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// docker runs the docker CLI against the private dockerd.
func docker(t *testing.T, args ...string) string {
	t.Helper()
	return must(t, env.dockerEnv, "docker", args...)
}

// lib calls a function of scripts/lib (all of them sourced) with arguments
// and returns what it printed.
func lib(fn string, args ...string) (string, error) {
	script := `set -euo pipefail
for f in "$FIBER_LIB"/*.sh; do source "$f"; done
` + fn + ` "$@"`
	return runEnv([]string{"FIBER_LIB=" + env.root + "/scripts/lib"}, "bash", append([]string{"-c", script, fn}, args...)...)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// freePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func freePort() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

func copyFile(src, dst string, mode os.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, mode)
}

// jsonField decodes a JSON document and walks into it by keys, returning the
// string values of the object found there.
func jsonField(doc string, keys ...string) map[string]string {
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		return nil
	}
	for _, k := range keys {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	out := map[string]string{}
	m, _ := v.(map[string]any)
	for k, x := range m {
		if s, ok := x.(string); ok {
			out[k] = s
		}
	}
	return out
}

// get does GET url and returns status and body.
func get(url string) (int, string, error) {
	return getWith(&http.Client{Timeout: 5 * time.Second}, url)
}

// getWith is get through a given client (to keep its connections alive).
func getWith(client *http.Client, url string) (int, string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// waitFor polls cond until it succeeds or the deadline passes; the last
// error explains a timeout.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() error) {
	t.Helper()
	if err := poll(limit, cond); err != nil {
		t.Fatalf("%s: not within %s: %v", what, limit, err)
	}
}

// poll calls cond every 200 ms until it succeeds or limit has passed, and
// returns its last error.
func poll(limit time.Duration, cond func() error) error {
	deadline := time.Now().Add(limit)
	for {
		err := cond()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// emulateArm64 registers QEMU for arm64 programs for the rest of the test.
func emulateArm64(t *testing.T) {
	t.Helper()
	if _, err := lib("binfmt_register_aarch64", "fiber-e2e-aarch64"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lib("binfmt_remove", "fiber-e2e-aarch64") })
}

// requireNoEmulation fails the test if any arm64 binfmt handler is on: a
// build that succeeds then has run nothing for arm64.
func requireNoEmulation(t *testing.T) {
	t.Helper()
	on, err := lib("binfmt_aarch64_enabled")
	if err != nil {
		t.Fatal(err)
	}
	if on != "" {
		t.Fatalf("an arm64 binfmt handler is enabled (%s): the build could use QEMU", on)
	}
}
