package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/faaspot/faaspot"
	fsclient "github.com/faaspot/faaspot/client"
	"github.com/faaspot/faaspot/daemon"
)

// node is one faaspotd of the bench, a subprocess of its own (so that its CPU time, memory and
// profile are its own and the load generator does not share its runtime), with a key prefix, a
// node id, a data dir and a tenant of its own, on a free loopback port.
type node struct {
	name   string
	cfg    daemon.Config     // what the daemon reads from its environment
	vars   map[string]string // the FAASPOT_* variables the bench set for it
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has been waited for
	log    *os.File
	url    string
	admin  string // its admin token
	token  string // the bench tenant's token
	pprof  string // address of its pprof listener; empty: off
	c      *fsclient.Client
	e      *benchEnv
	images map[string]bool // every image its deployments were built into
	closed bool
}

// quotaVars raise the default per-tenant quotas out of the way of the load. Nothing else of the
// default configuration changes, except a short stop grace (only the bench's own shutdowns wait
// for it; no figure does).
var quotaVars = map[string]string{
	"FAASPOT_REQUESTS_PER_SECOND":   "1000000",
	"FAASPOT_MAX_CONCURRENT_RUNS":   "100000",
	"FAASPOT_MAX_QUEUED_RUNS":       "10000000",
	"FAASPOT_MAX_DEPLOYMENTS":       "10000",
	"FAASPOT_MAX_CONCURRENT_BUILDS": "1000",
	"FAASPOT_MAX_QUEUED_BUILDS":     "10000",
	"FAASPOT_STOP_GRACE":            "5s",
}

// nodeVars are the FAASPOT_* variables of a new node: its own address, prefix, node id and admin
// token, the bench's Redis and base image, the quotas, then extra over them.
func (e *benchEnv) nodeVars(name string, port int, extra map[string]string) map[string]string {
	id := faaspot.NewID()[:10]
	vars := map[string]string{
		"FAASPOT_LISTEN":      fmt.Sprintf("127.0.0.1:%d", port),
		"FAASPOT_REDIS_URL":   e.redis.URL,
		"FAASPOT_BASE_IMAGE":  e.baseImage,
		"FAASPOT_KEY_PREFIX":  fmt.Sprintf("bench-%s-%s:", name, id),
		"FAASPOT_NODE_ID":     fmt.Sprintf("bench-%s-%s", name, id),
		"FAASPOT_ADMIN_TOKEN": "bench-admin-" + faaspot.NewID(),
		// Never the user's: no dev tenant, no client config written, a generated secret key.
		"FAASPOT_DEV_TENANT": "", "FAASPOT_WRITE_CLIENT_CONFIG": "", "FAASPOT_SECRET_KEY_FILE": "",
	}
	maps.Copy(vars, quotaVars)
	maps.Copy(vars, extra)
	return vars
}

// childEnv is the bench's environment with vars replacing the variables of the same names.
func childEnv(environ []string, vars map[string]string) []string {
	var out []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := vars[k]; !ok {
			out = append(out, kv)
		}
	}
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	return out
}

// startNode starts a daemon over the bench's Redis with extra FAASPOT_* variables, and creates
// its tenant "bench".
func (e *benchEnv) startNode(ctx context.Context, name string, extra map[string]string) (*node, error) {
	return e.startNodeAs(ctx, name, extra, "")
}

// startNodeAs starts a daemon; with a token, it joins the key prefix, data dir and admin token of
// an earlier node (given in extra), as that node's tenant.
func (e *benchEnv) startNodeAs(ctx context.Context, name string, extra map[string]string, token string) (*node, error) {
	bin, err := e.daemonBinary(ctx)
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	vars := e.nodeVars(name, port, extra)
	if vars["FAASPOT_DATA_DIR"] == "" {
		if vars["FAASPOT_DATA_DIR"], err = os.MkdirTemp(e.tmp, "data-"+name+"-"); err != nil {
			return nil, err
		}
	}
	cfg := daemon.DefaultConfig()
	if err := cfg.LoadEnv(func(k string) string {
		if v, ok := vars[k]; ok {
			return v
		}
		return e.getenv(k)
	}); err != nil {
		return nil, err
	}
	n := &node{name: name, cfg: cfg, vars: vars, exited: make(chan struct{}), url: "http://" + vars["FAASPOT_LISTEN"],
		admin: vars["FAASPOT_ADMIN_TOKEN"], pprof: vars["FAASPOT_PPROF_LISTEN"], e: e, images: map[string]bool{}}
	if err := n.start(bin); err != nil {
		return nil, err
	}
	if err := n.waitReady(ctx, time.Minute); err != nil {
		return nil, err
	}
	if token == "" {
		if token, err = n.newTenant(ctx, "bench"); err != nil {
			return nil, err
		}
	}
	n.token = token
	n.c = fsclient.New(n.url, n.token)
	return n, nil
}

