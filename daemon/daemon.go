package daemon

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/docker/docker/client"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/faaspot/faaspot/api"
	"github.com/faaspot/faaspot/callback"
	"github.com/faaspot/faaspot/imagebuilder"
	"github.com/faaspot/faaspot/metrics"
	"github.com/faaspot/faaspot/sandbox"
	"github.com/faaspot/faaspot/store"
)

// labelStore, on an image, is the installation id of the store it was built for.
const labelStore = "io.faaspot.store"

// Daemon is one faaspot node: API, workers or both.
type Daemon struct {
	cfg Config
	log *slog.Logger

	// Registry holds every collector of this daemon (not the global registry).
	Registry *prometheus.Registry
	metrics  *metrics.Metrics

	mini    *miniredis.Miniredis
	rdb     redis.UniversalClient
	waits   redis.UniversalClient
	store   *store.Store
	docker  *client.Client
	builder *imagebuilder.Builder
	sandbox *sandbox.Sandbox

	listener net.Listener
	server   *http.Server
	api      *api.Server

	// DevToken is the token of the dev tenant when one was created at start-up.
	DevToken string
	// node is this node's id (see Config.NodeID): it names its containers and its workers.
	node string
	// guard decides which addresses callbacks may reach: the API checks callback URLs with it,
	// the workers every connection they open to deliver one.
	guard *callback.Guard
	// cache serves the API's token and run-deployment lookups (nil: off).
	cache *store.Cache
	// workers are this node's workers (nil on an API node): the API dispatches sync runs to them
	// directly when it can (direct.go).
	workers *workers

	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// New returns a Daemon; nothing starts before Open.
func New(cfg Config, log *slog.Logger) *Daemon {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics.RegisterBuildInfo(reg, cfg.Version)
	m := metrics.NewWithOptions(reg, metrics.Options{TenantLabel: cfg.MetricsTenantLabel, TenantLimit: cfg.MetricsTenantLimit})
	return &Daemon{cfg: cfg, log: log, Registry: reg, metrics: m}
}

// Open connects to Redis and, on a node with workers, to Docker (an API node opens no engine),
// removes orphaned sandbox containers, starts the workers and starts serving HTTP on cfg.Listen
// (opened synchronously: Addr is valid when Open returns).
func (d *Daemon) Open(ctx context.Context) error {
	if err := d.cfg.Validate(); err != nil {
		return fmt.Errorf("invalid configuration: %w", err)
	}
	allow, _ := callback.ParseAllow(d.cfg.CallbackAllow) // validated above
	d.guard = &callback.Guard{Allow: allow}
	if err := d.openStore(ctx); err != nil {
		return err
	}
	if d.cfg.Role.RunsWorkers() { // an API node needs no engine: worker nodes build and run
		if err := d.openDocker(ctx); err != nil {
			d.Close()
			return err
		}
	}
	if err := d.bootstrapTenant(ctx); err != nil {
		d.Close()
		return err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	if d.cfg.Role.RunsWorkers() {
		d.startWorkers(runCtx)
	}
	if d.cfg.Role.ServesAPI() || d.cfg.Listen != "" {
		if err := d.serve(); err != nil {
			d.Close()
			return err
		}
	}
	return nil
}

// openDocker connects to the node's engine (Config.DockerHost, else the environment's), then
// makes the builder and the sandbox on it and removes this node's orphaned containers.
func (d *Daemon) openDocker(ctx context.Context) error {
	opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	if d.cfg.DockerHost != "" {
		opts = append(opts, client.WithHost(d.cfg.DockerHost))
	}
	cli, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return fmt.Errorf("docker client: %w", err)
	}
	d.docker = cli
	if _, err := cli.Ping(ctx); err != nil {
		return fmt.Errorf("docker engine does not answer: %w", err)
	}
	node, err := d.nodeID()
	if err != nil {
		return err
	}
	d.node = node
	installation, err := d.store.InstallationID(ctx)
	if err != nil {
		return err
	}
	sc := sandbox.DefaultConfig()
	sc.Network, sc.Runtime = d.cfg.SandboxNetwork, d.cfg.Runtime
	sc.Mode, sc.MaxIdle, sc.Node = d.cfg.WarmMode, d.cfg.WarmMaxTotal, node
	sc.Channel = d.cfg.useChannel(cmp.Or(d.cfg.DockerHost, os.Getenv("DOCKER_HOST")))
	sc.CgroupRoot = d.cfg.CgroupRoot
	sc.UIDBase, sc.UIDCount, sc.ShmBytes, sc.OOMScoreAdj = d.cfg.UIDBase, d.cfg.UIDCount, int64(d.cfg.ShmMB)<<20, d.cfg.OOMScoreAdj
	// Images carry the node and the store they were built for: the image janitor removes only
	// images of this node and this store, whose deployments this store can vouch for (and, with
	// a registry, those of this store it pulled). Build checks run under the sandbox's hardening.
	creds, err := d.cfg.registryCredentials(os.Getenv, d.log)
	if err != nil {
		return err
	}
	d.builder = imagebuilder.New(cli, imagebuilder.Config{BaseImage: d.cfg.BaseImage,
		PipIndexURL: d.cfg.PipIndexURL, Network: d.cfg.BuildNetwork, Sandbox: sc.Config,
		AllowSourceBuilds: d.cfg.AllowSourceBuilds, DiskBytes: int64(d.cfg.BuildDiskMB) << 20, ImportTimeout: d.cfg.ImportTimeout,
		Labels:   map[string]string{sandbox.LabelNode: node, labelStore: installation},
		Registry: d.cfg.registryAddress(), RegistryCredentials: creds}, d.log)
	if d.sandbox, err = sandbox.New(cli, sc, d.log); err != nil {
		return err
	}
	d.registerEngineMetrics()
	// Builds run the user's code too (the import check): the runtime is checked on every node
	// that has an engine.
	if err := d.checkRuntime(ctx); err != nil {
		return err
	}
	if _, err := cli.ImageInspect(ctx, d.cfg.BaseImage); err != nil && d.cfg.BuildWorkers > 0 {
		d.log.Warn("base image is not on this engine; builds will fail until it is", "image", d.cfg.BaseImage)
	}
	n, err := d.sandbox.RemoveOrphans(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		d.log.Info("removed orphaned containers of this node", "count", n)
	}
	return nil
}

// checkRuntime refuses to run functions on a runc with a known container escape, unless the
// operator allowed it or runs sandboxes under another runtime (e.g. runsc).
func (d *Daemon) checkRuntime(ctx context.Context) error {
	if d.cfg.Runtime != "" && d.cfg.Runtime != "runc" {
		d.log.Info("sandboxes use a non-default runtime; runc is not checked", "runtime", d.cfg.Runtime)
		return nil
	}
	v, err := sandbox.CheckRuntime(ctx, d.docker)
	if err != nil {
		return err
	}
	switch {
	case v.Vulnerable && !d.cfg.AllowVulnerableRuntime:
		return fmt.Errorf("refusing to run functions: %s; upgrade runc, run sandboxes under another runtime (--runtime runsc), or set FAASPOT_ALLOW_VULNERABLE_RUNTIME=true to run anyway", v.Reason)
	case v.Vulnerable:
		d.log.Error("RUNNING ON A VULNERABLE RUNTIME: a function may escape its container", "reason", v.Reason)
	case !v.Known:
		d.log.Warn("container runtime could not be judged for known escapes", "reason", v.Reason)
	default:
		d.log.Info("container runtime checked", "reason", v.Reason)
	}
	return nil
}

// bootstrapTenant creates the dev tenant (and an admin token when none is set) for `make run`.
// The dev tenant's token is kept in the data dir and is the same after a restart (see
// devTenant); DevToken is empty when the tenant existed with no token kept here.
func (d *Daemon) bootstrapTenant(ctx context.Context) error {
	if d.cfg.AdminToken == "" && d.mini != nil {
		d.cfg.AdminToken = "fsadmin_" + randomHex(24)
		fmt.Fprintf(os.Stderr, "admin token (embedded store only): %s\n", d.cfg.AdminToken)
	}
	if d.cfg.DevTenant == "" {
		return nil
	}
	token, err := devTenant(ctx, d.store, d.devTokensPath(), d.cfg.DevTenant, d.log)
	if err != nil {
		return err
	}
	d.DevToken = token
	return nil
}

// devTokensPath is the file keeping the dev tenants' tokens.
func (d *Daemon) devTokensPath() string { return filepath.Join(d.cfg.DataDir, devTokensFile) }

func (d *Daemon) serve() error {
	ln, err := net.Listen("tcp", d.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", d.cfg.Listen, err)
	}
	d.listener = ln
	acfg := api.Config{
		AdminToken:           d.cfg.AdminToken,
		AccessLog:            d.cfg.AccessLog,
		DefaultLimits:        d.cfg.defaultLimits(),
		MaxLimits:            d.cfg.maxLimits(),
		MaxRetryAttempts:     d.cfg.MaxRetryAttempts,
		SyncWait:             d.cfg.SyncWait,
		MaxSyncWaiters:       d.cfg.MaxSyncWaiters,
		MaxBuildWaiters:      d.cfg.MaxBuildWaiters,
		BuildWait:            d.cfg.BuildWait,
		DefaultQuotas:        d.cfg.defaultQuotas(),
		MaxBodyBytes:         d.cfg.MaxBodyBytes,
		MaxCodeBytes:         d.cfg.MaxCodeBytes,
		MaxRequirementsBytes: d.cfg.MaxRequirementsBytes,
		MaxContextBytes:      d.cfg.MaxContextBytes,
		MaxArgsBytes:         d.cfg.MaxArgsBytes,
	}
	var auth api.Authenticator = d.store
	var runs api.RunLookup
	if d.cfg.LookupCacheTTL > 0 {
		d.cache = d.store.NewCache(d.cfg.LookupCacheTTL)
		auth, runs = d.cache, d.cache
	}
	deps := api.Deps{Auth: auth, Runs: runs, Tenants: d.store, Deployments: d.store, Executions: d.store,
		Store: d.store, Webhooks: d.store, Usage: d.store, Callbacks: d.guard}
	if d.docker != nil { // else the worker nodes' janitors remove a deleted deployment's images
		deps.Engine = engine{d}
	}
	if d.workers != nil && d.cfg.Workers > 0 {
		deps.Direct = d.workers
	}
	srv := api.New(acfg, deps, d.metrics, d.Registry, d.log)
	d.api = srv
	h := srv.Handler()
	if !d.cfg.Role.ServesAPI() {
		h = srv.OpsHandler() // a worker answers the operator's health, readiness and metrics only
	}
	d.server = newHTTPServer(d.cfg, h)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if err := d.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("http server", "err", err)
		}
	}()
	url := "http://" + ln.Addr().String()
	d.log.Info("serving", "url", url, "role", d.cfg.Role)
	if d.DevToken != "" {
		d.announceDevTenant(url)
	}
	return nil
}

