package sandbox

import (
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/faaspot/faaspot/hardening"
)

// Labels put on every sandbox container: hardening's (managed, role, node) and the run's.
const (
	LabelManaged   = hardening.LabelManaged
	LabelRole      = hardening.LabelRole
	LabelNode      = hardening.LabelNode
	LabelTenant    = "io.faaspot.tenant"
	LabelExecution = "io.faaspot.execution" // the run that started the container (none if pre-warmed)
	LabelKey       = "io.faaspot.key"       // the deployment version a container serves (server-side ids)
)

// Limits are the resources of one run, already defaulted and capped by the caller.
type Limits struct {
	MemoryBytes int64
	NanoCPUs    int64
	Timeout     time.Duration
	// OutputBytes caps each of stdout and stderr; ResultBytes caps the JSON return value.
	OutputBytes int
	ResultBytes int
}

// hostConfig renders the hardened host configuration of a run's container. In fork mode the
// container has no init process: the runner is the init (it reaps what runs leave, and the
// kernel spares it every signal it has no handler for), so no process above a run holds the
// protocol streams but the runner and its fork server, which are not dumpable, even where the
// kernel has no Landlock.
func hostConfig(cfg Config, req Request) *container.HostConfig {
	l := req.Limits
	hc := hardening.HostConfig(cfg.Config, hardening.Resources{MemoryBytes: l.MemoryBytes, NanoCPUs: l.NanoCPUs})
	if cfg.modeOf(req) == ModeFork {
		hc.Init = new(bool)
	}
	return hc
}

// containerConfig renders the container configuration of a run's container: hardening's labels
// and the user of the run's tenant (hardening.Config.TenantUser: a host uid of its own unless
// the operator fixed one), the image's runner serving in its mode (cfg.modeOf), stdin open for the requests,
// no environment beyond the image's. Only server-side ids go into labels, never args or context.
func containerConfig(cfg Config, req Request) *container.Config {
	cc := hardening.ContainerConfig(cfg.Config.ForTenant(req.TenantID), hardening.RoleSandbox)
	cc.Image = req.Image
	cc.Cmd = []string{"--serve", string(cfg.modeOf(req))}
	cc.OpenStdin, cc.StdinOnce = true, true
	cc.AttachStdin, cc.AttachStdout, cc.AttachStderr = true, true, true
	cc.Labels[LabelTenant] = req.TenantID
	cc.Labels[LabelExecution] = req.ExecutionID
	cc.Labels[LabelKey] = req.Key
	return cc
}
