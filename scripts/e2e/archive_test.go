//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// What the test builds: fixed so that digests can be compared.
const (
	testVersion = "0.0.0-e2e"
	testCommit  = "0123456789abcdef0123456789abcdef01234567"
	testEpoch   = "1700000000"
)

var buildVars = []string{"VERSION=" + testVersion, "COMMIT=" + testCommit, "SOURCE_DATE_EPOCH=" + testEpoch}

// buildArchive runs the offline path of scripts/build-image on the given
// buildkitd and returns the OCI archive it wrote.
func buildArchive(t *testing.T, buildkit string, extra ...string) string {
	t.Helper()
	out := t.TempDir() + "/image.oci.tar"
	// build-image checks the registry of FIBER_REGISTRY_PORT (default 5000): ours.
	port := strings.TrimPrefix(env.registry, "127.0.0.1:")
	vars := append([]string{"BUILDKIT_HOST=" + buildkit, "FIBER_REGISTRY_PORT=" + port}, buildVars...)
	r := runResult(t, vars, env.root+"/scripts/build-image", append([]string{"--offline", "-o", out}, extra...)...)
	if r.code != 0 {
		t.Fatalf("build-image --offline: exit %d\n%s", r.code, tail(r.stdout+r.stderr, 40))
	}
	if !strings.Contains(r.stderr, "build-image: offline path") {
		t.Errorf("build-image did not say it took the offline path:\n%s", tail(r.stderr, 5))
	}
	return out
}

// platformDigests maps each platform of an index to its manifest digest.
func platformDigests(t *testing.T, idx v1.ImageIndex) map[string]string {
	images, _ := manifests(t, idx)
	out := map[string]string{}
	for p, d := range images {
		out[p] = d.Digest.String()
	}
	return out
}

// TestOfflineBuild builds the image as scripts/build-image does without
// Docker and checks everything about it that needs no registry.
func TestOfflineBuild(t *testing.T) {
	requireNoEmulation(t)
	archive := buildArchive(t, env.buildkit)
	idx := openArchive(t, archive)
	images := checkIndex(t, idx, true)
	for _, platform := range wantPlatforms {
		d, ok := images[platform]
		if !ok {
			continue
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		arch := strings.TrimPrefix(platform, "linux/")
		t.Run(arch+"/config", func(t *testing.T) { checkConfig(t, img, arch) })
		t.Run(arch+"/layer", func(t *testing.T) { checkOurLayer(t, img, arch) })
		t.Run(arch+"/size", func(t *testing.T) {
			comp, uncomp := imageSizes(t, img)
			t.Logf("%s: %.2f MB compressed, %.2f MB uncompressed", platform, float64(comp)/1e6, float64(uncomp)/1e6)
			if uncomp > 20e6 {
				t.Errorf("%s: %d bytes uncompressed, want <= 20 MB", platform, uncomp)
			}
		})
		// As each platform's deploy file runs it.
		t.Run(arch+"/runc/ecs", func(t *testing.T) { bootWithRunc(t, img, arch, ecsContainer(t, arch)) })
		t.Run(arch+"/runc/kubernetes", func(t *testing.T) { bootWithRunc(t, img, arch, kubernetesContainer(t, arch)) })
	}
}

func checkConfig(t *testing.T, img v1.Image, arch string) {
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	created := time.Unix(1700000000, 0).UTC().Format(time.RFC3339)
	for _, tc := range []struct{ what, got, want string }{
		{"architecture", cf.Architecture, arch},
		{"user", c.User, "65532:65532"},
		{"exposed ports", fmt.Sprint(c.ExposedPorts), "map[8080/tcp:{}]"},
		{"entrypoint", strings.Join(c.Entrypoint, " "), "/usr/local/bin/server"},
		{"healthcheck (exec form, the binary itself)", fmt.Sprint(healthTest(c)), "[CMD /usr/local/bin/server healthcheck]"},
		{"stop signal", c.StopSignal, "SIGTERM"},
		{"label revision", c.Labels["org.opencontainers.image.revision"], testCommit},
		{"label version", c.Labels["org.opencontainers.image.version"], testVersion},
		{"label created (from SOURCE_DATE_EPOCH)", c.Labels["org.opencontainers.image.created"], created},
		{"label source set", fmt.Sprint(c.Labels["org.opencontainers.image.source"] != ""), "true"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %s = %q, want %q", arch, tc.what, tc.got, tc.want)
		}
	}
}

func healthTest(c v1.Config) []string {
	if c.Healthcheck == nil {
		return nil
	}
	return c.Healthcheck.Test
}

// checkOurLayer: the layer the Dockerfile adds holds only the binary,
// root-owned, mode 0555, no set-id bits, a static ELF for arch.
func checkOurLayer(t *testing.T, img v1.Image, arch string) {
	files := lastLayer(t, img)
	if len(files) != 1 || files[0].hdr.Name != "usr/local/bin/server" {
		var names []string
		for _, f := range files {
			names = append(names, f.hdr.Name)
		}
		t.Fatalf("%s: our layer holds %v, want only usr/local/bin/server", arch, names)
	}
	h := files[0].hdr
	if h.Uid != 0 || h.Gid != 0 || h.Mode&0o7777 != 0o555 {
		t.Errorf("%s: server is %d:%d mode %o, want 0:0 mode 555 (no set-id bits)", arch, h.Uid, h.Gid, h.Mode&0o7777)
	}
	machine, dynamic, err := elfMachine(files[0].data)
	if err != nil {
		t.Fatalf("%s: server is not ELF: %v", arch, err)
	}
	if machine != elfMachines[arch] {
		t.Errorf("%s: ELF machine %v, want %v", arch, machine, elfMachines[arch])
	}
	if dynamic {
		t.Errorf("%s: server asks for an ELF interpreter; want a static binary", arch)
	}
}
