//go:build e2e

package e2e

import (
	"bufio"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestReproducible: with SOURCE_DATE_EPOCH set, a build on a brand-new
// buildkitd with an empty root (nothing cached, not even the Go build cache)
// gives the same per-platform manifest digests as the shared builder.
func TestReproducible(t *testing.T) {
	requireNoEmulation(t)
	a := platformDigests(t, openArchive(t, buildArchive(t, env.buildkit)))
	fresh, err := startBuildkitd("repro", env.state+"/buildkit-repro")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	b := platformDigests(t, openArchive(t, buildArchive(t, fresh)))
	t.Logf("cold build of both platforms on an empty buildkitd: %s", time.Since(start).Round(time.Second))
	for _, p := range wantPlatforms {
		t.Logf("%s: %s / %s", p, a[p], b[p])
		if a[p] == "" || a[p] != b[p] {
			t.Errorf("%s: digest %q from the shared builder, %q from an empty one", p, a[p], b[p])
		}
	}
}

// TestRegistryCache: one builder exports the build cache to the registry
// (CACHE=REGISTRY/fiber-service-cache, mode=max); a brand-new builder with
// an empty state then builds both platforms with every Go step CACHED.
func TestRegistryCache(t *testing.T) {
	requireNoEmulation(t)
	vars := append([]string{"CACHE=" + env.registry + "/fiber-service-cache"}, env.dockerEnv...)
	must(t, vars, "docker", "buildx", "bake", "image")

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
