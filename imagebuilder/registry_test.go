package imagebuilder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/image"
	dockerregistry "github.com/docker/docker/api/types/registry"

	"github.com/faaspot/faaspot/hardening"
	"github.com/faaspot/faaspot/registry"
)

// fakeRegistryEngine is fakeBuildEngine that also pushes and pulls: a push records the tag and
// header and answers pushErr in its stream; a pull answers pull(ref).
type fakeRegistryEngine struct {
	*fakeBuildEngine

	rmu     sync.Mutex
	pushes  []string
	auths   []string
	pushErr string
	pulls   []string
	pull    func(ref string) (io.ReadCloser, error)
}

func (f *fakeRegistryEngine) ImagePush(ctx context.Context, ref string, opts image.PushOptions) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.rmu.Lock()
	defer f.rmu.Unlock()
	f.pushes, f.auths = append(f.pushes, ref), append(f.auths, opts.RegistryAuth)
	if f.pushErr != "" {
		return stream(`{"status":"Preparing"}`, fmt.Sprintf(`{"error":%q}`, f.pushErr)), nil
	}
	return stream(`{"status":"Pushed"}`, `{"status":"h1: digest: sha256:aa size: 1"}`), nil
}

func (f *fakeRegistryEngine) ImagePull(ctx context.Context, ref string, opts image.PullOptions) (io.ReadCloser, error) {
	f.rmu.Lock()
	f.pulls, f.auths = append(f.pulls, ref), append(f.auths, opts.RegistryAuth)
	f.rmu.Unlock()
	return f.pull(ref)
}

func stream(lines ...string) io.ReadCloser {
	return io.NopCloser(strings.NewReader(strings.Join(lines, "\n") + "\n"))
}

// fakeManifests records the manifests deleted, and answers err.
type fakeManifests struct {
	mu      sync.Mutex
	deleted []string
	err     error
}

func (f *fakeManifests) DeleteManifest(_ context.Context, repo, tag string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted = append(f.deleted, repo+":"+tag)
	return f.err
}

var testRegistry = registry.Address{Host: "127.0.0.1:5000", Prefix: "team"}

func registryBuilder(engine dockerAPI, node string) (*Builder, *fakeManifests) {
	b := New(engine, Config{BaseImage: "faaspot/python:bookworm", Registry: testRegistry,
		RegistryCredentials: registry.Credentials{Username: "ci", Password: "pw"},
		Labels:              map[string]string{"io.faaspot.store": "s1"}, Sandbox: hardening.Config{Node: node}}, discardLog)
	m := &fakeManifests{}
	b.manifests = m
	return b, m
}

// TestRegistryNaming: with a registry, a deployment image is named in it (content-addressed as
// without), its dependencies image is not; the ids read back from either name.
func TestRegistryNaming(t *testing.T) {
	spec := Spec{TenantID: "t1", DeploymentID: "d1", Code: "x"}
	local := imageTag(spec, Config{})
	qualified := imageTag(spec, Config{Registry: testRegistry})
	if qualified != "127.0.0.1:5000/team/"+local || !strings.HasPrefix(local, "faaspot/t-t1/d-d1:") {
		t.Errorf("tags %q and %q, want the second the first named in the registry", local, qualified)
	}
	if d := depsTag(spec, Config{Registry: testRegistry}); d != depsTag(spec, Config{}) {
		t.Errorf("dependencies tag %q named in the registry", d)
	}
	for _, tag := range []string{local, qualified, "127.0.0.1:5000/faaspot/faaspot/t-t1/d-d1:h"} {
		if r, ok := parseRepository(tag); !ok || r != (Ref{"t1", "d1"}) {
			t.Errorf("parseRepository(%q) = %v, %v", tag, r, ok)
		}
		if !sameTenant(tag, "faaspot/t-t1/deps:h") {
			t.Errorf("sameTenant(%q, the tenant's deps) = false", tag)
		}
	}
}

