package imagebuilder

import (
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/faaspot/faaspot/hardening"
)

// TestStageContainer: a build stage runs as the tenant's non-root user, confined as a run with
// the stage limits; only the fetch stage has a network, and the index never enters a container's
// configuration (it goes on stdin).
func TestStageContainer(t *testing.T) {
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := Config{BaseImage: "faaspot/python:bookworm", Network: "host", MemoryBytes: 512 << 20, CPUs: 0.5,
		DiskBytes: 256 << 20, PipIndexURL: "http://user:secret@127.0.0.1:9/simple", Sandbox: hardening.Config{Node: "n1"}}
	b := New(nil, cfg, discard)
	for _, network := range []string{b.fetchNetwork(), "none"} {
		t.Run(network, func(t *testing.T) {
			cc, hc, err := b.stageContainer("0a1b2c3d4e5f6071", network)
			if err != nil {
				t.Fatal(err)
			}
			sb := b.buildHardening().ForTenant("0a1b2c3d4e5f6071")
			sb.Network = network
			if want := hardening.StageHostConfig(sb, hardening.Resources{MemoryBytes: 512 << 20, NanoCPUs: 5e8}, 256<<20); mustJSON(t, hc) != mustJSON(t, want) {
				t.Errorf("host config %s\nwant hardening's stage configuration %s", mustJSON(t, hc), mustJSON(t, want))
			}
			if string(hc.NetworkMode) != network || *hc.PidsLimit != buildProcesses || hc.Memory != (512+256)<<20 {
				t.Errorf("network %q pids %d memory %d", hc.NetworkMode, *hc.PidsLimit, hc.Memory)
			}
			if cc.User != hardening.DefaultConfig().TenantUser("0a1b2c3d4e5f6071") || hardening.IsRoot(cc.User) {
				t.Errorf("user %q, want the tenant's", cc.User)
			}
			if cc.Labels[hardening.LabelRole] != hardening.RoleBuild || cc.Labels[hardening.LabelNode] != "n1" {
				t.Errorf("labels %v", cc.Labels)
			}
			if cc.Image != cfg.BaseImage || !slices.Equal(cc.Entrypoint[:3], []string{"python3", "-I", "-c"}) || !cc.OpenStdin {
				t.Errorf("image %q entrypoint %q", cc.Image, cc.Entrypoint)
			}
			if js := mustJSON(t, cc); strings.Contains(js, "secret") || strings.Contains(js, "127.0.0.1:9") {
				t.Errorf("the index is in the container's configuration: %s", js)
			}
		})
	}
	if b.fetchNetwork() != "host" || New(nil, Config{}, discard).fetchNetwork() != "default" {
		t.Error("the fetch stage does not get the build network (or the engine's default)")
	}
	root := New(nil, Config{Sandbox: hardening.Config{User: "0:0"}}, discard)
	if _, _, err := root.stageContainer("t", "none"); !errors.Is(err, hardening.ErrRootUser) {
		t.Errorf("root stage = %v, want hardening.ErrRootUser", err)
	}
}

func TestStageFailure(t *testing.T) {
	tests := []struct {
		name, phase, log, want string
		status                 int64
	}{
		{name: "the stage's message", phase: "fetch", status: 1,
			log:  "ERROR: No matching distribution found for faaspot-evil==1.0\n" + BuildPrefix + "no wheel of faaspot-evil==1.0 is available\n",
			want: "installing the requirements failed: no wheel of faaspot-evil==1.0 is available"},
		{name: "no message", phase: "install", status: 137, log: "Killed\n",
			want: "installing the requirements failed: the install stage exited with status 137"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := stageFailure(tt.phase, tt.status, tt.log)
			if err.Message != tt.want || err.Log != tt.log || !errors.Is(err, ErrBuildFailed) {
				t.Errorf("stageFailure = %+v, want message %q", err, tt.want)
			}
		})
	}
}
