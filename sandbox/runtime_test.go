package sandbox

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/client"
)

var _ runtimeInspector = (*client.Client)(nil)

// fakeRuntimeEngine answers the two calls CheckRuntime makes.
type fakeRuntimeEngine struct {
	info       system.Info
	components []types.ComponentVersion
	infoErr    error
	versionErr error
}

var _ runtimeInspector = (*fakeRuntimeEngine)(nil)

func (f *fakeRuntimeEngine) Info(ctx context.Context) (system.Info, error) {
	return f.info, errors.Join(f.infoErr, ctx.Err())
}

func (f *fakeRuntimeEngine) ServerVersion(ctx context.Context) (types.Version, error) {
	return types.Version{Components: f.components}, errors.Join(f.versionErr, ctx.Err())
}

// wantVerdict is what a test expects of a RuntimeVerdict: its flags and words its reason must hold.
type wantVerdict struct {
	vulnerable, known bool
	reason            []string
}

func (want wantVerdict) check(t *testing.T, got RuntimeVerdict) {
	t.Helper()
	if got.Vulnerable != want.vulnerable || got.Known != want.known || got.Reason == "" {
		t.Errorf("verdict %+v, want vulnerable=%v known=%v", got, want.vulnerable, want.known)
	}
	if got.Vulnerable && !got.Known {
		t.Errorf("verdict %+v: vulnerable but not known", got)
	}
	for _, w := range want.reason {
		if !strings.Contains(got.Reason, w) {
			t.Errorf("reason %q lacks %q", got.Reason, w)
		}
	}
}

const cves2025 = "CVE-2025-31133, CVE-2025-52565 and CVE-2025-52881"

