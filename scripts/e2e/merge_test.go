//go:build e2e

package e2e

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// scripts/merge-platforms: the merge of per-platform digests into one tag,
// and the inputs it refuses before moving any tag.

// mergeArgs: scripts/merge-platforms -t REF with the split's metadata files.
func mergeArgs(ref string) []string {
	args := []string{"-t", ref}
	for _, p := range wantPlatforms {
		args = append(args, split.metadata[p])
	}
	return args
}

// repoTags: the tags of REGISTRY/IMAGE.
func repoTags() (map[string]bool, error) {
	repo, err := name.NewRepository(env.registry+"/"+env.image, name.Insecure)
	if err != nil {
		return nil, err
	}
	tags, err := remote.List(repo)
	var terr *transport.Error
	if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
		err = nil // no such repository yet: no tags
	}
	out := map[string]bool{}
	for _, tag := range tags {
		out[tag] = true
	}
	return out, err
}

// tagDigest: the digest a tag points at, "" when the registry says it has
// no such tag (404); any other failure to ask is an error, so that "the tag
// did not move" is never concluded from "the registry did not answer".
func tagDigest(ref string) (string, error) {
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return "", err
	}
	d, err := remote.Head(r)
	var terr *transport.Error
	if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("%s: %w", ref, err)
	}
	return d.Digest.String(), nil
}

// mustTagDigest is tagDigest for a tag that has to exist.
func mustTagDigest(t *testing.T, ref string) string {
	t.Helper()
	d, err := tagDigest(ref)
	if err == nil && d == "" {
		err = fmt.Errorf("%s: no such tag", ref)
	}
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestMergeBadInput: sources that are missing, lack a platform, leave one
// out or repeat one are refused with one line naming the problem, and the
// tag keeps pointing where it did.
func TestMergeBadInput(t *testing.T) {
	splitBuild(t)
	ref := env.registry + "/" + env.image + ":e2e-badmerge"
	good := runResult(t, env.dockerEnv, env.root+"/scripts/merge-platforms", mergeArgs(ref)...)
	if good.code != 0 {
		t.Fatalf("merge-platforms: exit %d\n%s", good.code, tail(good.stderr, 20))
	}
	before := mustTagDigest(t, ref)
	_, attestations := manifests(t, remoteIndex(t, ref))
	var attestation string
	for _, d := range attestations {
		attestation = d.Digest.String()
	}
	amd64, arm64 := split.metadata["linux/amd64"], split.metadata["linux/arm64"]
	missing := "sha256:" + strings.Repeat("0", 64)
	images, _ := manifests(t, remoteIndex(t, ref))
	otherCommit := relabel(t, env.registry+"/"+env.image+"@"+images["linux/arm64"].Digest.String(),
		"org.opencontainers.image.revision", strings.Repeat("f", 40))

	for _, tc := range []struct {
		name    string
		sources []string
		want    []string
	}{
		{"one platform left out", []string{amd64}, []string{"no linux/arm64 image among the sources"}},
		{"digest not in the registry", []string{amd64, missing}, []string{missing, "is not in the registry"}},
		{"no platform (an attestation manifest)", []string{amd64, arm64, attestation}, []string{attestation, "is not an image of a platform"}},
		{"a platform twice", []string{amd64, arm64, amd64}, []string{"linux/amd64 comes twice"}},
		{"not a digest", []string{amd64, "latest"}, []string{"latest", "neither a metadata file nor a digest"}},
		{"images of different commits", []string{amd64, otherCommit}, []string{"the images disagree on org.opencontainers.image.revision", testCommit, strings.Repeat("f", 40)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runResult(t, env.dockerEnv, env.root+"/scripts/merge-platforms", append([]string{"-t", ref}, tc.sources...)...)
			wantFailure(t, r, 1, tc.want...)
			if after := mustTagDigest(t, ref); after != before {
				t.Errorf("%s moved from %s to %s", ref, before, after)
			}
		})
	}
}

// relabel pushes a copy of the image src (REPOSITORY@DIGEST) whose config
// has label set to value, and returns it as REPOSITORY@DIGEST.
func relabel(t *testing.T, src, label, value string) string {
	t.Helper()
	ref, err := name.ParseReference(src, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg := cf.Config.DeepCopy()
	cfg.Labels[label] = value
	img, err = mutate.Config(img, *cfg)
	if err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	dst, err := name.NewDigest(ref.Context().String()+"@"+d.String(), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(dst, img); err != nil {
		t.Fatal(err)
	}
	return dst.String()
}