// TestBuildPushes: a build with a registry pushes the image it made (and one it found built),
// with the credentials' header; a push the registry refuses fails the build with a *PushError
// naming the image (an engine failure, no *BuildError). Without a registry nothing is pushed.
func TestBuildPushes(t *testing.T) {
	engine := &fakeRegistryEngine{fakeBuildEngine: &fakeBuildEngine{fakeImages: &fakeImages{}}}
	b, _ := registryBuilder(engine, "n1")
	spec := Spec{TenantID: "t1", DeploymentID: "d1", Code: "def main(args, context):\n    return 1\n"}
	tag, _, err := b.Build(t.Context(), spec)
	if err != nil || !strings.HasPrefix(tag, "127.0.0.1:5000/team/faaspot/t-t1/d-d1:") {
		t.Fatalf("Build = %q, %v", tag, err)
	}
	if _, _, err := b.Build(t.Context(), spec); err != nil {
		t.Fatalf("second Build = %v", err)
	}
	if !slices.Equal(engine.pushes, []string{tag, tag}) {
		t.Errorf("pushed %q, want %q twice", engine.pushes, tag)
	}
	auth, err := dockerregistry.DecodeAuthConfig(engine.auths[0])
	if err != nil || auth.Username != "ci" || auth.Password != "pw" || auth.ServerAddress != "127.0.0.1:5000" {
		t.Errorf("push header decodes to %+v, %v", auth, err)
	}
	engine.pushErr = "unauthorized: authentication required"
	_, _, err = b.Build(t.Context(), spec)
	var be *BuildError
	var pe *PushError
	if err == nil || errors.As(err, &be) || !errors.As(err, &pe) || pe.Image != tag || !strings.Contains(err.Error(), "unauthorized") {
		t.Errorf("Build with a refused push = %v, want a *PushError of %s, no *BuildError", err, tag)
	}

	plain := &fakeRegistryEngine{fakeBuildEngine: &fakeBuildEngine{fakeImages: &fakeImages{}}}
	if _, _, err := New(plain, Config{BaseImage: "b"}, discardLog).Build(t.Context(), spec); err != nil || len(plain.pushes) != 0 {
		t.Errorf("Build without a registry = %v, pushed %q", err, plain.pushes)
	}
}

// TestPull: Pull pulls with the credentials; the registry's "manifest unknown" (in the stream
// or as the engine's 404) is ErrNotInRegistry, another failure is not; a name not in the
// registry is never pulled.
func TestPull(t *testing.T) {
	ref := "127.0.0.1:5000/team/faaspot/t-t1/d-d1:h"
	tests := []struct {
		name    string
		pull    func(string) (io.ReadCloser, error)
		missing bool
		ok      bool
	}{
		{name: "pulled", ok: true, pull: func(string) (io.ReadCloser, error) {
			return stream(`{"status":"Pulling from team/faaspot/t-t1/d-d1"}`, `{"status":"Downloaded newer image"}`), nil
		}},
		{name: "manifest unknown in the stream", missing: true, pull: func(string) (io.ReadCloser, error) {
			return stream(`{"error":"manifest for ` + ref + ` not found: manifest unknown: manifest unknown"}`), nil
		}},
		{name: "engine 404", missing: true, pull: func(string) (io.ReadCloser, error) {
			return nil, fmt.Errorf("repository not found: %w", cerrdefs.ErrNotFound)
		}},
		{name: "registry down", pull: func(string) (io.ReadCloser, error) {
			return nil, errors.New("Get \"http://127.0.0.1:5000/v2/\": dial tcp 127.0.0.1:5000: connect: connection refused")
		}},
		{name: "unauthorized in the stream", pull: func(string) (io.ReadCloser, error) {
			return stream(`{"error":"unauthorized: authentication required"}`), nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			engine := &fakeRegistryEngine{fakeBuildEngine: &fakeBuildEngine{fakeImages: &fakeImages{}}, pull: tt.pull}
			b, _ := registryBuilder(engine, "n2")
			err := b.Pull(t.Context(), ref)
			if (err == nil) != tt.ok || errors.Is(err, ErrNotInRegistry) != tt.missing {
				t.Errorf("Pull = %v; want ok %v, missing %v", err, tt.ok, tt.missing)
			}
			if auth, _ := dockerregistry.DecodeAuthConfig(engine.auths[0]); auth.Username != "ci" {
				t.Errorf("pull header decodes to %+v", auth)
			}
		})
	}
	engine := &fakeRegistryEngine{fakeBuildEngine: &fakeBuildEngine{fakeImages: &fakeImages{}}}
	b, _ := registryBuilder(engine, "n2")
	for _, other := range []string{"faaspot/t-t1/d-d1:h", "127.0.0.1:5001/team/faaspot/t-t1/d-d1:h"} {
		if err := b.Pull(t.Context(), other); !errors.Is(err, ErrNotInRegistry) || len(engine.pulls) != 0 {
			t.Errorf("Pull(%q) = %v, pulled %q; want ErrNotInRegistry and no pull", other, err, engine.pulls)
		}
	}
}

