package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	fsclient "github.com/faaspot/faaspot/client"
	"github.com/faaspot/faaspot/hardening"
)

// uidProbe reports what per-uid and per-container isolation a function sees (issue 9, item 7).
const uidProbe = `import os, resource
def main(args, context):
    with open("/tmp/probe", "w") as f:
        f.write("x")
    st = os.statvfs("/dev/shm")
    with open("/proc/self/oom_score_adj") as f:
        oom = int(f.read())
    return {
        "uid": os.getuid(), "gid": os.getgid(), "euid": os.geteuid(),
        "core": list(resource.getrlimit(resource.RLIMIT_CORE)),
        "oom_score_adj": oom,
        "shm_bytes": st.f_blocks * st.f_frsize,
        "ipc": os.readlink("/proc/self/ns/ipc"), "cgroup": os.readlink("/proc/self/ns/cgroup"),
        "tmp_writable": open("/tmp/probe").read() == "x",
        "code_readable": os.access("/opt/faaspot/function/main.py", os.R_OK),
    }
`

type uidReport struct {
	UID, GID, EUID int64
	Core           []int64
	OOMScoreAdj    int    `json:"oom_score_adj"`
	ShmBytes       int64  `json:"shm_bytes"`
	IPC            string `json:"ipc"`
	Cgroup         string `json:"cgroup"`
	TmpWritable    bool   `json:"tmp_writable"`
	CodeReadable   bool   `json:"code_readable"`
}

// TestTenantUIDs: two tenants' functions run under different host uids, each its tenant's own
// (hardening.Config.TenantUser), with core dumps off, a raised OOM score, a bounded /dev/shm and
// IPC and cgroup namespaces of their own; the image stays readable and /tmp writable.
func TestTenantUIDs(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()
	token, err := n.admin.CreateTenant(ctx, fmt.Sprintf("t%d", time.Now().UnixNano()%1e9+1))
	if err != nil {
		t.Fatal(err)
	}
	tenants := map[string]*fsclient.Client{n.token: n.c, token: fsclient.New(n.url, token)}
	hostIPC, err1 := os.Readlink("/proc/self/ns/ipc")
	hostCgroup, err2 := os.Readlink("/proc/self/ns/cgroup")
	if err1 != nil || err2 != nil {
		t.Fatalf("the test's own namespaces: %v %v", err1, err2)
	}
	def := hardening.DefaultConfig()
	uids := map[int64]string{} // uid -> tenant
	for tok, c := range tenants {
		tenant, _, err := storeOf(t, n.prefix).Authenticate(ctx, tok, 0)
		if err != nil {
			t.Fatal(err)
		}
		if d, err := c.CreateDeployment(ctx, faaspot.DeploymentRequest{Name: "uid", Code: uidProbe}, true); err != nil || d.Status != faaspot.StatusReady {
			t.Fatalf("deploy for tenant %s: %s %v", tenant.ID, d.Status, err)
		}
		for run := range 2 { // a cold start, then a warm one
			out, _, err := c.RunSync(ctx, "uid", nil)
			if err != nil {
				t.Fatalf("tenant %s run %d: %v", tenant.ID, run, err)
			}
			var r uidReport
			if err := json.Unmarshal(out, &r); err != nil {
				t.Fatalf("probe: %s: %v", out, err)
			}
			t.Logf("tenant %s run %d: %s", tenant.ID, run, out)
			if want := def.TenantUser(tenant.ID); fmt.Sprintf("%d:%d", r.UID, r.GID) != want || r.EUID != r.UID {
				t.Errorf("tenant %s runs as %d:%d (euid %d), want its own %s", tenant.ID, r.UID, r.GID, r.EUID, want)
			}
			if r.UID < def.UIDBase || r.UID >= def.UIDBase+def.UIDCount {
				t.Errorf("uid %d outside the tenant range", r.UID)
			}
			if len(r.Core) != 2 || r.Core[0] != 0 || r.Core[1] != 0 {
				t.Errorf("RLIMIT_CORE = %v, want (0, 0)", r.Core)
			}
			if r.OOMScoreAdj != def.OOMScoreAdj {
				t.Errorf("oom_score_adj = %d, want %d", r.OOMScoreAdj, def.OOMScoreAdj)
			}
			if r.ShmBytes != def.ShmBytes {
				t.Errorf("/dev/shm holds %d bytes, want %d", r.ShmBytes, def.ShmBytes)
			}
			if r.IPC == hostIPC || r.Cgroup == hostCgroup || r.IPC == "" || r.Cgroup == "" {
				t.Errorf("namespaces ipc %s cgroup %s; the host's are %s, %s", r.IPC, r.Cgroup, hostIPC, hostCgroup)
			}
			if !r.TmpWritable || !r.CodeReadable {
				t.Errorf("/tmp writable %v, code readable %v", r.TmpWritable, r.CodeReadable)
			}
			if other, ok := uids[r.UID]; ok && other != tenant.ID {
				t.Errorf("tenants %s and %s both run as uid %d", other, tenant.ID, r.UID)
			}
			uids[r.UID] = tenant.ID
		}
	}
	if len(uids) != 2 {
		t.Errorf("two tenants ran under %d uids, want 2", len(uids))
	}
}
