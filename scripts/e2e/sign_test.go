//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestSignVerify: the release's signing, offline. The pinned cosign (the
// release release.yml installs, scripts/lib/cosign.sh) signs the merged
// index of the split build with --recursive and a key pair made for the
// run, against the local registry, without a transparency log; then
// scripts/verify-image, the command release.yml's verify job runs, verifies
// the index and each platform manifest. A tag pointed at another digest,
// and a signature checked against another key, fail.
func TestSignVerify(t *testing.T) {
	splitBuild(t)
	cosign, err := lib("cosign_tool", env.cache)
	if err != nil {
		t.Fatal(err)
	}
	version := must(t, nil, cosign, "version", "--json")
	t.Logf("cosign: %s", strings.Join(strings.Fields(jsonField(version)["gitVersion"]), " "))

	ref := env.registry + "/" + env.image + ":e2e-signed-" + fmt.Sprint(time.Now().Unix())
	index := must(t, env.dockerEnv, env.root+"/scripts/merge-platforms", mergeArgs(ref)...)

	dir := t.TempDir()
	keys := func(name string) (priv, pub string) {
		t.Helper()
		d := dir + "/" + name
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		cmd, _, stderr := command([]string{"COSIGN_PASSWORD="}, cosign, "generate-key-pair")
		cmd.Dir = d
		if err := cmd.Run(); err != nil {
			t.Fatalf("cosign generate-key-pair: %v\n%s", err, stderr)
		}
		return d + "/cosign.key", d + "/cosign.pub"
	}
	priv, pub := keys("release")
	_, otherPub := keys("other")
	cosignEnv := []string{"COSIGN_PASSWORD=", "COSIGN=" + cosign}

	// release.yml: cosign sign --yes --recursive "$IMAGE" (keyless there).
	start := time.Now()
	must(t, cosignEnv, cosign, "sign", "--yes", "--recursive", "--key", priv,
		"--tlog-upload=false", "--allow-http-registry", index)
	t.Logf("signed %s and its manifests in %s", index, time.Since(start).Round(100*time.Millisecond))

	// The signatures are .sig tags in the registry (cosign 2's storage,
	// which the Distribution registry 2.8 holds): one for the index and one
	// per platform manifest.
	images, _ := manifests(t, remoteIndex(t, index))
	repo, err := name.NewRepository(env.registry+"/"+env.image, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	tags, err := remote.List(repo)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, tag := range tags {
		have[tag] = true
	}
	signed := []string{strings.TrimPrefix(index, env.registry+"/"+env.image+"@")}
	for _, p := range wantPlatforms {
		signed = append(signed, images[p].Digest.String())
	}
	for _, d := range signed {
		if sig := strings.Replace(d, ":", "-", 1) + ".sig"; !have[sig] {
			t.Errorf("no signature tag %s for %s", sig, d)
		}
	}

	// release.yml's verify job, with the key instead of the workflow's
	// identity: every platform, then one platform as each runner does.
	verifyEnv := append(append([]string{}, cosignEnv...), env.dockerEnv...)
	verify := func(args ...string) result {
		return runResult(t, verifyEnv, env.root+"/scripts/verify-image", args...)
	}
	keyArgs := []string{"--", "--key", pub, "--insecure-ignore-tlog", "--allow-http-registry"}
	r := verify(append([]string{ref, index}, keyArgs...)...)
	if r.code != 0 {
		t.Fatalf("verify-image: exit %d\n%s", r.code, tail(r.stdout+r.stderr, 20))
	}
	if n := strings.Count(r.stdout, " verified"); n != 1+len(wantPlatforms) {
		t.Errorf("verify-image verified %d references, want the index and %d platform manifests:\n%s", n, len(wantPlatforms), r.stdout)
	}
	r = verify(append([]string{"-p", "linux/arm64", ref, index}, keyArgs...)...)
	if r.code != 0 || !strings.Contains(r.stdout, images["linux/arm64"].Digest.String()) {
		t.Errorf("verify-image -p linux/arm64: exit %d, want the arm64 manifest verified\n%s", r.code, tail(r.stdout+r.stderr, 20))
	}

	t.Run("another key", func(t *testing.T) {
		r := verify(ref, index, "--", "--key", otherPub, "--insecure-ignore-tlog", "--allow-http-registry")
		wantFailure(t, r, 1, "signature of "+index+" not verified")
	})

	t.Run("tag pointed at another digest", func(t *testing.T) {
		// The tag moved to an index of the amd64 image alone: not what was
		// signed.
		must(t, env.dockerEnv, "docker", "buildx", "imagetools", "create", "-t", ref,
			env.registry+"/"+env.image+"@"+images["linux/amd64"].Digest.String())
		moved := mustTagDigest(t, ref)
		if env.image+"@"+moved == strings.TrimPrefix(index, env.registry+"/") {
			t.Fatalf("the tag did not move")
		}
		r := verify(append([]string{ref, index}, keyArgs...)...)
		wantFailure(t, r, 1, ref+" is "+moved+", not the signed index")
		// And cosign itself finds no signature for what the tag now names.
		c := runResult(t, cosignEnv, cosign, "verify", "--key", pub, "--insecure-ignore-tlog", "--allow-http-registry", ref)
		if c.code == 0 {
			t.Errorf("cosign verify of the moved tag succeeded:\n%s", tail(c.stdout, 5))
		} else {
			t.Logf("cosign verify of the moved tag: exit %d: %s", c.code, lastLine(c.stderr))
		}
	})
}
