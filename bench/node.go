package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/faaspot/faaspot"
	fsclient "github.com/faaspot/faaspot/client"
	"github.com/faaspot/faaspot/daemon"
)

// node is one in-process faaspot daemon of the bench, with a key prefix, a node id, a data dir
// and a dev tenant of its own, on a loopback port.
type node struct {
	name   string
	d      *daemon.Daemon
	cfg    daemon.Config
	url    string
	token  string
	c      *fsclient.Client
	env    *benchEnv
	images map[string]bool // every image its deployments were built into
	closed bool
}

// startNode opens a daemon over the bench's Redis; mutate adjusts its configuration.
func (e *benchEnv) startNode(ctx context.Context, name string, mutate func(*daemon.Config)) (*node, error) {
	return e.startNodeAs(ctx, name, mutate, "")
}

// startNodeAs opens a daemon; with a token, it joins the key prefix of an earlier node (set by
// mutate) whose dev tenant exists already, as that tenant.
func (e *benchEnv) startNodeAs(ctx context.Context, name string, mutate func(*daemon.Config), token string) (*node, error) {
	cfg := daemon.DefaultConfig()
	if err := cfg.LoadEnv(e.getenv); err != nil {
		return nil, err
	}
	id := faaspot.NewID()[:10]
	cfg.Listen, cfg.DevTenant, cfg.AdminToken = "127.0.0.1:0", "bench", "bench-admin-"+faaspot.NewID()
	cfg.ClientConfig = "" // never overwrite the user's ~/.faaspot/config.json
	cfg.RedisURL = e.redis.URL
	cfg.BaseImage = e.baseImage
	cfg.KeyPrefix = fmt.Sprintf("bench-%s-%s:", name, id)
	cfg.NodeID = fmt.Sprintf("bench-%s-%s", name, id)
	dataDir, err := os.MkdirTemp(e.tmp, "data-"+name+"-")
	if err != nil {
		return nil, err
	}
	cfg.DataDir, cfg.SecretKeyFile = dataDir, ""
	if mutate != nil {
		mutate(&cfg)
	}
	var log *slog.Logger
	if e.logFile != nil {
		log = slog.New(slog.NewTextHandler(e.logFile, &slog.HandlerOptions{Level: slog.LevelWarn})).With("node", name)
	} else {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	d := daemon.New(cfg, log)
	octx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	e.track(cfg.NodeID, cfg.KeyPrefix)
	if err := quietly(func() error { return d.Open(octx) }); err != nil {
		return nil, fmt.Errorf("open daemon %s: %w", name, err)
	}
	if token == "" {
		token = d.DevToken
	}
	if token == "" {
		d.Close()
		return nil, fmt.Errorf("daemon %s: no dev tenant token (key prefix %s reused?)", name, cfg.KeyPrefix)
	}
	n := &node{name: name, d: d, cfg: cfg, url: "http://" + d.Addr(), token: token, env: e, images: map[string]bool{}}
	n.c = fsclient.New(n.url, n.token)
	e.nodes = append(e.nodes, n)
	return n, nil
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
	if dep.Image, err = n.env.newestImage(ctx, dep.ID); err != nil {
		return dep, took, fmt.Errorf("image of %s on %s: %w", name, n.name, err)
	}
	n.images[dep.Image] = true
	return dep, took, nil
}

// close stops the daemon (in-flight runs get its grace period), then removes whatever containers
// of its node id are left and the images its deployments were built into. Its Redis keys stay
// until the bench ends (another node may join its prefix).
func (n *node) close() {
	if n.closed {
		return
	}
	n.closed = true
	_ = n.d.Close()
	n.env.sweepNode(n.cfg.NodeID)
	n.env.removeImages(n.cfg.NodeID, n.images)
}

// quietly runs f with os.Stderr sent to /dev/null: Open announces the dev tenant's token there,
// which is noise in the bench's output (the bench is the only client of its daemons).
func quietly(f func() error) error {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return f()
	}
	defer null.Close()
	saved := os.Stderr
	os.Stderr = null
	defer func() { os.Stderr = saved }()
	return f()
}
