//go:build e2e

package e2e

import (
	"net"
	"os"
	"strings"
	"testing"
)

// Bad input to the scripts ends in one line naming the problem, a non-zero
// exit, and no daemon left behind.

// lastLine is the last non-empty line of a command's stderr.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// wantFailure checks the exit code and that the last line of stderr holds
// every piece of want.
func wantFailure(t *testing.T, r result, code int, want ...string) {
	t.Helper()
	if r.code == 0 || (code != 0 && r.code != code) {
		t.Errorf("exit code %d, want %d (non-zero)", r.code, code)
	}
	line := lastLine(r.stderr)
	for _, w := range want {
		if !strings.Contains(line, w) {
			t.Errorf("last line of stderr %q does not name %q", line, w)
		}
	}
}

// daemons counts the running buildkitd and docker-registry processes.
func daemons(t *testing.T) string {
	t.Helper()
	out, _ := run("pgrep", "-c", "-x", "buildkitd")
	reg, _ := run("pgrep", "-c", "-f", "^docker-registry serve")
	return "buildkitd " + out + ", docker-registry " + reg
}

func listening(port string) bool {
	c, err := net.Dial("tcp", "127.0.0.1:"+port)
	if err == nil {
		c.Close()
	}
	return err == nil
}

func TestBadInputRegistryPortTaken(t *testing.T) {
	port := freePort()
	dir := t.TempDir()
	pid, err := lib("registry_start", dir+"/data", port, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lib("daemon_stop", pid) })
	before := daemons(t)

	vars := []string{"FIBER_REGISTRY_PORT=" + port}
	r := runResult(t, vars, env.root+"/scripts/registry", "start")
	wantFailure(t, r, 0, "127.0.0.1:"+port, "already taken by another registry")
	r = runResult(t, vars, env.root+"/scripts/build-image", "--offline")
	wantFailure(t, r, 0, "127.0.0.1:"+port, "already taken by another registry")
	if after := daemons(t); after != before {
		t.Errorf("daemons before: %s, after: %s", before, after)
	}
}

func TestBadInputRegistryRefusesPush(t *testing.T) {
	port := strings.TrimPrefix(env.readonly, "127.0.0.1:")
	dir := t.TempDir()
	pid, err := lib("registry_start", dir+"/data", port, dir, "readonly")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lib("daemon_stop", pid) })

	vars := []string{"BUILDKIT_HOST=" + env.buildkit, "REGISTRY=" + env.readonly, "TAG=refused"}
	r := runResult(t, vars, env.root+"/scripts/build-image", "--offline", "--", "--push")
	wantFailure(t, r, 1, "push to "+env.readonly+" failed")

	// The Docker path: buildx's own error names the registry.
	vars = append([]string{"REGISTRY=" + env.readonly, "TAG=refused"}, env.dockerEnv...)
	r = runResult(t, vars, "docker", "buildx", "bake", "--push")
	wantFailure(t, r, 0, env.readonly+"/"+env.image+":refused")
}

func TestBadInputNoAlpineRootfs(t *testing.T) {
	port := freePort()
	before := daemons(t)
	vars := []string{"ALPINE_ROOTFS_DIR=/nonexistent/alpine", "FIBER_REGISTRY_PORT=" + port}
	r := runResult(t, vars, env.root+"/scripts/build-image", "--offline")
	wantFailure(t, r, 0, "no Alpine minirootfs in /nonexistent/alpine", "ALPINE_ROOTFS_DIR")
	if after := daemons(t); after != before || listening(port) {
		t.Errorf("daemons before: %s, after: %s; registry port listening: %v", before, after, listening(port))
	}
}

func TestBadInputUnsupportedPlatform(t *testing.T) {
	before := daemons(t)
	vars := []string{"PLATFORMS=linux/s390x", "FIBER_REGISTRY_PORT=" + freePort()}
	r := runResult(t, vars, env.root+"/scripts/build-image", "--offline")
	wantFailure(t, r, 2, "PLATFORMS=linux/s390x", "supported: linux/amd64,linux/arm64")
	if after := daemons(t); after != before {
		t.Errorf("daemons before: %s, after: %s", before, after)
	}
	r = runResult(t, append([]string{"PLATFORMS=linux/s390x"}, env.dockerEnv...), "docker", "buildx", "bake")
	wantFailure(t, r, 0, "PLATFORMS=linux/s390x", "supported: linux/amd64,linux/arm64")
}

func TestBadInputPushWithoutRegistry(t *testing.T) {
	r := runResult(t, []string{"REGISTRY="}, env.root+"/scripts/build-image", "--offline", "--", "--push")
	wantFailure(t, r, 2, "--push needs REGISTRY")
}

// TestDockerignore: a .env and a .pem in the work tree never reach the build
// context (.dockerignore is an allow-list), seen through a throwaway
// Dockerfile that copies the whole context.
func TestDockerignore(t *testing.T) {
	for _, f := range []string{".env", "x.pem"} {
		p := env.root + "/" + f
		if _, err := os.Stat(p); err == nil {
			continue
		}
		if err := os.WriteFile(p, []byte("not-a-secret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(p) })
	}
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/Dockerfile", []byte("FROM scratch\nCOPY . /ctx\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	docker(t, "buildx", "build", "--progress=quiet", "-f", dir+"/Dockerfile", "--output", "type=local,dest="+dir+"/out", env.root)
	ctx := dir + "/out/ctx"
	for _, f := range []string{"go.mod", "go.sum", "app/cmd/server"} {
		if _, err := os.Stat(ctx + "/" + f); err != nil {
			t.Errorf("%s is not in the build context", f)
		}
	}
	for _, f := range []string{".env", "x.pem", ".git", "dist", "scripts", "deploy"} {
		if _, err := os.Stat(ctx + "/" + f); err == nil {
			t.Errorf("%s is in the build context", f)
		}
	}
}
