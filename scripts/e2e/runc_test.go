//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/example/fiber-service/deploy"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// bootWithRunc unpacks one platform's image into a runc bundle and runs it
// as the deploy file's container c says: its user, read-only root,
// capabilities, no_new_privs, environment, nofile and memory limit (see
// runcConfig), in a network namespace of its own that the test reaches
// through a relay. arm64 runs under QEMU.
func bootWithRunc(t *testing.T, img v1.Image, arch string, c deploy.Container) {
	if arch != "amd64" {
		emulateArm64(t)
	}
	dir := t.TempDir()
	p, err := layout.Write(dir+"/oci", empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": arch})); err != nil {
		t.Fatal(err)
	}
	bundle := dir + "/bundle"
	must(t, nil, "umoci", "unpack", "--image", dir+"/oci:"+arch, bundle)
	runcConfig(t, bundle+"/config.json", c)

	id := "fiber-e2e-" + arch
	runc := []string{"--root", dir + "/runc"}
	logFile, err := os.Create(dir + "/server.log")
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command("runc", append(runc, "run", "--bundle", bundle, id)...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		exec.Command("runc", append(runc, "delete", "-f", id)...).Run()
	})

	var base string
	waitFor(t, arch+" service answers /livez", 60*time.Second, func() error {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(dir + "/server.log")
			t.Fatalf("container exited: %v\n%s", err, log)
		default:
		}
		if base == "" {
			var state struct{ Pid int }
			out, err := run("runc", append(runc, "state", id)...)
			if err == nil {
				err = json.Unmarshal([]byte(out), &state)
			}
			if err != nil || state.Pid == 0 {
				return fmt.Errorf("runc state: %v", err)
			}
			base = relayInto(t, fmt.Sprintf("/proc/%d/ns/net", state.Pid), fmt.Sprintf("127.0.0.1:%d", c.Port))
		}
		_, _, err := get(base + "/livez")
		return err
	})
	checkServes(t, base, arch, testVersion)

	if _, err := run("runc", append(runc, "exec", id, "/usr/local/bin/server", "healthcheck")...); err != nil {
		t.Errorf("server healthcheck inside the container: %v", err)
	}
	if _, err := run("runc", append(runc, "exec", id, "/usr/local/bin/server", "version")...); err != nil {
		t.Errorf("server version: %v", err)
	}
	// What the running process really has, not what the bundle asked for.
	checkHardening(t, c, func(args ...string) (string, error) {
		return run("runc", append(append(runc, "exec", id), args...)...)
	})

	must(t, nil, "runc", append(runc, "kill", id, "TERM")...)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("%s: after SIGTERM: %v, want exit 0", arch, err)
		}
	case <-time.After(c.StopTimeout + c.TerminationGracePeriod):
		t.Errorf("%s: still running %s after SIGTERM", arch, c.StopTimeout+c.TerminationGracePeriod)
	}
	log, _ := os.ReadFile(dir + "/server.log")
	if first, _, _ := strings.Cut(string(log), "\n"); !strings.Contains(first, `"msg":"listening"`) {
		t.Errorf("%s: first log line %q, want the listening line", arch, first)
	}
}

// runcDefaultCapabilities is the set Docker, containerd and ECS give a
// container before its drops and adds (the moby default profile).
var runcDefaultCapabilities = []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"}

// runcConfig writes into a bundle's config.json (from umoci: the image's
// user, environment and entrypoint) the container settings of c, as a
// container runtime applies a task definition or a pod spec.
func runcConfig(t *testing.T, file string, c deploy.Container) {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]any
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	spec["root"].(map[string]any)["readonly"] = c.ReadOnlyRootFilesystem
	proc := spec["process"].(map[string]any)
	proc["terminal"] = false
	proc["noNewPrivileges"] = c.NoNewPrivileges
	uid, gid, ok := strings.Cut(c.User, ":")
	u, err1 := strconv.Atoi(uid)
	g, err2 := strconv.Atoi(gid)
	if !ok || err1 != nil || err2 != nil {
		t.Fatalf("%s: user %q is not uid:gid", c.Source, c.User)
	}
	proc["user"] = map[string]any{"uid": u, "gid": g}
	caps := slices.Clone(runcDefaultCapabilities)
	for _, d := range c.CapDrop {
		if d == "ALL" {
			caps = nil
		}
		caps = slices.DeleteFunc(caps, func(c string) bool { return c == "CAP_"+d })
	}
	for _, a := range c.CapAdd {
		caps = append(caps, "CAP_"+a)
	}
	proc["capabilities"] = map[string]any{"bounding": caps, "effective": caps, "permitted": caps,
		"inheritable": []string{}, "ambient": []string{}}
	env := proc["env"].([]any)
	for _, e := range c.Env {
		env = slices.DeleteFunc(env, func(x any) bool { return strings.HasPrefix(x.(string), e.Name+"=") })
		env = append(env, e.Name+"="+e.Value)
	}
	proc["env"] = env
	if c.NofileSoft > 0 {
		proc["rlimits"] = []map[string]any{{"type": "RLIMIT_NOFILE", "soft": c.NofileSoft, "hard": c.NofileHard}}
	}
	if c.MemoryLimit > 0 {
		linux := spec["linux"].(map[string]any)
		resources, _ := linux["resources"].(map[string]any)
		if resources == nil {
			resources = map[string]any{}
		}
		resources["memory"] = map[string]any{"limit": c.MemoryLimit}
		linux["resources"] = resources
	}
	if b, err = json.Marshal(spec); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkServes: / and /health byte for byte, /version names arch and (when
// not empty) the version the test built.
func checkServes(t *testing.T, base, arch, version string) {
	t.Helper()
	for path, want := range map[string]string{
		"/":       `{"key":"key","value":"value"}`,
		"/health": `{"key":"healthy","value":"healthy"}`,
	} {
		code, body, err := get(base + path)
		if err != nil || code != 200 || body != want {
			t.Errorf("%s GET %s = %d %q %v, want 200 %q", arch, path, code, body, err, want)
		}
	}
	_, body, err := get(base + "/version")
	var v struct{ Arch, Version, Commit string }
	if err != nil || json.Unmarshal([]byte(body), &v) != nil || v.Arch != arch ||
		(version != "" && (v.Version != version || v.Commit != testCommit)) {
		t.Errorf("GET /version = %q %v, want arch %s version %q commit %s", body, err, arch, version, testCommit)
	}
}
