//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// The commands of docs/scaling.md: a split build (one builder per
// platform, push by digest, scripts/merge-platforms), a multi-node builder,
// and a build cache scope per platform.

// nodes: one buildkitd per platform, shared by the split and multi-node
// tests (started once, stopped at the end of the run).
var nodes struct {
	once sync.Once
	addr map[string]string // platform -> unix:// address
	err  error
}

func platformNodes(t *testing.T) map[string]string {
	t.Helper()
	nodes.once.Do(func() { nodes.addr, nodes.err = startNodes("node") })
	if nodes.err != nil {
		t.Fatal(nodes.err)
	}
	return nodes.addr
}

// split is the split build, done once and shared by the tests that look at
// it: metadata files by platform, the tag it is merged into, its cache.
var split struct {
	once     sync.Once
	metadata map[string]string
	ref      string
	cache    string
	vars     []string
	took     time.Duration
	newTags  []string // tags of the repository that the builds added
	// onEmptyNodes: the split build was the first build on the nodes, so
	// each platform was built by a buildkitd with an empty root.
	onEmptyNodes bool
	err          error
}

// splitBuild runs, for each platform at once, on a builder of its own:
//
//	PLATFORMS=linux/amd64 docker buildx bake --builder fiber-amd64 --metadata-file amd64.json image-digest
//
// with CACHE set, so each exports the cache scope of its platform.
func splitBuild(t *testing.T) {
	t.Helper()
	fresh := nodes.addr == nil
	addrs := platformNodes(t)
	split.once.Do(func() {
		split.onEmptyNodes = fresh
		// The registry outlives the run: a tag and a cache of this run's own.
		run := fmt.Sprint(time.Now().Unix())
		split.ref = env.registry + "/" + env.image + ":e2e-split-" + run
		split.cache = env.registry + "/" + env.image + "-cache-split-" + run
		split.vars = append([]string{"REGISTRY=" + env.registry, "CACHE=" + split.cache}, buildVars...)
		split.metadata = map[string]string{}
		dir := env.state + "/split"
		if split.err = os.MkdirAll(dir, 0o755); split.err != nil {
			return
		}
		for _, p := range wantPlatforms {
			arch := strings.TrimPrefix(p, "linux/")
			if _, split.err = runEnv(env.dockerEnv, "docker", "buildx", "create", "--name", "fiber-"+arch,
				"--driver", "remote", "--platform", p, addrs[p]); split.err != nil {
				return
			}
			split.metadata[p] = dir + "/" + arch + ".json"
		}
		before, err := repoTags()
		if err != nil {
			split.err = err
			return
		}
		start := time.Now()
		errs := make(chan error, len(wantPlatforms))
		for _, p := range wantPlatforms {
			go func() {
				arch := strings.TrimPrefix(p, "linux/")
				vars := append(append([]string{"PLATFORMS=" + p}, split.vars...), env.dockerEnv...)
				_, err := runEnv(vars, "docker", "buildx", "bake", "--builder", "fiber-"+arch,
					"--metadata-file", split.metadata[p], "image-digest")
				errs <- err
			}()
		}
		for range wantPlatforms {
			if err := <-errs; err != nil && split.err == nil {
				split.err = err
			}
		}
		split.took = time.Since(start)
		after, err := repoTags()
		if err != nil && split.err == nil {
			split.err = err
		}
		for tag := range after {
			if !before[tag] {
				split.newTags = append(split.newTags, tag)
			}
		}
	})
	if split.err != nil {
		t.Fatal(split.err)
	}
}

