//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// The Docker commands of the README and docs/image.md, run as written against the private dockerd
// with buildx as a CLI plugin and the "fiber" builder.

func TestBakeValidateTest(t *testing.T) {
	out := docker(t, "buildx", "bake", "validate", "test")
	t.Log(tail(out, 3))
}

func TestBakePrint(t *testing.T) {
	var print struct {
		Target map[string]struct{ Platforms []string }
	}
	if err := json.Unmarshal([]byte(docker(t, "buildx", "bake", "--print")), &print); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(print.Target["image"].Platforms, ","); got != strings.Join(wantPlatforms, ",") {
		t.Errorf("bake --print: image platforms %s, want %v", got, wantPlatforms)
	}
}

// TestBakeOCIArchive: docs/image.md's "without a registry" form.
func TestBakeOCIArchive(t *testing.T) {
	requireNoEmulation(t)
	file := env.root + "/image.oci.tar"
	t.Cleanup(func() { os.Remove(file) })
	docker(t, "buildx", "bake", "--set", "image.output=type=oci,dest=image.oci.tar")
	checkIndex(t, openArchive(t, file), true)
}

func TestBakeBinaries(t *testing.T) {
	requireNoEmulation(t)
	os.RemoveAll(env.root + "/dist/linux_amd64")
	os.RemoveAll(env.root + "/dist/linux_arm64")
	docker(t, "buildx", "bake", "binaries")
	for arch, machine := range elfMachines {
		file := env.root + "/dist/linux_" + arch + "/server"
		b, err := os.ReadFile(file)
		if err != nil {
			t.Errorf("bake binaries: %v", err)
			continue
		}
		got, dynamic, err := elfMachine(b)
		if err != nil || got != machine || dynamic {
			t.Errorf("%s: ELF machine %v (dynamic %v, %v), want static %v", file, got, dynamic, err, machine)
		}
	}
	out := must(t, nil, env.root+"/dist/linux_amd64/server", "version")
	if !strings.Contains(out, "amd64") {
		t.Errorf("amd64 server version: %q", out)
	}
	// The interpreter called directly: no binfmt registration needed.
	out = must(t, nil, "qemu-aarch64-static", env.root+"/dist/linux_arm64/server", "version")
	if !strings.Contains(out, "arm64") {
		t.Errorf("arm64 server version under qemu-aarch64-static: %q", out)
	}
}

// TestImageLocalDockerRun: `docker buildx bake image-local`, then the
// README's hardened docker run; Docker's own health check (the image's
// HEALTHCHECK command, interval shortened) turns healthy, docker stop drains.
func TestImageLocalDockerRun(t *testing.T) {
	docker(t, "buildx", "bake", "image-local")
	port := freePort()
	name := "fiber-e2e-local"
	t.Cleanup(func() { runEnv(env.dockerEnv, "docker", "rm", "-f", name) })
	docker(t, "run", "-d", "--name", name, "-p", "127.0.0.1:"+port+":8080",
		"--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
		"--health-interval", "1s", env.image+":latest")

	waitFor(t, "docker health status healthy", 60*time.Second, func() error {
		s := docker(t, "inspect", "--format", "{{.State.Health.Status}}", name)
		if s != "healthy" {
			return fmt.Errorf("health %s", s)
		}
		return nil
	})
	var health struct {
		Log []struct{ ExitCode int }
	}
	json.Unmarshal([]byte(docker(t, "inspect", "--format", "{{json .State.Health}}", name)), &health)
	if len(health.Log) == 0 || health.Log[len(health.Log)-1].ExitCode != 0 {
		t.Errorf("health log %+v, want probes that exit 0", health.Log)
	}
	hc := docker(t, "inspect", "--format", "{{json .Config.Healthcheck.Test}}", name)
	if hc != `["CMD","/usr/local/bin/server","healthcheck"]` {
		t.Errorf("health check command %s, want the image's own", hc)
	}
	base := publish(t, port)
	waitServing(t, name, base, 10*time.Second)
	checkServes(t, base, hostArch(), "")

	docker(t, "stop", name)
	if code := docker(t, "inspect", "--format", "{{.State.ExitCode}}", name); code != "0" {
		t.Errorf("exit code after docker stop = %s, want 0", code)
	}
	logs := dockerLogs(t, name)
	if !strings.Contains(logs, `"msg":"shutting down"`) || !strings.Contains(logs, `"msg":"stopped"`) {
		t.Errorf("no drain log lines after docker stop:\n%s", tail(logs, 5))
	}
}

func dockerLogs(t *testing.T, name string) string {
	t.Helper()
	cmd, stdout, stderr := command(env.dockerEnv, "docker", "logs", name)
	if err := cmd.Run(); err != nil {
		t.Fatalf("docker logs: %v", err)
	}
	return stdout.String() + stderr.String()
}

