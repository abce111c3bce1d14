package imagebuilder

import (
	"io"
	"log/slog"
	"maps"
	"testing"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"

	"github.com/faaspot/faaspot/hardening"
)

// TestBuildOptions: build steps get a run's limits as far as the build API enforces them, the
// images get hardening's labels and the operator's, and the build network is the build's own.
func TestBuildOptions(t *testing.T) {
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	tests := []struct {
		name       string
		cfg        Config
		wantLabels map[string]string
		check      func(t *testing.T, opts build.ImageBuildOptions)
	}{
		{name: "defaults", wantLabels: map[string]string{LabelManaged: "true"},
			check: func(t *testing.T, opts build.ImageBuildOptions) {
				if opts.Memory != 1<<30 || opts.MemorySwap != 1<<30 || opts.CPUQuota != 100_000 || opts.CPUPeriod != 100_000 {
					t.Errorf("memory %d swap %d quota %d/%d; want 1 GiB, no swap, 1 CPU", opts.Memory, opts.MemorySwap, opts.CPUQuota, opts.CPUPeriod)
				}
				checkUlimits(t, opts, 1024)
			}},
		{name: "operator's settings",
			cfg: Config{Network: "host", PipIndexURL: "http://user:secret@127.0.0.1:9/simple", AllowSourceBuilds: true, MemoryBytes: 512 << 20, CPUs: 0.5,
				Labels:  map[string]string{hardening.LabelNode: "node-a", "io.faaspot.store": "s1"},
				Sandbox: hardening.Config{Node: "node-a", NoFile: 4096, PidsLimit: 16, Network: "none"}},
			wantLabels: map[string]string{LabelManaged: "true", hardening.LabelNode: "node-a", "io.faaspot.store": "s1"},
			check: func(t *testing.T, opts build.ImageBuildOptions) {
				if opts.Memory != 512<<20 || opts.MemorySwap != 512<<20 || opts.CPUQuota != 50_000 {
					t.Errorf("memory %d swap %d quota %d; want 512 MiB, no swap, half a CPU", opts.Memory, opts.MemorySwap, opts.CPUQuota)
				}
				// The runs' nofile; not their pids limit: nproc counts the uid's processes host-wide.
				checkUlimits(t, opts, 4096)
			}},
		{name: "node from the hardening alone", cfg: Config{Sandbox: hardening.Config{Node: "node-b"}},
			wantLabels: map[string]string{LabelManaged: "true", hardening.LabelNode: "node-b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := New(nil, tt.cfg, discard)
			opts := b.buildOptions("faaspot/t-a/d-b:0123")
			if len(opts.Tags) != 1 || opts.Tags[0] != "faaspot/t-a/d-b:0123" || opts.Version != build.BuilderV1 || !opts.Remove || !opts.ForceRemove {
				t.Errorf("tags %v version %q remove %v/%v", opts.Tags, opts.Version, opts.Remove, opts.ForceRemove)
			}
			if !maps.Equal(opts.Labels, tt.wantLabels) || !maps.Equal(b.labels, tt.wantLabels) {
				t.Errorf("build labels %v, builder labels %v; want %v", opts.Labels, b.labels, tt.wantLabels)
			}
			// No step needs a network (the requirements come installed) and no build
			// argument carries the index: build arguments show in the image's history.
			if opts.NetworkMode != "none" || len(opts.BuildArgs) != 0 {
				t.Errorf("network %q build args %v; want none, none", opts.NetworkMode, opts.BuildArgs)
			}
			if tt.check != nil {
				tt.check(t, opts)
			}
		})
	}
}

// checkUlimits asserts a build's ulimits: nofile, no core dumps, and nproc standing in for the
// pids limit.
func checkUlimits(t *testing.T, opts build.ImageBuildOptions, nofile int64) {
	t.Helper()
	want := []container.Ulimit{{Name: "nofile", Soft: nofile, Hard: nofile}, {Name: "core"}, {Name: "nproc", Soft: 1024, Hard: 1024}}
	if len(opts.Ulimits) != len(want) {
		t.Fatalf("ulimits %+v, want %+v", opts.Ulimits, want)
	}
	for i := range want {
		if *opts.Ulimits[i] != want[i] {
			t.Errorf("ulimit %+v, want %+v", *opts.Ulimits[i], want[i])
		}
	}
}
