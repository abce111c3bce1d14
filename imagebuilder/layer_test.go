package imagebuilder

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// untar returns the files of a tar archive by name, and their headers.
func untar(t *testing.T, data []byte) (map[string][]byte, map[string]*tar.Header) {
	t.Helper()
	files, headers := map[string][]byte{}, map[string]*tar.Header{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return files, headers
		}
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[hdr.Name], headers[hdr.Name] = b, hdr
	}
}

func TestCodeLayer(t *testing.T) {
	const code = "def main(args, context):\n    return 1\n"
	layer, diffID, err := codeLayer(code)
	if err != nil {
		t.Fatal(err)
	}
	again, againID, _ := codeLayer(code)
	if !bytes.Equal(layer, again) || diffID != againID {
		t.Error("the same code made two different layers")
	}
	if _, otherID, _ := codeLayer(code + "# edited\n"); otherID == diffID {
		t.Error("different code made the same layer")
	}
	sum := sha256.Sum256(layer)
	if diffID != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Errorf("diff id %s is not the layer's sha256", diffID)
	}
	files, headers := untar(t, layer)
	if string(files["opt/faaspot/function/main.py"]) != code {
		t.Errorf("layer files %v, want the code at %s", headers, FunctionPath)
	}
	for name, hdr := range headers {
		if hdr.Uid != 0 || hdr.Gid != 0 {
			t.Errorf("%s owned by %d:%d, want root", name, hdr.Uid, hdr.Gid)
		}
		// The sandbox runs as nobody: the code must be readable, never writable by it.
		if want := map[byte]int64{tar.TypeDir: 0o755, tar.TypeReg: 0o644}[hdr.Typeflag]; hdr.Mode != want {
			t.Errorf("%s mode %o, want %o", name, hdr.Mode, want)
		}
	}
	if len(headers) != 2 {
		t.Errorf("layer holds %d entries, want the function directory and main.py", len(headers))
	}
}

func TestCodeImageArchive(t *testing.T) {
	deps := image.InspectResponse{Architecture: "amd64", Os: "linux",
		Config: &dockerspec.DockerOCIImageConfig{ImageConfig: ocispec.ImageConfig{
			Entrypoint: []string{"python3", "-I", RunnerPath}, WorkingDir: "/tmp",
			Labels: map[string]string{LabelManaged: "true"}}},
		RootFS: image.RootFS{Type: "layers", Layers: []string{"sha256:aa", "sha256:bb"}}}
	const depsRef, tag, code = "faaspot/t-1/d-2:deps-x", "faaspot/t-1/d-2:y", "def main(args, context):\n    return 2\n"
	archive, err := codeImageArchive(deps, depsRef, tag, code, map[string]string{"io.faaspot.node": "n1"}, time.Unix(1e9, 0))
	if err != nil {
		t.Fatal(err)
	}
	files, _ := untar(t, archive)
	var manifest []loadManifest
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		t.Fatalf("manifest %s: %v", files["manifest.json"], err)
	}
	m := manifest[0]
	if !slices.Equal(m.RepoTags, []string{tag}) || len(m.Layers) != 3 {
		t.Errorf("manifest = %+v, want tag %s and three layers", m, tag)
	}
	// Only the code layer travels: the engine already holds the dependencies' layers.
	if len(files) != 3 || files[m.Layers[2]] == nil || files[m.Layers[0]] != nil {
		t.Errorf("archive holds %d files; want manifest, config and the code layer only", len(files))
	}
	var cfg imageConfig
	if err := json.Unmarshal(files[m.Config], &cfg); err != nil {
		t.Fatalf("config: %v", err)
	}
	_, diffID, _ := codeLayer(code)
	if want := []string{"sha256:aa", "sha256:bb", diffID}; !slices.Equal(cfg.RootFS.DiffIDs, want) {
		t.Errorf("diff ids %v, want %v", cfg.RootFS.DiffIDs, want)
	}
	if len(cfg.History) != 3 {
		t.Errorf("%d history entries for 3 layers", len(cfg.History))
	}
	c := cfg.Config
	if c == nil || c.Labels[LabelDeps] != depsRef || c.Labels[LabelManaged] != "true" || c.Labels["io.faaspot.node"] != "n1" ||
		!slices.Equal(c.Entrypoint, deps.Config.Entrypoint) || c.WorkingDir != "/tmp" {
		t.Errorf("image config %+v, want the dependencies' config labelled %s=%s", c, LabelDeps, depsRef)
	}
	if cfg.Architecture != "amd64" || cfg.OS != "linux" {
		t.Errorf("platform %s/%s", cfg.OS, cfg.Architecture)
	}
	if _, ok := deps.Config.Labels[LabelDeps]; ok {
		t.Error("the dependencies image's own labels were changed")
	}
	sum := sha256.Sum256(files[m.Config])
	if m.Config != hex.EncodeToString(sum[:])+".json" {
		t.Errorf("config named %s, not by its digest", m.Config)
	}

	if _, err := codeImageArchive(image.InspectResponse{}, depsRef, tag, code, nil, time.Now()); err == nil {
		t.Error("an image without layers or configuration was accepted as dependencies")
	}
}

func TestParseRepository(t *testing.T) {
	tag := imageTag(Spec{TenantID: "0a1b2c3d4e5f6071", DeploymentID: "8899aabbccddeeff", Code: "x"}, Config{})
	for _, tt := range []struct {
		tag  string
		want Ref
		ok   bool
	}{
		{tag, Ref{"0a1b2c3d4e5f6071", "8899aabbccddeeff"}, true},
		{"faaspot/t-0a1b/d-88:deps-0011", Ref{"0a1b", "88"}, true}, // an earlier release's
		{"faaspot/t-0a1b/deps:0011", Ref{}, false},                 // the tenant's, no deployment's
		{"faaspot/python:bookworm", Ref{}, false},
		{"faaspot/t-/d-88:x", Ref{}, false},
		{"faaspot/t-0a1b/d-88/extra:x", Ref{}, false},
		{"<none>:<none>", Ref{}, false},
	} {
		if got, ok := parseRepository(tt.tag); got != tt.want || ok != tt.ok {
			t.Errorf("parseRepository(%q) = %v, %v; want %v, %v", tt.tag, got, ok, tt.want, tt.ok)
		}
	}
}

// TestRemoveOwnedNeedsLabels: a builder without labels would own every deployment image on the
// engine; RemoveOwned refuses before asking the engine anything.
func TestRemoveOwnedNeedsLabels(t *testing.T) {
	b := New(nil, Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := b.RemoveOwned(context.Background()); err == nil {
		t.Error("RemoveOwned without labels went ahead")
	}
}