// TestRegistryJanitor: Owned lists the images this node pulled (another node's label, this
// store's) besides its own; removing images deletes the manifests of those this node pushed,
// never of those it pulled or of images not named in the registry; a registry refusing deletes
// does not stop the removal.
func TestRegistryJanitor(t *testing.T) {
	old := time.Now().Add(-time.Hour).Unix()
	labels := func(node, st string) map[string]string {
		return map[string]string{LabelManaged: "true", hardening.LabelNode: node, "io.faaspot.store": st}
	}
	reg := "127.0.0.1:5000/team/"
	engine := &fakeImages{imgs: []image.Summary{
		{RepoTags: []string{reg + "faaspot/t-t1/d-built:h1"}, Created: old, Labels: labels("n1", "s1")},
		{RepoTags: []string{reg + "faaspot/t-t1/d-pulled:h1"}, Created: old, Labels: labels("n2", "s1")},
		{RepoTags: []string{reg + "faaspot/t-t1/d-otherstore:h1"}, Created: old, Labels: labels("n2", "s9")},
		{RepoTags: []string{"faaspot/t-t1/d-localother:h1"}, Created: old, Labels: labels("n2", "s1")},
		{RepoTags: []string{"faaspot/t-t1/d-built:h0"}, Created: old, Labels: labels("n1", "s1")},
	}}
	b, m := registryBuilder(engine, "n1")
	refs, err := b.Owned(t.Context())
	slices.SortFunc(refs, func(a, b Ref) int { return strings.Compare(a.DeploymentID, b.DeploymentID) })
	if err != nil || fmt.Sprint(refs) != "[{t1 built} {t1 pulled}]" {
		t.Errorf("Owned = %v, %v; want built and pulled", refs, err)
	}
	n, err := b.Prune(t.Context(), Ref{"t1", "built"}, nil, 0)
	if err != nil || n != 2 || engine.has(reg+"faaspot/t-t1/d-built:h1") || engine.has("faaspot/t-t1/d-built:h0") {
		t.Errorf("Prune = %d, %v; removed %q", n, err, engine.removed)
	}
	if err := b.Remove(t.Context(), "t1", "pulled"); err != nil || engine.has(reg+"faaspot/t-t1/d-pulled:h1") {
		t.Errorf("Remove of the pulled deployment = %v; removed %q", err, engine.removed)
	}
	if want := []string{"faaspot/t-t1/d-built:h1"}; !slices.Equal(m.deleted, want) {
		t.Errorf("manifests deleted %q, want %q (only what this node pushed)", m.deleted, want)
	}

	engine.imgs = append(engine.imgs, image.Summary{RepoTags: []string{reg + "faaspot/t-t1/d-x:h2"}, Created: old, Labels: labels("n1", "s1")})
	m.err = fmt.Errorf("delete: %w", registry.ErrDeleteDisabled)
	if err := b.RemoveImage(t.Context(), reg+"faaspot/t-t1/d-x:h2"); err != nil || engine.has(reg+"faaspot/t-t1/d-x:h2") {
		t.Errorf("RemoveImage on a registry refusing deletes = %v", err)
	}
	if len(m.deleted) != 2 || m.deleted[1] != "faaspot/t-t1/d-x:h2" {
		t.Errorf("manifests deleted %q, want d-x's tried", m.deleted)
	}
}