func TestJudgeRunc(t *testing.T) {
	safe := wantVerdict{known: true}
	for _, tc := range []struct {
		name, version, build string
		want                 wantVerdict
	}{
		// Upstream releases: the first fixed one on each line, and the last before it.
		{"1.2.8 first fixed on 1.2", "1.2.8", "v1.2.8-0-g3f0e1cd", safe},
		{"1.2.7 before the 2025 fixes", "1.2.7", "v1.2.7-0-g9d4a0ab", wantVerdict{true, true, []string{cves2025, "1.2.8"}}},
		{"1.2.5", "1.2.5", "v1.2.5-0-g59923ef", wantVerdict{true, true, []string{cves2025}}},
		{"1.3.3 first fixed on 1.3", "1.3.3", "", safe},
		{"1.3.2", "1.3.2", "", wantVerdict{true, true, []string{cves2025, "1.3.3"}}},
		{"1.3.0 release candidate", "1.3.0-rc.1", "", wantVerdict{true, true, []string{cves2025}}},
		{"1.4.0-rc.3 first fixed on 1.4", "1.4.0-rc.3", "", safe},
		{"1.4.0-rc.2", "1.4.0-rc.2", "", wantVerdict{true, true, []string{cves2025, "1.4.0-rc.3"}}},
		{"1.4.0", "1.4.0", "", safe},
		{"a later line", "1.5.1", "", safe},
		{"a later major", "2.0.0", "", safe},
		{"v prefix", "v1.3.4", "", safe},
		{"1.1.15: the 1.1 line has no 2025 fix", "1.1.15", "v1.1.15-0-gbc20cb4", wantVerdict{true, true, []string{cves2025}}},
		{"1.1.12 first fixed for CVE-2024-21626", "1.1.12", "v1.1.12-0-g51d5e94", wantVerdict{true, true, []string{cves2025}}},
		{"1.1.11 before CVE-2024-21626", "1.1.11", "v1.1.11-0-g4bccb38", wantVerdict{true, true, []string{"CVE-2024-21626", "1.1.12"}}},
		{"1.0 final", "1.0.0", "", wantVerdict{true, true, []string{"CVE-2024-21626"}}},
		{"rc92 after CVE-2019-5736", "1.0.0-rc92", "", wantVerdict{true, true, []string{"CVE-2024-21626"}}},
		{"rc6 before CVE-2019-5736", "1.0.0-rc6", "", wantVerdict{true, true, []string{"CVE-2019-5736", "1.0.0-rc7"}}},
		{"0.x", "0.1.1", "", wantVerdict{true, true, []string{"CVE-2019-5736"}}},

		// Distribution builds: backports recognised where known, not judged where unknown.
		{"debian bookworm deb12u1 (this machine)", "1.1.5+ds1", "1.1.5+ds1-1+deb12u1",
			wantVerdict{false, false, []string{"1.1.5+ds1-1+deb12u1", cves2025, "CVE-2024-21626"}}},
		{"debian bookworm later revision", "1.1.5+ds1", "1.1.5+ds1-1+deb12u3", wantVerdict{false, false, []string{cves2025}}},
		{"debian bookworm before DSA-5615-1", "1.1.5+ds1", "1.1.5+ds1-1", wantVerdict{true, true, []string{"CVE-2024-21626"}}},
		{"debian version with a foreign build", "1.1.5+ds1", "1.1.5+ds1-1+deb12uX", wantVerdict{true, true, []string{"CVE-2024-21626"}}},
		{"ubuntu build after CVE-2024-21626", "1.1.12-0ubuntu2~22.04.1", "", wantVerdict{false, false, []string{cves2025}}},
		{"ubuntu build before CVE-2024-21626", "1.1.11-0ubuntu1", "", wantVerdict{true, true, []string{"CVE-2024-21626"}}},
		{"vendor build of a fixed release", "1.3.3+vendor.1", "", safe},

		// Versions that cannot be parsed are never judged safe, whatever the build says.
		{"vendor string", "custom-runtime", "", wantVerdict{false, false, []string{"cannot be parsed"}}},
		{"empty", "", "", wantVerdict{false, false, []string{"cannot be parsed"}}},
		{"unparseable with a debian build", "garbage", "1.1.5+ds1-1+deb12u1", wantVerdict{false, false, []string{"cannot be parsed"}}},
		{"two parts", "1.2", "", wantVerdict{false, false, []string{"cannot be parsed"}}},
		{"trailing letters", "1.2.8abc", "", wantVerdict{false, false, []string{"cannot be parsed"}}},
		{"four parts", "1.2.8.1", "", wantVerdict{false, false, []string{"cannot be parsed"}}},
		{"overflowing number", "1.99999999999999999999.0", "", wantVerdict{false, false, []string{"cannot be parsed"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.want.check(t, judgeRunc(tc.version, tc.build))
		})
	}
}

// TestCheckRuntime: the engine's default runtime is what is judged; runc under any name, or
// nothing (another runtime, or a runc whose version the engine does not report).
func TestCheckRuntime(t *testing.T) {
	runcOnly := map[string]system.RuntimeWithStatus{"runc": {Runtime: system.Runtime{Path: "runc"}}}
	with := func(extra map[string]system.Runtime) map[string]system.RuntimeWithStatus {
		out := map[string]system.RuntimeWithStatus{"runc": runcOnly["runc"]}
		for k, v := range extra {
			out[k] = system.RuntimeWithStatus{Runtime: v}
		}
		return out
	}
	component := func(name, version, build string) []types.ComponentVersion {
		return []types.ComponentVersion{
			{Name: "containerd", Version: "1.7.27", Details: map[string]string{"GitCommit": "05044ec"}},
			{Name: name, Version: version, Details: map[string]string{"GitCommit": build}},
		}
	}
	for _, tc := range []struct {
		name       string
		def        string
		runtimes   map[string]system.RuntimeWithStatus
		components []types.ComponentVersion
		want       wantVerdict
	}{
		{"runc, fixed", "runc", runcOnly, component("runc", "1.2.8", "v1.2.8-0-g3f0e1cd"), wantVerdict{known: true}},
		{"runc, vulnerable", "runc", runcOnly, component("runc", "1.1.11", ""), wantVerdict{true, true, []string{"CVE-2024-21626"}}},
		{"this machine: debian bookworm", "runc", with(map[string]system.Runtime{"io.containerd.runc.v2": {Path: "runc"}}),
			component("runc", "1.1.5+ds1", "1.1.5+ds1-1+deb12u1"), wantVerdict{false, false, []string{cves2025}}},
		{"no default reported: runc", "", runcOnly, component("runc", "1.3.3", ""), wantVerdict{known: true}},
		{"containerd's runc shim by name", "io.containerd.runc.v2", with(map[string]system.Runtime{"io.containerd.runc.v2": {}}),
			component("io.containerd.runc.v2", "1.3.3", ""), wantVerdict{known: true}},
		{"runc under another name, reported by it", "runc-new", with(map[string]system.Runtime{"runc-new": {Path: "/opt/runc/bin/runc"}}),
			component("runc-new", "1.1.11", ""), wantVerdict{true, true, []string{"CVE-2024-21626"}}},
		{"a shim naming runc", "custom", with(map[string]system.Runtime{"custom": {Type: "io.containerd.runc.v2", Options: map[string]any{"BinaryName": "/usr/local/bin/runc"}}}),
			component("custom", "1.4.0", ""), wantVerdict{known: true}},
		{"runc under another name, only PATH's runc reported", "runc-new", with(map[string]system.Runtime{"runc-new": {Path: "/opt/runc/bin/runc"}}),
			component("runc", "1.2.8", ""), wantVerdict{false, false, []string{"runc-new", "not judged"}}},
		{"gVisor by default, an old runc beside it", "runsc", with(map[string]system.Runtime{"runsc": {Path: "/usr/local/bin/runsc"}}),
			component("runc", "1.1.11", ""), wantVerdict{false, false, []string{"runsc", "not runc", "not judged"}}},
		{"gVisor's shim by default", "gvisor", with(map[string]system.Runtime{"gvisor": {Type: "io.containerd.runsc.v1"}}),
			component("runc", "1.1.11", ""), wantVerdict{false, false, []string{"gvisor", "not judged"}}},
		{"crun through the runc shim", "crun", with(map[string]system.Runtime{"crun": {Type: "io.containerd.runc.v2", Options: map[string]any{"BinaryName": "/usr/bin/crun"}}}),
			component("crun", "1.14", ""), wantVerdict{false, false, []string{"crun", "not judged"}}},
		{"nvidia wrapper", "nvidia", with(map[string]system.Runtime{"nvidia": {Path: "nvidia-container-runtime"}}),
			component("runc", "1.2.8", ""), wantVerdict{false, false, []string{"nvidia", "not judged"}}},
		{"default runtime not listed", "ghost", runcOnly, component("runc", "1.2.8", ""), wantVerdict{false, false, []string{"ghost", "not judged"}}},
		{"no runc version reported", "runc", runcOnly, component("containerd", "1.7.27", ""), wantVerdict{false, false, []string{"does not report"}}},
		{"unparseable runc version", "runc", runcOnly, component("runc", "dev", "1.1.5+ds1-1+deb12u1"), wantVerdict{false, false, []string{"cannot be parsed"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eng := &fakeRuntimeEngine{info: system.Info{DefaultRuntime: tc.def, Runtimes: tc.runtimes}, components: tc.components}
			v, err := CheckRuntime(context.Background(), eng)
			if err != nil {
				t.Fatal(err)
			}
			tc.want.check(t, v)
		})
	}
}

func TestCheckRuntimeEngineErrors(t *testing.T) {
	boom := errors.New("connection refused")
	for name, eng := range map[string]*fakeRuntimeEngine{
		"info":    {infoErr: boom, components: []types.ComponentVersion{{Name: "runc", Version: "1.2.8"}}},
		"version": {versionErr: boom, info: system.Info{DefaultRuntime: "runc"}},
	} {
		if _, err := CheckRuntime(context.Background(), eng); !errors.Is(err, ErrEngine) || !errors.Is(err, boom) {
			t.Errorf("%s error: CheckRuntime = %v, want ErrEngine wrapping the cause", name, err)
		}
	}
}