func hostArch() string {
	out, err := run("go", "env", "GOARCH")
	if err != nil {
		panic(err)
	}
	return out
}

// TestPushPullPerPlatform: bake --push to the local registry, the index seen
// by imagetools, and the same tag pulled and run for each platform.
func TestPushPullPerPlatform(t *testing.T) {
	requireNoEmulation(t)
	vars := append([]string{"REGISTRY=" + env.registry, "TAG=e2e-push"}, env.dockerEnv...)
	must(t, vars, "docker", "buildx", "bake", "--push")
	ref := env.registry + "/" + env.image + ":e2e-push"

	raw := docker(t, "buildx", "imagetools", "inspect", ref, "--format", "{{json .Manifest}}")
	var index struct {
		Manifests []struct {
			Platform struct{ OS, Architecture string }
		}
	}
	if err := json.Unmarshal([]byte(raw), &index); err != nil {
		t.Fatalf("imagetools inspect: %v\n%s", err, raw)
	}
	var platforms []string
	for _, m := range index.Manifests {
		platforms = append(platforms, m.Platform.OS+"/"+m.Platform.Architecture)
	}
	if got := strings.Join(platforms, " "); got != "linux/amd64 linux/arm64 unknown/unknown unknown/unknown" {
		t.Errorf("imagetools inspect platforms: %s, want both images and their two attestations", got)
	}
	checkIndex(t, remoteIndex(t, ref), true)

	for _, arch := range []string{"arm64", "amd64"} {
		t.Run(arch, func(t *testing.T) {
			if arch != hostArch() {
				emulateArm64(t)
			}
			docker(t, "pull", "--platform", "linux/"+arch, ref)
			runAndStop(t, ref, arch)
		})
	}
}

// runAndStop runs an image for one platform, checks what it serves and
// that docker stop ends it with exit code 0.
func runAndStop(t *testing.T, ref, arch string) {
	t.Helper()
	port := freePort()
	name := "fiber-e2e-" + arch
	t.Cleanup(func() { runEnv(env.dockerEnv, "docker", "rm", "-f", name) })
	docker(t, "run", "-d", "--platform", "linux/"+arch, "--name", name, "-p", "127.0.0.1:"+port+":8080",
		"--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", ref)
	base := publish(t, port)
	waitServing(t, name, base, 60*time.Second)
	checkServes(t, base, arch, "")
	docker(t, "stop", name)
	if code := docker(t, "inspect", "--format", "{{.State.ExitCode}}", name); code != "0" {
		t.Errorf("%s: exit code after docker stop = %s, want 0", arch, code)
	}
}

// TestBuildImageDockerPath: with a working buildx, scripts/build-image is
// plain `docker buildx bake image` and says so; the README's push form.
func TestBuildImageDockerPath(t *testing.T) {
	vars := append([]string{"REGISTRY=" + env.registry, "TAG=e2e-script"}, env.dockerEnv...)
	r := runResult(t, vars, env.root+"/scripts/build-image", "--", "--push")
	if r.code != 0 {
		t.Fatalf("build-image -- --push: exit %d\n%s", r.code, tail(r.stdout+r.stderr, 30))
	}
	if !strings.Contains(r.stderr, "build-image: Docker path: docker buildx bake image (builder fiber, driver remote)") {
		t.Errorf("build-image did not say it took the Docker path:\n%s", tail(r.stderr, 5))
	}
	checkIndex(t, remoteIndex(t, env.registry+"/"+env.image+":e2e-script"), true)
}

// TestBuildImageOfflinePush: the same push form on the path without Docker.
func TestBuildImageOfflinePush(t *testing.T) {
	vars := []string{"BUILDKIT_HOST=" + env.buildkit, "REGISTRY=" + env.registry, "TAG=e2e-offline"}
	r := runResult(t, vars, env.root+"/scripts/build-image", "--offline", "--", "--push")
	if r.code != 0 {
		t.Fatalf("build-image --offline -- --push: exit %d\n%s", r.code, tail(r.stdout+r.stderr, 30))
	}
	ref := env.registry + "/" + env.image + ":e2e-offline"
	if !strings.Contains(r.stdout, "pushed "+ref+"@sha256:") {
		t.Errorf("build-image did not print what it pushed:\n%s", r.stdout)
	}
	checkIndex(t, remoteIndex(t, ref), true)
}

// TestAttestationsOff: ATTESTATIONS=false pushes an index of the images
// alone, for consumers that reject unknown/unknown entries.
func TestAttestationsOff(t *testing.T) {
	vars := append([]string{"REGISTRY=" + env.registry, "TAG=e2e-noattest", "ATTESTATIONS=false"}, env.dockerEnv...)
	must(t, vars, "docker", "buildx", "bake", "--push")
	checkIndex(t, remoteIndex(t, env.registry+"/"+env.image+":e2e-noattest"), false)
}
