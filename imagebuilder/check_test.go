package imagebuilder

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"testing"

	"github.com/faaspot/faaspot/hardening"
)

// TestCheckContainer: a check container is confined as a run's, under the operator's settings,
// without a network, labelled as a check of its node.
func TestCheckContainer(t *testing.T) {
	tests := []struct {
		name     string
		sb       hardening.Config
		wantUser string
	}{
		{name: "zero config is hardened", wantUser: hardening.DefaultUser},
		{name: "operator's settings", wantUser: "1000:1000",
			sb: hardening.Config{Network: "faaspot-egress", Runtime: "runsc", User: "1000:1000", PidsLimit: 32,
				NoFile: 256, TmpfsBytes: 8 << 20, Node: "node-a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc, hc, err := checkContainer(tt.sb, "faaspot/t-a/d-b:deps-0123")
			if err != nil {
				t.Fatal(err)
			}
			want := tt.sb
			want.Network = "none"
			if got, wantHC := mustJSON(t, hc), mustJSON(t, hardening.HostConfig(want, checkResources)); got != wantHC {
				t.Errorf("host config = %s\nwant hardening's, without network: %s", got, wantHC)
			}
			if hc.NetworkMode != "none" || hc.Runtime != tt.sb.Runtime || hc.LogConfig.Type != "none" || hc.Tmpfs["/tmp"] == "" {
				t.Errorf("network %q runtime %q log %q tmpfs %v", hc.NetworkMode, hc.Runtime, hc.LogConfig.Type, hc.Tmpfs)
			}
			if cc.User != tt.wantUser || cc.Image != "faaspot/t-a/d-b:deps-0123" || !slices.Equal(cc.Cmd, []string{"--check", "-"}) {
				t.Errorf("user %q image %q cmd %q", cc.User, cc.Image, cc.Cmd)
			}
			if !cc.OpenStdin || !cc.StdinOnce || !cc.AttachStdin || !cc.AttachStdout || !cc.AttachStderr || cc.Tty {
				t.Errorf("stdin/stdout attachment: %+v", cc)
			}
			wantLabels := map[string]string{LabelManaged: "true", hardening.LabelRole: hardening.RoleCheck, hardening.LabelNode: tt.sb.Node}
			if !maps.Equal(cc.Labels, wantLabels) {
				t.Errorf("labels = %v, want %v", cc.Labels, wantLabels)
			}
		})
	}
	if _, _, err := checkContainer(hardening.Config{User: "0:0"}, "img"); !errors.Is(err, hardening.ErrRootUser) {
		t.Errorf("a root check container = %v, want hardening.ErrRootUser", err)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
