// Package integration runs faaspot end to end: a real daemon on a loopback port, a real Docker
// engine and a real Redis started by testcontainers-go. Run with `make test`.
package integration

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/redis/go-redis/v9"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/faaspot/faaspot"
	fsclient "github.com/faaspot/faaspot/client"
	"github.com/faaspot/faaspot/daemon"
	"github.com/faaspot/faaspot/imagebuilder"
	"github.com/faaspot/faaspot/sandbox"
	"github.com/faaspot/faaspot/store"
)

// env is what every test shares: one Redis, one Docker client, the base image, a package index.
var env struct {
	redisURL  string
	baseImage string
	docker    *client.Client
	index     *packageIndex
	keyFile   string // one secret key for every node, as nodes sharing a Redis must have

	mu    sync.Mutex
	nodes []string // node ids of every daemon started, to find their containers
}

// testSecretKey is the key in env.keyFile.
var testSecretKey = []byte("0123456789abcdef0123456789abcdef")

const adminToken = "it-admin-token-0123456789abcdef0123"

func TestMain(m *testing.M) {
	// Both are required on this machine (DESIGN.md §7); default them for `go test` run by hand.
	setDefault("TESTCONTAINERS_RYUK_DISABLED", "true")
	setDefault("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
	os.Exit(run(m))
}

func setDefault(k, v string) {
	if os.Getenv(k) == "" {
		os.Setenv(k, v)
	}
}

func run(m *testing.M) int {
	ctx := context.Background()
	required := os.Getenv("FAASPOT_INTEGRATION") == "required"
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err == nil {
		_, err = cli.Ping(ctx)
	}
	if err != nil {
		if required {
			fmt.Fprintln(os.Stderr, "integration: Docker engine unavailable:", err)
			return 1
		}
		fmt.Fprintln(os.Stderr, "integration: skipped, no Docker engine:", err)
		return 0
	}
	env.docker = cli
	env.baseImage = envOr("FAASPOT_TEST_BASE_IMAGE", "faaspot/python:bookworm")
	redisImage := envOr("FAASPOT_TEST_REDIS_IMAGE", "faaspot/redis:bookworm")
	for _, img := range []string{env.baseImage, redisImage} {
		if _, err := cli.ImageInspect(ctx, img); err != nil {
			fmt.Fprintf(os.Stderr, "integration: image %s missing; run scripts/images.sh all (make test does)\n", img)
			return 1
		}
	}
	redisC, err := testcontainers.Run(ctx, redisImage,
		testcontainers.WithExposedPorts("6379/tcp"),
		testcontainers.WithWaitStrategy(wait.ForListeningPort("6379/tcp").WithStartupTimeout(60*time.Second)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration: start Redis:", err)
		return 1
	}
	defer func() { _ = testcontainers.TerminateContainer(redisC) }()
	ep, err := redisC.PortEndpoint(ctx, "6379/tcp", "redis")
	if err != nil || !strings.HasPrefix(ep, "redis://127.0.0.1:") {
		fmt.Fprintln(os.Stderr, "integration: Redis endpoint must be on loopback, got", ep, err)
		return 1
	}
	env.redisURL = ep
	env.index = startPackageIndex()
	keyDir, err := os.MkdirTemp("", "faaspot-key-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	defer os.RemoveAll(keyDir)
	env.keyFile = keyDir + "/secret.key"
	if err := os.WriteFile(env.keyFile, []byte(hex.EncodeToString(testSecretKey)+"\n"), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	defer env.index.Close()
	check, err := startOpenAPICheck()
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	code := check.finish(m.Run())
	removeSuiteImages(ctx)
	if code == 0 {
		for _, id := range env.nodes {
			left, err := containersOf(ctx, id)
			if err != nil || len(left) != 0 {
				fmt.Fprintf(os.Stderr, "integration: %d sandbox containers of node %s left behind (%v)\n", len(left), id, err)
				return 1
			}
		}
	}
	return code
}

// removeSuiteImages removes the deployment images the suite's nodes built (each labelled with
// its node id), dependencies images included, so that runs of the suite do not fill the disk.
func removeSuiteImages(ctx context.Context) {
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, id := range env.nodes {
		b := imagebuilder.New(env.docker, imagebuilder.Config{Labels: map[string]string{sandbox.LabelNode: id}}, discard)
		if err := b.RemoveOwned(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "integration: images of node %s: %v\n", id, err)
		}
		removeLabelled(ctx, id)
	}
}

// removeLabelled removes every image left carrying node id's label and ours, whatever its name:
// images named in a test registry (127.0.0.1:PORT/…), which the builder without that registry
// does not recognise as deployment images.
func removeLabelled(ctx context.Context, id string) {
	imgs, err := env.docker.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(
		filters.Arg("label", "io.faaspot.managed=true"), filters.Arg("label", sandbox.LabelNode+"="+id))})
	if err != nil {
		fmt.Fprintf(os.Stderr, "integration: list images of node %s: %v\n", id, err)
		return
	}
	for _, img := range imgs {
		if _, err := env.docker.ImageRemove(ctx, img.ID, image.RemoveOptions{Force: true, PruneChildren: true}); err != nil {
			fmt.Fprintf(os.Stderr, "integration: remove image %s of node %s: %v\n", img.ID, id, err)
		}
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// node is a running daemon with a tenant of its own.
type node struct {
	d      *daemon.Daemon
	url    string
	token  string
	prefix string
	c      *fsclient.Client
	admin  *fsclient.Client
	// logs holds everything the daemon logged, at debug level.
	logs   *syncBuffer
	nodeID string
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startNode starts a daemon on 127.0.0.1:0 over the shared Redis with a key prefix of its own,
// creates a tenant and stops everything when the test ends.
func startNode(t testing.TB, mutate ...func(*daemon.Config)) *node {
	t.Helper()
	cfg := daemon.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.RedisURL = env.redisURL
	cfg.KeyPrefix = fmt.Sprintf("it%d:", time.Now().UnixNano())
	cfg.AdminToken = adminToken
	cfg.SecretKeyFile = env.keyFile
	cfg.NodeID = "it-" + faaspot.NewID()[:12] // never remove another test's containers
	env.mu.Lock()
	env.nodes = append(env.nodes, cfg.NodeID)
	env.mu.Unlock()
	cfg.BaseImage = env.baseImage
	cfg.PipIndexURL = env.index.URL + "/simple"
	cfg.BuildNetwork = "host" // the build reaches the test's index on 127.0.0.1
	cfg.Workers = 4
	cfg.SyncWait = 30 * time.Second
	for _, f := range mutate {
		f(&cfg)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d := daemon.New(cfg, log)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.Open(ctx); err != nil {
		t.Fatalf("open daemon: %v", err)
	}
	n := &node{d: d, url: "http://" + d.Addr(), prefix: cfg.KeyPrefix, logs: logs, nodeID: cfg.NodeID}
	t.Cleanup(func() {
		_ = d.Close()
		if t.Failed() {
			t.Logf("daemon log:\n%s", logs.String())
		}
	})
	if cfg.Listen == "" {
		return n
	}
	apiCheck.watch(t, n.url)
	if !cfg.Role.ServesAPI() {
		return n // a worker answers /healthz, /readyz and /metrics only
	}
	n.admin = fsclient.New(n.url, adminToken)
	token, err := n.admin.CreateTenant(ctx, fmt.Sprintf("t%d", time.Now().UnixNano()%1e9))
	if err != nil {
		t.Fatalf("create tenant: %v", err)
	}
	n.token, n.c = token, fsclient.New(n.url, token)
	return n
}

// deploy creates a deployment and waits for its build to end successfully.
func (n *node) deploy(t testing.TB, req faaspot.DeploymentRequest) faaspot.Deployment {
	t.Helper()
	d, err := n.c.CreateDeployment(context.Background(), req, true)
	if err != nil {
		t.Fatalf("deploy %s: %v", req.Name, err)
	}
	if d.Status != faaspot.StatusReady {
		t.Fatalf("deploy %s: status %s, error %q", req.Name, d.Status, d.Error)
	}
	d.Image = n.image(t, d.Name)
	return d
}

// image returns the tag of the ready image of the caller's deployment named name. The API does
// not serve it (it is internal): it is read from the node's store, as an operator with access to
// Redis could.
func (n *node) image(t testing.TB, name string) string {
	t.Helper()
	ctx := context.Background()
	st := storeOf(t, n.prefix)
	tenant, _, err := st.Authenticate(ctx, n.token, 0)
	if err != nil {
		t.Fatalf("resolve the node's tenant: %v", err)
	}
	d, err := st.GetDeployment(ctx, tenant.ID, name)
	if err != nil {
		t.Fatalf("read deployment %s from the store: %v", name, err)
	}
	return d.Image
}

// stores holds one store per key prefix, over the suite's Redis.
var stores struct {
	sync.Mutex
	m map[string]*store.Store
}

// storeOf returns a store over the suite's Redis with the prefix of a node.
func storeOf(t testing.TB, prefix string) *store.Store {
	t.Helper()
	stores.Lock()
	defer stores.Unlock()
	if st, ok := stores.m[prefix]; ok {
		return st
	}
	opts, err := redis.ParseURL(env.redisURL)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.New(redis.NewClient(opts), store.Options{Prefix: prefix, ResultTTL: time.Hour, RunCap: 4, SecretKey: testSecretKey})
	if err != nil {
		t.Fatal(err)
	}
	if stores.m == nil {
		stores.m = map[string]*store.Store{}
	}
	stores.m[prefix] = st
	return st
}

// keyOf is the pool key of a deployment's ready version, as the daemon labels its containers
// (its image named in a registry or not).
func keyOf(d faaspot.Deployment) string {
	tid := strings.SplitN(d.Image[strings.LastIndex(d.Image, "faaspot/t-")+len("faaspot/t-"):], "/", 2)[0]
	return fmt.Sprintf("%s/%s/%d/", tid, d.ID, d.ReadyVersion)
}

// sandboxContainers lists the node's sandbox containers, running or not. (Other test processes
// may share the engine: only this node's containers are its business.)
func (n *node) sandboxContainers(t testing.TB) []container.Summary {
	t.Helper()
	list, err := containersOf(context.Background(), n.nodeID)
	if err != nil {
		t.Fatalf("list containers: %v", err)
	}
	return list
}

func containersOf(ctx context.Context, nodeID string) ([]container.Summary, error) {
	return env.docker.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(
		filters.Arg("label", sandbox.LabelRole+"=sandbox"), filters.Arg("label", sandbox.LabelNode+"="+nodeID))})
}

// requireRuntime skips t unless the engine lists the OCI runtime name; with
// FAASPOT_TEST_RUNSC=required (set by .ci/run) a missing runsc fails t instead.
func requireRuntime(t *testing.T, name string) {
	t.Helper()
	info, err := env.docker.Info(context.Background())
	if err != nil {
		t.Fatalf("engine info: %v", err)
	}
	if _, ok := info.Runtimes[name]; ok {
		return
	}
	if name == "runsc" && os.Getenv("FAASPOT_TEST_RUNSC") == "required" {
		t.Fatalf("the engine lists no %s runtime (scripts/runsc.sh registers it)", name)
	}
	t.Skipf("the engine lists no %s runtime (scripts/runsc.sh registers it)", name)
}