// TestSplitBuild: two independent builders, one platform each, push by
// digest only; scripts/merge-platforms makes the tag. The merged index has
// both platforms with their provenance attestations, and with
// SOURCE_DATE_EPOCH its per-platform manifests are byte for byte those of the
// single-builder build of the same commit.
func TestSplitBuild(t *testing.T) {
	requireNoEmulation(t)
	splitBuild(t)
	t.Logf("both platforms on two builders at once: %s", split.took.Round(100*time.Millisecond))
	if len(split.newTags) > 0 {
		t.Errorf("the builds pushed tags %v: they should push by digest only", split.newTags)
	}
	for p, file := range split.metadata {
		var md map[string]map[string]any
		b, err := os.ReadFile(file)
		if err == nil {
			err = json.Unmarshal(b, &md)
		}
		target := "image-digest-" + strings.ReplaceAll(p, "/", "-")
		if err != nil || md[target]["containerimage.digest"] == nil {
			t.Fatalf("%s: no containerimage.digest for %s: %v\n%s", file, target, err, b)
		}
	}

	r := runResult(t, env.dockerEnv, env.root+"/scripts/merge-platforms", mergeArgs(split.ref)...)
	if r.code != 0 {
		t.Fatalf("merge-platforms: exit %d\n%s", r.code, tail(r.stderr, 20))
	}
	printed := strings.TrimSpace(r.stdout)
	idx := remoteIndex(t, split.ref)
	digest, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if want := env.registry + "/" + env.image + "@" + digest.String(); printed != want {
		t.Errorf("merge-platforms printed %q, want the tag's index %q", printed, want)
	}
	// The index's annotations, from the images' labels.
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		"revision":    testCommit,
		"version":     testVersion,
		"created":     time.Unix(1700000000, 0).UTC().Format(time.RFC3339),
		"source":      env.source,
		"description": "Small HTTP service built with Go Fiber",
	} {
		if got := im.Annotations["org.opencontainers.image."+key]; got != want {
			t.Errorf("index annotation org.opencontainers.image.%s = %q, want %q", key, got, want)
		}
	}
	// The attestations of the per-platform indexes survive the merge, each
	// still pointing at its image.
	merged := checkIndex(t, idx, true)

	single := platformDigests(t, openArchive(t, buildArchive(t, env.buildkit)))
	for _, p := range wantPlatforms {
		got := merged[p].Digest.String()
		t.Logf("%s: merged %s, single builder %s", p, got, single[p])
		if single[p] == "" || got != single[p] {
			t.Errorf("%s: merged index has %s, the single-builder build %s", p, got, single[p])
		}
	}
}

// TestSplitBuildNoAttestations: with ATTESTATIONS=false each platform is
// pushed as a plain image manifest (no index); the merge makes an index of
// the two images alone.
func TestSplitBuildNoAttestations(t *testing.T) {
	requireNoEmulation(t)
	splitBuild(t) // the builders, and their build cache
	dir := t.TempDir()
	args := []string{"-t", env.registry + "/" + env.image + ":e2e-split-noattest"}
	for _, p := range wantPlatforms {
		arch := strings.TrimPrefix(p, "linux/")
		file := dir + "/" + arch + ".json"
		vars := append(append([]string{"PLATFORMS=" + p, "ATTESTATIONS=false"}, split.vars...), env.dockerEnv...)
		must(t, vars, "docker", "buildx", "bake", "--builder", "fiber-"+arch, "--metadata-file", file, "image-digest")
		args = append(args, file)
	}
	r := runResult(t, env.dockerEnv, env.root+"/scripts/merge-platforms", args...)
	if r.code != 0 {
		t.Fatalf("merge-platforms: exit %d\n%s", r.code, tail(r.stderr, 20))
	}
	checkIndex(t, remoteIndex(t, args[1]), false)
}

