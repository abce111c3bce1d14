package imagebuilder

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/docker/docker/api/types/image"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
)

// LabelDeps, on a deployment image, names the dependencies image (base, runner and requirements)
// its code layer was put on, so that the dependencies image can be removed with its last user.
const LabelDeps = "io.faaspot.deps"

// A code-only redeploy does not go through the image builder: every builder step commits a layer,
// and on drivers without native diffs (fuse-overlayfs here) a commit walks the whole file tree —
// 2.4 s for a one-file COPY on this machine. Instead the deployment image is loaded
// ("docker load") as the dependencies image's layers plus one small layer holding the code.
// Layers the engine already has are not sent: the archive names them, and the engine finds them
// by their chain id. Loading that layer takes ~0.1 s.

// codeLayer returns the uncompressed layer tar that puts code at FunctionPath, and its diff id.
// It is deterministic: the same code always makes the same layer.
func codeLayer(code string) ([]byte, string, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	dir := strings.TrimPrefix(path.Dir(FunctionPath), "/") + "/"
	entries := []*tar.Header{
		{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, ModTime: epoch},
		{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(FunctionPath, "/"), Mode: 0o644,
			Size: int64(len(code)), ModTime: epoch},
	}
	for _, hdr := range entries {
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, "", err
		}
	}
	if _, err := tw.Write([]byte(code)); err != nil {
		return nil, "", err
	}
	if err := tw.Close(); err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(buf.Bytes())
	return buf.Bytes(), "sha256:" + hex.EncodeToString(sum[:]), nil
}

// imageConfig is the image configuration document of a docker-load archive.
type imageConfig struct {
	Architecture string                           `json:"architecture"`
	OS           string                           `json:"os"`
	Variant      string                           `json:"variant,omitempty"`
	Created      time.Time                        `json:"created"`
	Config       *dockerspec.DockerOCIImageConfig `json:"config"`
	RootFS       imageRootFS                      `json:"rootfs"`
	History      []map[string]string              `json:"history"`
}

type imageRootFS struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids"`
}

// loadManifest is one entry of a docker-load archive's manifest.json.
type loadManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// codeImageArchive returns a docker-load archive of the image tag: the layers and configuration of
// deps (inspected, tagged depsTag) plus the code layer, labelled with LabelDeps and labels. Only
// the code layer's data is in the archive: the engine must already hold deps's layers.
func codeImageArchive(deps image.InspectResponse, depsTag, tag, code string, labels map[string]string, created time.Time) ([]byte, error) {
	if deps.Config == nil || len(deps.RootFS.Layers) == 0 {
		return nil, fmt.Errorf("dependencies image %s has no configuration or layers", depsTag)
	}
	layer, diffID, err := codeLayer(code)
	if err != nil {
		return nil, fmt.Errorf("code layer: %w", err)
	}
	cfg := *deps.Config
	cfg.Labels = make(map[string]string, len(deps.Config.Labels)+len(labels)+1)
	for _, m := range []map[string]string{deps.Config.Labels, labels} {
		for k, v := range m {
			cfg.Labels[k] = v
		}
	}
	cfg.Labels[LabelDeps] = depsTag
	ic := imageConfig{Architecture: deps.Architecture, OS: deps.Os, Variant: deps.Variant,
		Created: created.UTC(), Config: &cfg,
		RootFS: imageRootFS{Type: "layers", DiffIDs: append(append([]string(nil), deps.RootFS.Layers...), diffID)}}
	// One history entry per layer, as the engine pairs them.
	for i := range deps.RootFS.Layers {
		ic.History = append(ic.History, map[string]string{
			"created_by": fmt.Sprintf("faaspot: layer %d of %s (base, runner, requirements)", i+1, depsTag)})
	}
	ic.History = append(ic.History, map[string]string{"created_by": "faaspot: code at " + FunctionPath})
	configJSON, err := json.Marshal(ic)
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	sum := sha256.Sum256(configJSON)
	configName := hex.EncodeToString(sum[:]) + ".json"
	m := loadManifest{Config: configName, RepoTags: []string{tag}}
	for i := range deps.RootFS.Layers {
		m.Layers = append(m.Layers, fmt.Sprintf("deps%d/layer.tar", i)) // named, never sent
	}
	m.Layers = append(m.Layers, "code/layer.tar")
	manifestJSON, err := json.Marshal([]loadManifest{m})
	if err != nil {
		return nil, fmt.Errorf("image manifest: %w", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	for _, f := range []struct {
		name string
		data []byte
	}{{"manifest.json", manifestJSON}, {configName, configJSON}, {"code/layer.tar", layer}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), ModTime: epoch}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
