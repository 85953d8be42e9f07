//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// The platforms docker-bake.hcl publishes by default.
var wantPlatforms = []string{"linux/amd64", "linux/arm64"}

// openArchive reads an OCI archive (type=oci output) and returns the image
// index its index.json points at.
func openArchive(t *testing.T, file string) v1.ImageIndex {
	t.Helper()
	dir := t.TempDir()
	if err := untar(file, dir); err != nil {
		t.Fatal(err)
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	top, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	m, err := top.IndexManifest()
	if err != nil || len(m.Manifests) != 1 {
		t.Fatalf("%s: index.json should name one image index: %v %v", file, m, err)
	}
	idx, err := top.ImageIndex(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

func untar(file, dir string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.Clean("/"+h.Name))
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return err
		}
	}
}

// remoteIndex fetches an image index from a plain-HTTP registry.
func remoteIndex(t *testing.T, ref string) v1.ImageIndex {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(r)
	if err != nil {
		t.Fatalf("%s: %v", ref, err)
	}
	return idx
}

// manifests sorts an index's entries into images by platform and
// attestation manifests (platform unknown/unknown) by the image they attest.
func manifests(t *testing.T, idx v1.ImageIndex) (images map[string]v1.Descriptor, attestations map[string]v1.Descriptor) {
	t.Helper()
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	images, attestations = map[string]v1.Descriptor{}, map[string]v1.Descriptor{}
	for _, d := range m.Manifests {
		if d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
			attestations[d.Annotations["vnd.docker.reference.digest"]] = d
			continue
		}
		images[d.Platform.OS+"/"+d.Platform.Architecture+variant(d.Platform)] = d
	}
	return images, attestations
}

func variant(p *v1.Platform) string {
	if p.Variant == "" {
		return ""
	}
	return "/" + p.Variant
}

func keys(m map[string]v1.Descriptor) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ",")
}

// checkIndex: exactly the published platforms, and per image a provenance
// attestation when wantProvenance, none at all otherwise.
func checkIndex(t *testing.T, idx v1.ImageIndex, wantProvenance bool) map[string]v1.Descriptor {
	t.Helper()
	images, attestations := manifests(t, idx)
	if got, want := keys(images), strings.Join(wantPlatforms, ","); got != want {
		t.Errorf("index platforms = %s, want %s", got, want)
	}
	if !wantProvenance {
		if len(attestations) != 0 {
			t.Errorf("index has %d attestation manifests, want none", len(attestations))
		}
		return images
	}
	for platform, d := range images {
		a, ok := attestations[d.Digest.String()]
		if !ok {
			t.Errorf("%s: no attestation manifest", platform)
			continue
		}
		img, err := idx.Image(a.Digest)
		if err != nil {
			t.Fatal(err)
		}
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		for _, l := range m.Layers {
			types = append(types, l.Annotations["in-toto.io/predicate-type"])
		}
		if !strings.Contains(strings.Join(types, " "), "https://slsa.dev/provenance/") {
			t.Errorf("%s: attestation predicates %v, want SLSA provenance", platform, types)
		}
	}
	return images
}

// layerFile is one entry of a layer tarball.
type layerFile struct {
	hdr  tar.Header
	data []byte
}

// lastLayer returns the regular files of an image's last layer (ours).
func lastLayer(t *testing.T, img v1.Image) []layerFile {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || len(layers) == 0 {
		t.Fatalf("layers: %v", err)
	}
	rc, err := layers[len(layers)-1].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var files []layerFile
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeDir {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, layerFile{*h, b})
	}
}

// imageSizes: compressed (config plus layer blobs) and uncompressed bytes.
func imageSizes(t *testing.T, img v1.Image) (compressed, uncompressed int64) {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	compressed = m.Config.Size
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range layers {
		compressed += m.Layers[i].Size
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		uncompressed += n
	}
	return compressed, uncompressed
}

// elfMachine reports an ELF binary's machine and whether it asks for an
// interpreter (a dynamically linked program does).
func elfMachine(b []byte) (elf.Machine, bool, error) {
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return 0, false, err
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return f.Machine, true, nil
		}
	}
	return f.Machine, false, nil
}

var elfMachines = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