// newHTTPServer returns the API's server with every timeout set, so that no client holds a
// connection for free: a request's headers within 10 s (or the read timeout when shorter), its
// whole body within cfg.HTTPReadTimeout, its answer within cfg.httpWriteTimeout, and a
// keep-alive connection closed after cfg.HTTPIdleTimeout idle. Bodies are bounded in size by
// the API's handlers (http.MaxBytesReader).
func newHTTPServer(cfg Config, h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: min(10*time.Second, cfg.HTTPReadTimeout),
		ReadTimeout:       cfg.HTTPReadTimeout,
		WriteTimeout:      cfg.httpWriteTimeout(),
		IdleTimeout:       cfg.HTTPIdleTimeout,
	}
}

// announceDevTenant prints the dev tenant's token and writes the client config when asked.
func (d *Daemon) announceDevTenant(url string) {
	fmt.Fprintf(os.Stderr, "\nfaaspot is serving on %s\ntenant %q token: %s\n(kept in %s: the same after a restart)\n\n  export FAASPOT_URL=%s FAASPOT_TOKEN=%s\n\n",
		url, d.cfg.DevTenant, d.DevToken, d.devTokensPath(), url, d.DevToken)
	if d.cfg.ClientConfig == "" {
		return
	}
	b, _ := json.MarshalIndent(map[string]string{"url": url, "token": d.DevToken}, "", "  ")
	if err := os.MkdirAll(filepath.Dir(d.cfg.ClientConfig), 0o700); err == nil {
		err = os.WriteFile(d.cfg.ClientConfig, append(b, '\n'), 0o600)
		if err != nil {
			d.log.Warn("write client config", "path", d.cfg.ClientConfig, "err", err)
		}
	}
}

