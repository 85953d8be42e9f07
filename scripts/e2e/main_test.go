//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// env is what every test shares: one registry, one buildkitd, one dockerd
// per run (starting them is the slow part), set up by TestMain.
var env struct {
	root     string // repository root
	cache    string // FIBER_CACHE_DIR
	bin      string // buildkitd, buildctl, buildx
	image    string // docker-bake.hcl's IMAGE: the repository the tests push to
	source   string // docker-bake.hcl's SOURCE_URL
	state    string // this run's scratch directory
	registry string // 127.0.0.1:PORT of the shared registry
	readonly string // 127.0.0.1:PORT reserved for a registry that refuses pushes
	buildkit string // unix:// address of the shared buildkitd
	netns    string // /run/netns/NAME: the private dockerd's network namespace
	dockerd  string // the private dockerd's state: socket, log (dockerd.log)
	docker   []string
	// dockerEnv points the docker CLI at the private dockerd, with buildx as
	// a CLI plugin and the "fiber" builder (remote driver to buildkitd).
	dockerEnv []string
}

// teardown holds the cleanups of TestMain, run newest first.
var teardown []func()

func TestMain(m *testing.M) {
	code := 1
	defer func() {
		for i := len(teardown) - 1; i >= 0; i-- {
			teardown[i]()
		}
		os.Exit(code)
	}()
	if err := setUp(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e set-up:", err)
		return
	}
	code = m.Run()
}

func setUp() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root (buildkitd, dockerd, runc, binfmt_misc)")
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	env.root = filepath.Clean(filepath.Join(wd, "../.."))
	env.cache = os.Getenv("FIBER_CACHE_DIR")
	if env.cache == "" {
		env.cache = "/var/cache/fiber-service"
	}
	if env.state, err = os.MkdirTemp("", "fiber-e2e."); err != nil {
		return err
	}
	teardown = append(teardown, func() { os.RemoveAll(env.state) })

	if env.bin, err = lib("buildkit_tools", env.root+"/scripts/tools", env.cache); err != nil {
		return err
	}
	vars, err := bakeVariables()
	if err != nil {
		return err
	}
	env.image, env.source = vars["IMAGE"], vars["SOURCE_URL"]
	if err := quietBinfmt(); err != nil {
		return err
	}

	// The registry: the push target and, holding the stand-in base images
	// under their real names, the docker.io mirror of buildkitd and dockerd.
	port := os.Getenv("FIBER_E2E_REGISTRY_PORT")
	if port == "" {
		port = freePort()
	}
	env.registry = "127.0.0.1:" + port
	env.readonly = "127.0.0.1:" + freePort()
	regEnv := []string{"FIBER_REGISTRY_PORT=" + port}
	if _, err := runEnv(regEnv, env.root+"/scripts/registry", "start"); err != nil {
		return err
	}
	teardown = append(teardown, func() { runEnv(regEnv, env.root+"/scripts/registry", "stop") })

	env.buildkit, err = startBuildkitd("shared", env.cache+"/buildkit")
	if err != nil {
		return err
	}
	if err := pushStandins(env.buildkit); err != nil {
		return err
	}

	// dockerd's network namespace is named after the registry port, so that
	// two runs (two work trees) can share a machine.
	env.dockerd = env.state + "/docker"
	netns := "fiber-e2e-" + port
	env.netns = "/run/netns/" + netns
	pid, err := lib("dockerd_start", env.dockerd, netns, env.registry)
	if err != nil {
		return err
	}
	teardown = append(teardown, func() { lib("dockerd_stop", pid, env.dockerd, netns) })
	stopRelay, err := relayRegistry(env.netns, env.registry)
	if err != nil {
		return err
	}
	teardown = append(teardown, stopRelay)

	config := env.state + "/docker-config"
	if err := os.MkdirAll(config+"/cli-plugins", 0o755); err != nil {
		return err
	}
	if err := copyFile(env.bin+"/buildx", config+"/cli-plugins/docker-buildx", 0o755); err != nil {
		return err
	}
	env.dockerEnv = []string{
		"DOCKER_HOST=unix://" + env.dockerd + "/docker.sock",
		"DOCKER_CONFIG=" + config,
		// The offline stand-ins have no SBOM scanner image; see docs/image.md.
		"SBOM=false",
	}
	_, err = runEnv(env.dockerEnv, "docker", "buildx", "create", "--name", "fiber", "--driver", "remote",
		"--use", strings.TrimSpace(env.buildkit))
	return err
}

// startBuildkitd starts a buildkitd with its state in root that uses the
// shared registry as its docker.io mirror; it is stopped (and a root under
// the scratch directory removed) at the end of the run. Returns its address.
func startBuildkitd(name, root string) (string, error) {
	dir := env.state + "/buildkitd-" + name
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if _, err := lib("buildkitd_config", dir+"/buildkitd.toml", env.registry, env.readonly); err != nil {
		return "", err
	}
	pid, err := lib("buildkitd_start", env.bin, root, dir, dir+"/buildkitd.toml")
	if err != nil {
		return "", err
	}
	teardown = append(teardown, func() {
		lib("daemon_stop", pid)
		if strings.HasPrefix(root, env.state) {
			lib("buildkit_rm_root", root)
		}
	})
	return "unix://" + dir + "/buildkitd.sock", nil
}

// pushStandins puts the stand-in base images into the shared registry.
func pushStandins(buildkit string) error {
	print, err := runEnv([]string{"BUILDX_CONFIG=" + env.state + "/buildx-print"},
		env.bin+"/buildx", "bake", "--print", "validate")
	if err != nil {
		return err
	}
	args := jsonField(print, "target", "validate", "args")
	_, err = lib("standins_push", env.bin, buildkit, env.cache, alpineDir(), env.registry,
		args["GO_VERSION"], args["ALPINE_VERSION"])
	return err
}

// bakeVariables are the bake file's variables as buildx resolves them: the
// image name is read from docker-bake.hcl, the one place that names it.
func bakeVariables() (map[string]string, error) {
	out, err := runEnv([]string{"BUILDX_CONFIG=" + env.state + "/buildx-print"},
		env.bin+"/buildx", "bake", "--list", "type=variables,format=json")
	if err != nil {
		return nil, err
	}
	var list []struct {
		Name  string  `json:"name"`
		Value *string `json:"value"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return nil, fmt.Errorf("buildx bake --list type=variables,format=json: %v", err)
	}
	vars := map[string]string{}
	for _, v := range list {
		if v.Value != nil {
			vars[v.Name] = *v.Value
		}
	}
	if vars["IMAGE"] == "" || vars["SOURCE_URL"] == "" {
		return nil, fmt.Errorf("buildx bake --list: no IMAGE or SOURCE_URL in %s", out)
	}
	return vars, nil
}

func alpineDir() string {
	if d := os.Getenv("ALPINE_ROOTFS_DIR"); d != "" {
		return d
	}
	return env.root + "/../shared/alpine"
}

// quietBinfmt switches off every arm64 binfmt handler for the run (and back
// on at the end): the builds must not need one. Tests that run arm64 programs
// register their own (emulateArm64).
func quietBinfmt() error {
	mounted, err := lib("binfmt_mount")
	if err != nil {
		return err
	}
	if mounted == "mounted" {
		teardown = append(teardown, func() { run("umount", "/proc/sys/fs/binfmt_misc") })
	}
	enabled, err := lib("binfmt_aarch64_enabled")
	if err != nil || enabled == "" {
		return err
	}
	entries := strings.Fields(enabled)
	teardown = append(teardown, func() { lib("binfmt_enable", entries...) })
	_, err = lib("binfmt_disable", entries...)
	return err
}
