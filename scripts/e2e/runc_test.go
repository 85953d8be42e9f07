//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// bootWithRunc unpacks one platform's image into a runc bundle and runs it
// hardened: read-only root, no capabilities, no-new-privileges, the image's
// user, host network (so the test reaches its port). arm64 runs under QEMU.
func bootWithRunc(t *testing.T, img v1.Image, arch string) {
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

	port := freePort()
	harden(t, bundle+"/config.json", port)
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

	base := "http://127.0.0.1:" + port
	waitFor(t, arch+" service answers /livez", 60*time.Second, func() error {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(dir + "/server.log")
			t.Fatalf("container exited: %v\n%s", err, log)
		default:
		}
		_, _, err := get(base + "/livez")
		return err
	})
	checkServes(t, base, arch, testVersion)

	if _, err := run("runc", append(runc, "exec", id, "/usr/local/bin/server", "healthcheck")...); err != nil {
		t.Errorf("server healthcheck inside the container: %v", err)
	}
	// What the running process really has, not what the bundle asked for.
	status := must(t, nil, "runc", append(runc, "exec", id, "cat", "/proc/1/status")...)
	for _, want := range []string{"Uid:\t65532\t65532\t65532\t65532", "Gid:\t65532\t65532\t65532\t65532",
		"CapEff:\t0000000000000000", "CapBnd:\t0000000000000000", "NoNewPrivs:\t1"} {
		if !strings.Contains(status, want) {
			t.Errorf("%s: /proc/1/status lacks %q:\n%s", arch, want, status)
		}
	}
	if _, err := run("runc", append(runc, "exec", id, "/usr/local/bin/server", "version")...); err != nil {
		t.Errorf("server version: %v", err)
	}
	if r := runResult(t, nil, "runc", append(runc, "exec", id, "touch", "/tmp/x")...); r.code == 0 {
		t.Errorf("%s: the root filesystem is writable", arch)
	}

	must(t, nil, "runc", append(runc, "kill", id, "TERM")...)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("%s: after SIGTERM: %v, want exit 0", arch, err)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("%s: still running 30 s after SIGTERM", arch)
	}
	log, _ := os.ReadFile(dir + "/server.log")
	if first, _, _ := strings.Cut(string(log), "\n"); !strings.Contains(first, `"msg":"listening"`) {
		t.Errorf("%s: first log line %q, want the listening line", arch, first)
	}
}

// harden edits a bundle's config.json as the README's docker run flags
// would, and sets PORT.
func harden(t *testing.T, file, port string) {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]any
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	spec["root"].(map[string]any)["readonly"] = true
	proc := spec["process"].(map[string]any)
	proc["terminal"] = false
	proc["noNewPrivileges"] = true
	proc["capabilities"] = map[string]any{"bounding": []string{}, "effective": []string{},
		"permitted": []string{}, "inheritable": []string{}, "ambient": []string{}}
	var envs []any
	for _, e := range proc["env"].([]any) {
		if !strings.HasPrefix(e.(string), "PORT=") {
			envs = append(envs, e)
		}
	}
	proc["env"] = append(envs, "PORT="+port)
	linux := spec["linux"].(map[string]any)
	var ns []any
	for _, n := range linux["namespaces"].([]any) {
		if n.(map[string]any)["type"] != "network" {
			ns = append(ns, n)
		}
	}
	linux["namespaces"] = ns
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