// start starts the process, its output going to the bench's log directory.
func (n *node) start(bin string) error {
	e := n.e
	var err error
	logPath := os.DevNull
	if e.logDir != "" {
		logPath = filepath.Join(e.logDir, "daemon-"+n.name+".log")
	}
	if n.log, err = os.Create(logPath); err != nil {
		return err
	}
	n.cmd = exec.Command(bin)
	n.cmd.Env = childEnv(os.Environ(), n.vars)
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM} // never outlive the bench
	e.track(n.cfg.NodeID, n.cfg.KeyPrefix)
	if err := n.cmd.Start(); err != nil {
		n.log.Close()
		return fmt.Errorf("start faaspotd %s: %w", n.name, err)
	}
	e.mu.Lock()
	e.nodes = append(e.nodes, n)
	e.mu.Unlock()
	go func() { _ = n.cmd.Wait(); close(n.exited) }()
	return nil
}

// waitReady polls /readyz until it answers 200, the process exits or limit passes.
func (n *node) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.url+"/readyz", nil)
		if resp, err := httpClient.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-n.exited:
			return fmt.Errorf("faaspotd %s exited at start: %s\n%s", n.name, n.cmd.ProcessState, n.logTail())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("faaspotd %s not ready within %s\n%s", n.name, limit, n.logTail())
		}
	}
}

// logTail is the end of the node's log, for errors.
func (n *node) logTail() string {
	b, _ := os.ReadFile(n.log.Name())
	s := strings.TrimSpace(string(b))
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	return s
}

// newTenant creates a tenant with the admin token and returns its token.
func (n *node) newTenant(ctx context.Context, name string) (string, error) {
	token, err := fsclient.New(n.url, n.admin).CreateTenant(ctx, name)
	if err != nil {
		return "", fmt.Errorf("create tenant %s on %s: %w", name, n.name, err)
	}
	return token, nil
}

// pid is the daemon's process id.
func (n *node) pid() int { return n.cmd.Process.Pid }

// joinVars are the variables a node needs to join n's store and tenant (not its node id).
func (n *node) joinVars() map[string]string {
	return map[string]string{"FAASPOT_KEY_PREFIX": n.vars["FAASPOT_KEY_PREFIX"],
		"FAASPOT_DATA_DIR": n.vars["FAASPOT_DATA_DIR"], "FAASPOT_ADMIN_TOKEN": n.admin}
}

// deploy creates or updates a deployment and waits until it is ready (or failed).
func (n *node) deploy(ctx context.Context, name, code string) (faaspot.Deployment, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	start := time.Now()
	dep, err := n.c.CreateDeployment(ctx, faaspot.DeploymentRequest{Name: name, Code: code}, true)
	took := time.Since(start)
	if err != nil {
		return dep, took, fmt.Errorf("deploy %s on %s: %w", name, n.name, err)
	}
	// The API does not show images: the newest tag of the deployment's repository is the one
	// just built.
	if dep.Image, err = n.e.newestImage(ctx, dep.ID); err != nil {
		return dep, took, fmt.Errorf("image of %s on %s: %w", name, n.name, err)
	}
	n.images[dep.Image] = true
	return dep, took, nil
}

// stop sends SIGTERM to the daemon (its own process, by pid) and waits for it to exit; past
// grace it kills it.
func (n *node) stop(grace time.Duration) {
	select {
	case <-n.exited:
		return
	default:
	}
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		_ = n.cmd.Process.Kill()
	}
	select {
	case <-n.exited:
	case <-time.After(grace):
		_ = n.cmd.Process.Kill()
		<-n.exited
	}
}

// close stops the daemon, then removes whatever containers of its node id are left and the
// images it built. Its Redis keys stay until the bench ends (another node may join its prefix).
func (n *node) close() {
	if n.closed {
		return
	}
	n.closed = true
	n.stop(45 * time.Second)
	n.log.Close()
	n.e.sweepNode(n.cfg.NodeID)
	n.e.removeImages(n.cfg.NodeID, n.images)
}
