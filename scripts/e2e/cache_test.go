//go:build e2e

package e2e

import (
	"bufio"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestReproducible: with SOURCE_DATE_EPOCH set, a build on brand-new
// buildkitds with empty roots (nothing cached, not even the Go build cache)
// gives the same per-platform manifest digests as the shared builder. The
// empty builders are the split build's nodes, a platform each, on which it
// is the first build: one cold build serves this test and the split ones.
func TestReproducible(t *testing.T) {
	requireNoEmulation(t)
	a := platformDigests(t, openArchive(t, buildArchive(t, env.buildkit)))
	splitBuild(t)
	if !split.onEmptyNodes {
		t.Fatal("the split build's nodes had built before it: they were not empty (run the split build first)")
	}
	t.Logf("cold build of each platform on an empty buildkitd, at once: %s", split.took.Round(time.Second))
	b := splitDigests(t)
	for _, p := range wantPlatforms {
		t.Logf("%s: %s / %s", p, a[p], b[p])
		if a[p] == "" || a[p] != b[p] {
			t.Errorf("%s: digest %q from the shared builder, %q from an empty one", p, a[p], b[p])
		}
	}
}

// splitDigests maps each platform to the image manifest digest the split
// build pushed for it (read from its metadata file and the registry).
func splitDigests(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range wantPlatforms {
		b, err := os.ReadFile(split.metadata[p])
		if err != nil {
			t.Fatal(err)
		}
		var md map[string]map[string]any
		if err := json.Unmarshal(b, &md); err != nil {
			t.Fatal(err)
		}
		d, _ := md["image-digest-"+strings.ReplaceAll(p, "/", "-")]["containerimage.digest"].(string)
		out[p] = platformDigests(t, remoteIndex(t, env.registry+"/"+env.image+"@"+d))[p]
	}
	return out
}

// TestReproduciblePush: the README's push, `docker login --password-stdin`
// then `docker buildx bake --push` with
// SOURCE_DATE_EPOCH set, gives per-platform manifests byte for byte those of
// the split build (image-digest) of the same commit: rewrite-timestamp is on
// every pushed output.
func TestReproduciblePush(t *testing.T) {
	requireNoEmulation(t)
	splitBuild(t)
	// The README's login, its password on stdin as from `aws ecr
	// get-login-password |`. The registry here asks for no password, so
	// this runs the command line and the CLI's store of the login, not ECR's
	// check of a token.
	login, stdout, stderr := command(env.dockerEnv, "docker", "login", "--username", "AWS", "--password-stdin", env.registry)
	login.Stdin = strings.NewReader("a-token-from-aws-ecr-get-login-password\n")
	if err := login.Run(); err != nil || !strings.Contains(stdout.String(), "Login Succeeded") {
		t.Fatalf("docker login --username AWS --password-stdin %s: %v\n%s%s", env.registry, err, stdout, stderr)
	}
	t.Cleanup(func() { runEnv(env.dockerEnv, "docker", "logout", env.registry) })

	ref := env.registry + "/" + env.image + ":e2e-repro-push"
	vars := append(append([]string{"REGISTRY=" + env.registry, "TAG=e2e-repro-push"}, buildVars...), env.dockerEnv...)
	must(t, vars, "docker", "buildx", "bake", "--push")
	pushed := platformDigests(t, remoteIndex(t, ref))
	splits := splitDigests(t)
	for _, p := range wantPlatforms {
		t.Logf("%s: bake --push %s, split build %s", p, pushed[p], splits[p])
		if pushed[p] == "" || pushed[p] != splits[p] {
			t.Errorf("%s: bake --push gave %s, the split build %s", p, pushed[p], splits[p])
		}
	}
}

// TestRegistryCache: one builder exports the build cache to the registry
// (CACHE=REGISTRY/IMAGE-cache, mode=max); a brand-new builder with
// an empty state then builds both platforms with every Go step CACHED.
func TestRegistryCache(t *testing.T) {
	requireNoEmulation(t)
	cache := env.registry + "/" + env.image + "-cache"
	vars := append([]string{"CACHE=" + cache}, env.dockerEnv...)
	must(t, vars, "docker", "buildx", "bake", "image")

	// The cache is an OCI image manifest (image-manifest=true,
	// oci-mediatypes=true in the bake file), the form ECR takes, not an index.
	ref := cache + ":image-linux-amd64-linux-arm64"
	cacheRef, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	d, err := remote.Get(cacheRef)
	if err != nil {
		t.Fatalf("%s: %v", ref, err)
	}
	if d.MediaType != types.OCIManifestSchema1 {
		t.Errorf("%s: media type %s, want %s", ref, d.MediaType, types.OCIManifestSchema1)
	} else if img, err := d.Image(); err != nil {
		t.Error(err)
	} else if m, err := img.Manifest(); err != nil {
		t.Error(err)
	} else if m.Config.MediaType != "application/vnd.buildkit.cacheconfig.v0" {
		t.Errorf("%s: config media type %s, want BuildKit's cache config", ref, m.Config.MediaType)
	} else {
		t.Logf("%s: %s, config %s, %d layers", ref, d.MediaType, m.Config.MediaType, len(m.Layers))
	}

	fresh, err := startBuildkitd("cache", env.state+"/buildkit-cache")
	if err != nil {
		t.Fatal(err)
	}
	docker(t, "buildx", "create", "--name", "fiber-fresh", "--driver", "remote", fresh)
	t.Cleanup(func() { runEnv(env.dockerEnv, "docker", "buildx", "rm", "fiber-fresh") })
	start := time.Now()
	r := runResult(t, vars, "docker", "buildx", "bake", "--builder", "fiber-fresh", "--progress", "rawjson", "image")
	if r.code != 0 {
		t.Fatalf("bake on the fresh builder: exit %d\n%s", r.code, tail(r.stderr, 30))
	}
	t.Logf("both platforms on an empty builder from the registry cache: %s", time.Since(start).Round(100*time.Millisecond))

	goSteps := goStepsCached(t, r.stderr)
	if len(goSteps) < 3 { // go mod download, and go build for each platform
		t.Fatalf("found %d Go steps in the build log, want at least 3: %v", len(goSteps), goSteps)
	}
	for step, cached := range goSteps {
		if !cached {
			t.Errorf("not CACHED on the fresh builder: %s", step)
		}
	}
}

// goStep matches the Dockerfile's Go steps: go mod download (deps) and
// go build (build), per platform.
var goStep = regexp.MustCompile(`^\[(\S+ )?(deps|build) \d+/\d+\] RUN `)

// goStepsCached reads a --progress rawjson log and reports, for each Go step,
// whether BuildKit took it from the cache.
func goStepsCached(t *testing.T, log string) map[string]bool {
	steps := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var status struct {
			Vertexes []struct {
				Name      string
				Cached    bool
				Completed *time.Time
			}
		}
		if json.Unmarshal(sc.Bytes(), &status) != nil {
			continue
		}
		for _, v := range status.Vertexes {
			if !goStep.MatchString(v.Name) {
				continue
			}
			if v.Cached || v.Completed != nil {
				steps[v.Name] = steps[v.Name] || v.Cached
			}
		}
	}
	return steps
}