// Addr is the address the API listens on (useful with port 0).
func (d *Daemon) Addr() string {
	if d.listener == nil {
		return ""
	}
	return d.listener.Addr().String()
}

// Close stops serving, lets in-flight runs finish (up to a grace period) and releases everything.
// It may be called more than once.
func (d *Daemon) Close() error {
	d.closeOnce.Do(func() { d.closeErr = d.close() })
	return d.closeErr
}

// close stops in StopGrace at most: sync waiters are answered 202 at once (Drain), the workers
// stop taking jobs while in-flight requests and runs go on, then whatever is left is cancelled
// (runs stay queued for the next start or another node).
func (d *Daemon) close() error {
	deadline := time.Now().Add(d.cfg.StopGrace)
	if d.server != nil {
		d.api.Drain()
	}
	if d.cancel != nil {
		d.cancel()
	}
	if d.server != nil {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		_ = d.server.Shutdown(ctx)
		cancel()
	}
	d.wg.Wait()
	if d.sandbox != nil {
		d.sandbox.Close()
	}
	if d.cache != nil {
		d.cache.Close()
	}
	var errs []error
	if d.rdb != nil {
		errs = append(errs, d.rdb.Close(), d.waits.Close())
	}
	if d.mini != nil {
		d.mini.Close()
	}
	if d.docker != nil {
		errs = append(errs, d.docker.Close())
	}
	return errors.Join(errs...)
}

// engine adapts the Docker client to what the API needs.
type engine struct{ d *Daemon }

func (e engine) Ping(ctx context.Context) error {
	_, err := e.d.docker.Ping(ctx)
	return err
}

// RemoveImages retires the deployment's warm containers, then removes its images.
func (e engine) RemoveImages(ctx context.Context, tenantID, deploymentID string) error {
	return removeDeployment(ctx, e.d.sandbox, e.d.builder, imagebuilder.Ref{TenantID: tenantID, DeploymentID: deploymentID})
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
