package integration

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/mount"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/sandbox"
)

// probeCode reports, from inside the sandbox, what a function can see of its confinement.
const probeCode = `import hashlib, os, socket, resource, time

def read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except Exception as e:
        return "ERR " + type(e).__name__

def can_write(path):
    try:
        with open(path, "w") as f:
            f.write("x")
        return True
    except Exception:
        return False

def main(args, context):
    status = dict(l.split(":\t", 1) for l in read("/proc/self/status").splitlines() if ":\t" in l)
    mounts = [l for l in read("/proc/mounts").splitlines() if " /tmp " in l]
    time.sleep(float(args.get("sleep", 0)))
    return {
        "uid": os.getuid(), "gid": os.getgid(),
        "cap_eff": status.get("CapEff", "").strip(), "cap_bnd": status.get("CapBnd", "").strip(),
        "no_new_privs": status.get("NoNewPrivs", "").strip(),
        "interfaces": [name for _, name in socket.if_nameindex()],
        "write_root": can_write("/opt/faaspot/evil"), "write_tmp": can_write("/tmp/ok"),
        "tmp_mount": mounts[0] if mounts else "",
        "docker_sock": os.path.exists("/var/run/docker.sock") or os.path.exists("/run/docker.sock"),
        "channel_dir": os.listdir("/run/faaspot") if os.path.isdir("/run/faaspot") else None,
        "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[1],
        "pids_max": read("/sys/fs/cgroup/pids/pids.max") if os.path.exists("/sys/fs/cgroup/pids") else read("/sys/fs/cgroup/pids.max"),
        "env": dict(os.environ), "cmdline": read("/proc/self/cmdline"),
        "context_seen": hashlib.sha256(context.get("canary", "").encode()).hexdigest() == args.get("expect"),
    }
`

// TestSandboxHardening proves the hardening of DESIGN.md §4 twice: from inside (what the function
// sees) and from outside (the container's configuration while it runs).
func TestSandboxHardening(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()
	canary := "canary-" + faaspot.NewID()
	d := n.deploy(t, faaspot.DeploymentRequest{Name: "probe", Code: probeCode,
		Context: mustContext(t, map[string]any{"canary": canary}), Limits: &faaspot.Limits{MemoryMB: 96, CPUs: 0.5}})

	id, err := n.c.Run(ctx, "probe", map[string]any{"sleep": 3, "expect": sha256hex(canary)})
	if err != nil {
		t.Fatal(err)
	}
	info := inspectRunning(t, keyOf(d))
	hc := info.HostConfig
	if hc.Memory != 96<<20 || hc.MemorySwap != hc.Memory || hc.NanoCPUs != 5e8 || hc.PidsLimit == nil || *hc.PidsLimit <= 0 ||
		!hc.ReadonlyRootfs || hc.NetworkMode != "none" || len(hc.Binds) != 0 || !onlyChannelMount(hc.Mounts) || hc.Privileged {
		t.Errorf("host config not hardened: mem %d swap %d cpus %d pids %v ro %v net %s binds %v mounts %v",
			hc.Memory, hc.MemorySwap, hc.NanoCPUs, hc.PidsLimit, hc.ReadonlyRootfs, hc.NetworkMode, hc.Binds, hc.Mounts)
	}
	if len(hc.CapDrop) != 1 || hc.CapDrop[0] != "ALL" || !contains(hc.SecurityOpt, "no-new-privileges") {
		t.Errorf("caps/secopts: drop %v secopt %v", hc.CapDrop, hc.SecurityOpt)
	}
	if info.Config.User == "" || strings.HasPrefix(info.Config.User, "0") || info.Config.User == "root" {
		t.Errorf("container user %q is not a non-root uid", info.Config.User)
	}
	cfgJSON, _ := json.Marshal(info.Config)
	if strings.Contains(string(cfgJSON), canary) {
		t.Error("the context appears in the container's configuration")
	}

	e, err := n.c.WaitExecution(ctx, id, time.Minute)
	if err != nil || e.Status != faaspot.ExecCompleted {
		t.Fatalf("probe run: %+v %v", e, err)
	}
	var p map[string]any
	if err := json.Unmarshal(e.Result, &p); err != nil {
		t.Fatalf("probe result: %v", err)
	}
	t.Logf("probe from inside the sandbox: %s", e.Result)
	str := func(k string) string { v, _ := p[k].(string); return v }
	num := func(k string) float64 { v, _ := p[k].(float64); return v }
	ifaces, _ := p["interfaces"].([]any)
	tmp, pids := str("tmp_mount"), str("pids_max")
	checks := map[string]bool{
		"runs as non-root":            num("uid") != 0 && num("gid") != 0,
		"no effective capabilities":   str("cap_eff") == "0000000000000000",
		"no bounding capabilities":    str("cap_bnd") == "0000000000000000",
		"no_new_privs set":            str("no_new_privs") == "1",
		"only the loopback interface": len(ifaces) == 1 && ifaces[0] == "lo",
		"read-only root":              p["write_root"] == false,
		"writable /tmp":               p["write_tmp"] == true,
		"/tmp is nosuid,nodev tmpfs":  strings.Contains(tmp, "tmpfs") && strings.Contains(tmp, "nosuid") && strings.Contains(tmp, "nodev"),
		"no Docker socket":            p["docker_sock"] == false,
		"the channel taken and gone":  p["channel_dir"] == nil || len(p["channel_dir"].([]any)) == 0,
		"nofile limited":              num("nofile") > 0 && num("nofile") <= 4096,
		"pids limited":                pids != "max" && !strings.HasPrefix(pids, "ERR"),
		"context reaches main":        p["context_seen"] == true,
		"context not in env or argv":  !strings.Contains(mustJSON(p["env"]), canary) && !strings.Contains(str("cmdline"), canary),
	}
	for what, ok := range checks {
		if !ok {
			t.Errorf("inside the sandbox: %s: failed (probe: %s)", what, e.Result)
		}
	}
	if strings.Contains(mustJSON(e), canary) {
		t.Error("the context leaks into the execution record")
	}
}

// onlyChannelMount reports whether the mounts are none, or only the read-only directory of the
// container's channel (sandbox/channel.go): a fresh directory of the daemon's, never the
// engine's socket or another host path.
func onlyChannelMount(ms []mount.Mount) bool {
	if len(ms) == 0 {
		return true
	}
	m := ms[0]
	return len(ms) == 1 && m.Type == mount.TypeBind && m.ReadOnly && m.Target == "/run/faaspot" &&
		strings.HasPrefix(m.Source, os.TempDir()+"/faaspot-ch-")
}

// inspectRunning waits for the one container of a deployment version and inspects it.
func inspectRunning(t *testing.T, key string) container.InspectResponse {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		list, err := env.docker.ContainerList(context.Background(), container.ListOptions{All: true,
			Filters: filters.NewArgs(filters.Arg("label", sandbox.LabelKey+"="+key))})
		if err == nil && len(list) == 1 {
			info, err := env.docker.ContainerInspect(context.Background(), list[0].ID)
			if err == nil {
				return info
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no container for %s", key)
	return container.InspectResponse{}
}

func sha256hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
