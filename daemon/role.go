package daemon

import "fmt"

// Role is what a node does. Every role shares one Redis; roles other than RoleAll need a real one.
type Role string

// The roles of a node.
const (
	// RoleAll serves the API and runs the build and run workers (the default, one process).
	RoleAll Role = "all"
	// RoleAPI serves the API only: it queues builds and runs for worker nodes.
	RoleAPI Role = "api"
	// RoleWorker builds and runs on its own Docker engine. It serves no tenant route: on
	// FAASPOT_LISTEN (when set) it answers only /healthz, /readyz and /metrics, for the operator.
	RoleWorker Role = "worker"
)

// ServesAPI reports whether the node serves the tenant and operator API.
func (r Role) ServesAPI() bool { return r != RoleWorker }

// RunsWorkers reports whether the node builds and runs.
func (r Role) RunsWorkers() bool { return r != RoleAPI }

// UnmarshalText accepts all, api or worker.
func (r *Role) UnmarshalText(b []byte) error {
	switch v := Role(b); v {
	case RoleAll, RoleAPI, RoleWorker:
		*r = v
		return nil
	}
	return fmt.Errorf("role must be all, api or worker, not %q", b)
}

// MarshalText returns the role's name.
func (r Role) MarshalText() ([]byte, error) { return []byte(r), nil }

func (r Role) String() string { return string(r) }