// TestMultiNode: one builder, two nodes (--append, a platform each),
// `docker buildx bake image --push`: one index of both platforms, and each
// node's build records show it built its own platform only.
func TestMultiNode(t *testing.T) {
	requireNoEmulation(t)
	addrs := platformNodes(t)
	nodeBuilder(t, "fiber-multi", addrs)

	start := time.Now()
	vars := append([]string{"REGISTRY=" + env.registry, "TAG=e2e-multinode"}, env.dockerEnv...)
	must(t, vars, "docker", "buildx", "bake", "--builder", "fiber-multi", "image", "--push")
	t.Logf("both platforms on a two-node builder: %s", time.Since(start).Round(100*time.Millisecond))
	checkIndex(t, remoteIndex(t, env.registry+"/"+env.image+":e2e-multinode"), true)

	// Each daemon's own build records since the bake started: the platforms
	// it was asked to build.
	for _, p := range wantPlatforms {
		out := must(t, nil, env.bin+"/buildctl", "--addr", addrs[p], "debug", "histories", "--format", "{{json .Record}}")
		var built []string
		for _, line := range strings.Split(out, "\n") {
			if line == "" { // no records
				continue
			}
			var rec struct {
				FrontendAttrs map[string]string
				CreatedAt     struct{ Seconds int64 }
			}
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("buildctl debug histories: %v: %q", err, line)
			}
			if rec.CreatedAt.Seconds >= start.Unix() {
				built = append(built, strings.Split(rec.FrontendAttrs["platform"], ",")...)
			}
		}
		sort.Strings(built)
		if strings.Join(built, ",") != p {
			t.Errorf("the %s node built %v, want [%s] only", p, built, p)
		}
	}

	// With a cache: image-digest on a two-node builder, one target per
	// platform, each on its node and writing its own cache scope; merged.
	// New nodes, so that the cache comes from a build, as in CI, and not
	// from the nodes' own cache of the build above.
	t.Run("image-digest with a cache", func(t *testing.T) {
		cache := env.registry + "/" + env.image + "-cache-multinode-" + fmt.Sprint(time.Now().Unix())
		file := t.TempDir() + "/nodes.json"
		// PLATFORMS as a person may write it, with a space: bake and
		// merge-platforms both take it.
		vars := append([]string{"REGISTRY=" + env.registry, "CACHE=" + cache, "PLATFORMS=linux/amd64, linux/arm64"}, env.dockerEnv...)
		nodeBuilder(t, "fiber-multi-cache", newNodes(t, "multi-cache"))
		must(t, vars, "docker", "buildx", "bake", "--builder", "fiber-multi-cache", "--metadata-file", file, "image-digest")
		ref := env.registry + "/" + env.image + ":e2e-multinode-digest"
		must(t, vars, env.root+"/scripts/merge-platforms", "-t", ref, file)
		checkIndex(t, remoteIndex(t, ref), true)
		repo, err := name.NewRepository(cache, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		scopes, err := remote.List(repo)
		sort.Strings(scopes)
		if err != nil || strings.Join(scopes, ",") != "image-linux-amd64,image-linux-arm64" {
			t.Errorf("cache scopes written: %v (%v), want image-linux-amd64 and image-linux-arm64", scopes, err)
		}
		cachedOnFreshBuilders(t, "multinode", []string{"CACHE=" + cache})

		// And on a brand-new two-node builder, which rebuilt arm64 while
		// every target also read the other platform's scope first.
		t.Run("fresh two-node builder", func(t *testing.T) {
			nodeBuilder(t, "fiber-fresh-multi", newNodes(t, "fresh-multi"))
			r := runResult(t, vars, "docker", "buildx", "bake", "--builder", "fiber-fresh-multi", "--progress", "rawjson", "image-digest")
			if r.code != 0 {
				t.Fatalf("bake image-digest on the fresh two-node builder: exit %d\n%s", r.code, tail(r.stderr, 30))
			}
			steps := goStepsCached(t, r.stderr)
			if len(steps) < 2*len(wantPlatforms) { // go mod download and go build, per target
				t.Fatalf("found %d Go steps in the build log, want at least %d: %v", len(steps), 2*len(wantPlatforms), steps)
			}
			for step, cached := range steps {
				if !cached {
					t.Errorf("not CACHED on a fresh two-node builder: %s", step)
				}
			}
		})
	})
}

// startNodes starts a buildkitd with an empty root per platform, named
// NAME-ARCH, and returns their addresses by platform.
func startNodes(name string) (map[string]string, error) {
	addrs := map[string]string{}
	for _, p := range wantPlatforms {
		arch := strings.TrimPrefix(p, "linux/")
		addr, err := startBuildkitd(name+"-"+arch, env.state+"/buildkit-"+name+"-"+arch)
		if err != nil {
			return nil, err
		}
		addrs[p] = addr
	}
	return addrs, nil
}

