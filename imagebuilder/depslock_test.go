package imagebuilder

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/faaspot/faaspot/hardening"
)

// fakeBuildEngine is fakeImages that also builds (an image tagged as asked, labelled with the
// build's labels), loads (the archive's tag and labels) and runs check containers that pass:
// their attach stream is a real loopback connection, closed once the code is read. Builds wait
// on gate when it is set.
type fakeBuildEngine struct {
	*fakeImages

	gate    chan struct{}
	started chan string // receives the tag of each build, when set

	bmu    sync.Mutex
	builds []string
	loads  []string
}

var _ dockerAPI = (*fakeBuildEngine)(nil)

func (f *fakeBuildEngine) ImageBuild(ctx context.Context, buildCtx io.Reader, opts build.ImageBuildOptions) (build.ImageBuildResponse, error) {
	_, _ = io.Copy(io.Discard, buildCtx)
	tag := opts.Tags[0]
	f.bmu.Lock()
	f.builds = append(f.builds, tag)
	f.bmu.Unlock()
	if f.started != nil {
		f.started <- tag
	}
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return build.ImageBuildResponse{}, ctx.Err()
		}
	}
	f.add(tag, opts.Labels)
	return build.ImageBuildResponse{Body: io.NopCloser(strings.NewReader(`{"stream":"Step 1/1 : FROM base\n"}` + "\n"))}, nil
}

func (f *fakeBuildEngine) ImageLoad(ctx context.Context, input io.Reader, _ ...client.ImageLoadOption) (image.LoadResponse, error) {
	files := map[string][]byte{}
	tr := tar.NewReader(input)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		} else if err != nil {
			return image.LoadResponse{}, err
		}
		files[hdr.Name], _ = io.ReadAll(tr)
	}
	var m []loadManifest
	var cfg imageConfig
	if err := json.Unmarshal(files["manifest.json"], &m); err != nil || len(m) != 1 {
		return image.LoadResponse{}, fmt.Errorf("manifest: %v", err)
	}
	if err := json.Unmarshal(files[m[0].Config], &cfg); err != nil {
		return image.LoadResponse{}, err
	}
	f.bmu.Lock()
	f.loads = append(f.loads, m[0].RepoTags[0])
	f.bmu.Unlock()
	f.add(m[0].RepoTags[0], cfg.Config.Labels)
	return image.LoadResponse{Body: io.NopCloser(strings.NewReader(""))}, nil
}

// add puts an image tagged tag on the engine.
func (f *fakeBuildEngine) add(tag string, labels map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.imgs = append(f.imgs, image.Summary{ID: "sha256:" + tag, RepoTags: []string{tag}, Labels: labels, Created: time.Now().Unix()})
}

func (f *fakeBuildEngine) ContainerCreate(context.Context, *container.Config, *container.HostConfig, *network.NetworkingConfig, *ocispec.Platform, string) (container.CreateResponse, error) {
	return container.CreateResponse{ID: "check"}, nil
}

// ContainerAttach returns the client end of a loopback connection whose container end reads
// the code to its end, then closes: a check that prints nothing.
func (f *fakeBuildEngine) ContainerAttach(ctx context.Context, _ string, _ container.AttachOptions) (types.HijackedResponse, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return types.HijackedResponse{}, err
	}
	defer ln.Close()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return types.HijackedResponse{}, err
	}
	server, err := ln.Accept()
	if err != nil {
		conn.Close()
		return types.HijackedResponse{}, err
	}
	go func() {
		_, _ = io.Copy(io.Discard, server)
		server.Close()
	}()
	return types.HijackedResponse{Conn: conn, Reader: bufio.NewReader(conn)}, nil
}

func (f *fakeBuildEngine) ContainerStart(context.Context, string, container.StartOptions) error {
	return nil
}

func (f *fakeBuildEngine) ContainerWait(context.Context, string, container.WaitCondition) (<-chan container.WaitResponse, <-chan error) {
	ch := make(chan container.WaitResponse, 1)
	ch <- container.WaitResponse{StatusCode: 0}
	return ch, make(chan error)
}

func (f *fakeBuildEngine) ContainerRemove(context.Context, string, container.RemoveOptions) error {
	return nil
}

// TestBuildSharesDeps: concurrent builds of two deployments of a tenant with the same inputs
// build their dependencies image once (the second waits, then finds it built) and each loads its
// code on it; a deployment of another tenant builds its own, without waiting for the first.
func TestBuildSharesDeps(t *testing.T) {
	engine := &fakeBuildEngine{fakeImages: &fakeImages{}, gate: make(chan struct{}), started: make(chan string, 4)}
	b := New(engine, Config{BaseImage: "faaspot/python:bookworm", Sandbox: hardening.Config{Node: "n1"}}, discardLog)
	spec := func(tenant, dep string) Spec {
		return Spec{TenantID: tenant, DeploymentID: dep, Code: "def main(args, context):\n    return '" + dep + "'\n"}
	}
	type result struct{ tag, log string }
	results := make(chan result, 3)
	run := func(s Spec) {
		tag, buildLog, err := b.Build(t.Context(), s)
		if err != nil {
			t.Errorf("build of %s: %v\n%s", s.DeploymentID, err, buildLog)
		}
		results <- result{tag, buildLog}
	}
	deps := depsTag(spec("t1", "a"), b.cfg)
	go run(spec("t1", "a"))
	if got := <-engine.started; got != deps {
		t.Fatalf("first build made %s, want the dependencies image %s", got, deps)
	}
	go run(spec("t1", "b"))
	waitRefs(t, b, deps, 4) // a holds its use and build locks; b holds its use lock and waits for the build lock
	go run(spec("t2", "c"))
	if got := <-engine.started; got != depsTag(spec("t2", "c"), b.cfg) || got == deps {
		t.Fatalf("another tenant's build made %s, want its own dependencies image", got)
	}
	close(engine.gate)
	var logs []string
	for range 3 {
		logs = append(logs, (<-results).log)
	}
	if len(engine.builds) != 2 || len(engine.loads) != 3 {
		t.Errorf("builds %q, loads %q; want one dependencies image per tenant, three code layers", engine.builds, engine.loads)
	}
	upToDate := 0
	for _, l := range logs {
		if strings.Contains(l, "dependencies image is up to date") {
			upToDate++
		}
	}
	if upToDate != 1 {
		t.Errorf("%d builds found the dependencies image built, want 1:\n%s", upToDate, strings.Join(logs, "\n--\n"))
	}
	if refs := lockRefs(b, deps); refs != 0 {
		t.Errorf("%d holders of the dependencies lock left after the builds", refs)
	}
}

// waitRefs waits until tag's lock counts want holders and waiters.
func waitRefs(t *testing.T, b *Builder, tag string, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second) // a bound on a hang, not a timing assumption
	for lockRefs(b, tag) != want {
		if time.Now().After(deadline) {
			t.Fatalf("the lock of %s counts %d holders and waiters, want %d", tag, lockRefs(b, tag), want)
		}
		time.Sleep(time.Millisecond)
	}
}

func lockRefs(b *Builder, tag string) int {
	b.depsLocks.mu.Lock()
	defer b.depsLocks.mu.Unlock()
	if lk := b.depsLocks.m[tag]; lk != nil {
		return lk.refs
	}
	return 0
}
