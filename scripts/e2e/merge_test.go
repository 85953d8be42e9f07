//go:build e2e

package e2e

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
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

// repoTags: the tags of REGISTRY/fiber-service.
func repoTags() (map[string]bool, error) {
	repo, err := name.NewRepository(env.registry+"/fiber-service", name.Insecure)
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

func tagExists(ref string) (string, bool) {
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return "", false
	}
	d, err := remote.Head(r)
	if err != nil {
		return "", false
	}
	return d.Digest.String(), true
}

// TestMergeBadInput: sources that are missing, lack a platform, leave one
// out or repeat one are refused with one line naming the problem, and the
// tag keeps pointing where it did.
func TestMergeBadInput(t *testing.T) {
	splitBuild(t)
	ref := env.registry + "/fiber-service:e2e-badmerge"
	good := runResult(t, env.dockerEnv, env.root+"/scripts/merge-platforms", mergeArgs(ref)...)
	if good.code != 0 {
		t.Fatalf("merge-platforms: exit %d\n%s", good.code, tail(good.stderr, 20))
	}
	before, _ := tagExists(ref)
	_, attestations := manifests(t, remoteIndex(t, ref))
	var attestation string
	for _, d := range attestations {
		attestation = d.Digest.String()
	}
	amd64, arm64 := split.metadata["linux/amd64"], split.metadata["linux/arm64"]
	missing := "sha256:" + strings.Repeat("0", 64)

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
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runResult(t, env.dockerEnv, env.root+"/scripts/merge-platforms", append([]string{"-t", ref}, tc.sources...)...)
			wantFailure(t, r, 1, tc.want...)
			if after, _ := tagExists(ref); after != before {
				t.Errorf("%s moved from %s to %s", ref, before, after)
			}
		})
	}
}