// newNodes is startNodes for one test.
func newNodes(t *testing.T, name string) map[string]string {
	t.Helper()
	addrs, err := startNodes(name)
	if err != nil {
		t.Fatal(err)
	}
	return addrs
}

// nodeBuilder creates the remote-driver builder name with a node per
// platform (--append), each restricted to its platform, at addrs[platform].
func nodeBuilder(t *testing.T, name string, addrs map[string]string) {
	t.Helper()
	args := []string{"buildx", "create", "--name", name, "--driver", "remote"}
	for _, p := range wantPlatforms {
		docker(t, append(args, "--node", name+"-"+strings.TrimPrefix(p, "linux/"), "--platform", p, addrs[p])...)
		args = []string{"buildx", "create", "--name", name, "--append"}
	}
	t.Cleanup(func() { runEnv(env.dockerEnv, "docker", "buildx", "rm", name) })
}

// TestCachePerPlatform: the split build exported each platform's cache to
// a scope of its own (CACHE:image-linux-amd64, ...), so neither overwrote
// the other: a brand-new builder per platform finds every Go step CACHED.
// And the type=gha scopes differ by platform the same way.
func TestCachePerPlatform(t *testing.T) {
	requireNoEmulation(t)
	splitBuild(t)
	cachedOnFreshBuilders(t, "split", split.vars)

	t.Run("gha scopes", func(t *testing.T) {
		scopes := map[string]bool{}
		for _, p := range wantPlatforms {
			out := must(t, []string{"CACHE=gha", "PLATFORMS=" + p, "BUILDX_CONFIG=" + filepath.Join(t.TempDir(), "buildx")},
				env.bin+"/buildx", "bake", "--print", "image-digest")
			var print struct {
				Target map[string]struct {
					CacheTo []map[string]string `json:"cache-to"`
				}
			}
			if err := json.Unmarshal([]byte(out), &print); err != nil || len(print.Target) != 1 {
				t.Fatalf("bake --print: %v\n%s", err, out)
			}
			for _, tg := range print.Target {
				if len(tg.CacheTo) != 1 || tg.CacheTo[0]["type"] != "gha" || tg.CacheTo[0]["scope"] == "" {
					t.Fatalf("%s: cache-to %v, want one type=gha entry with a scope", p, tg.CacheTo)
				}
				scopes[tg.CacheTo[0]["scope"]] = true
			}
		}
		if len(scopes) != len(wantPlatforms) {
			t.Errorf("gha cache scopes %v: want one per platform", scopes)
		}
	})
}

// cachedOnFreshBuilders: for each platform, a brand-new builder (empty
// buildkitd) builds PLATFORMS=<platform> with vars (CACHE=...) and must find
// every Go step CACHED.
func cachedOnFreshBuilders(t *testing.T, name string, vars []string) {
	t.Helper()
	for _, p := range wantPlatforms {
		arch := strings.TrimPrefix(p, "linux/")
		t.Run(arch, func(t *testing.T) {
			fresh, err := startBuildkitd("cache-"+name+"-"+arch, env.state+"/buildkit-cache-"+name+"-"+arch)
			if err != nil {
				t.Fatal(err)
			}
			builder := "fiber-fresh-" + name + "-" + arch
			docker(t, "buildx", "create", "--name", builder, "--driver", "remote", fresh)
			t.Cleanup(func() { runEnv(env.dockerEnv, "docker", "buildx", "rm", builder) })
			vars := append(append([]string{"PLATFORMS=" + p}, vars...), env.dockerEnv...)
			r := runResult(t, vars, "docker", "buildx", "bake", "--builder", builder, "--progress", "rawjson", "image")
			if r.code != 0 {
				t.Fatalf("bake on the fresh builder: exit %d\n%s", r.code, tail(r.stderr, 30))
			}
			steps := goStepsCached(t, r.stderr)
			if len(steps) < 2 { // go mod download and go build
				t.Fatalf("found %d Go steps in the build log, want at least 2: %v", len(steps), steps)
			}
			for step, cached := range steps {
				if !cached {
					t.Errorf("not CACHED on a fresh %s builder: %s", p, step)
				}
			}
		})
	}
}
