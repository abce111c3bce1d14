package integration

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/daemon"
	"github.com/faaspot/faaspot/hardening"
	"github.com/faaspot/faaspot/imagebuilder"
)

// The build-security tests (issue 9, item 1) serve their own index on 127.0.0.1, behind basic
// authentication: the wheel of faaspot-testpkg, and faaspot-evil, a source distribution only,
// whose setup.py connects to a listener the test opens on 127.0.0.1.
const (
	evilPkg     = "faaspot-evil"
	sleepyPkg   = "faaspot-sleepy" // its setup.py never ends
	indexUser   = "builder"
	indexSecret = "s3cret-index-pass"
)

// tripwire is a TCP listener on 127.0.0.1 that counts the connections it gets.
type tripwire struct {
	net.Listener
	hits atomic.Int64
}

func startTripwire(t *testing.T) *tripwire {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tw := &tripwire{Listener: l}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			tw.hits.Add(1)
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = l.Close() })
	return tw
}

func (tw *tripwire) port() int { return tw.Addr().(*net.TCPAddr).Port }

// authIndex is a PEP 503 index on 127.0.0.1 that answers only requests with its credentials.
type authIndex struct {
	*httptest.Server
	files  map[string][]byte // file name -> content
	byName map[string]string // project -> file name
	authed atomic.Int64      // requests that carried the credentials
}

// startAuthIndex serves faaspot-testpkg's wheel and faaspot-evil's sdist, which connects to
// the tripwire's port when its setup.py runs.
func startAuthIndex(t *testing.T, wire *tripwire) *authIndex {
	t.Helper()
	wheel := fmt.Sprintf("%s-%s-py3-none-any.whl", testModule, testVersion)
	idx := &authIndex{
		files: map[string][]byte{wheel: buildWheel(testModule, testPkg, testVersion, "def hello():\n    return 'hello from a wheel'\n"),
			"faaspot_evil-1.0.tar.gz":   sdist(t, "faaspot_evil", evilSetup(wire.port())),
			"faaspot_sleepy-1.0.tar.gz": sdist(t, "faaspot_sleepy", "import time\ntime.sleep(3600)\n")},
		byName: map[string]string{testPkg: wheel, evilPkg: "faaspot_evil-1.0.tar.gz", sleepyPkg: "faaspot_sleepy-1.0.tar.gz"},
	}
	idx.Server = httptest.NewServer(http.HandlerFunc(idx.serve))
	t.Cleanup(idx.Close)
	return idx
}

func (idx *authIndex) serve(w http.ResponseWriter, r *http.Request) {
	if user, pass, ok := r.BasicAuth(); !ok || user != indexUser || pass != indexSecret {
		w.Header().Set("WWW-Authenticate", `Basic realm="faaspot-test"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	idx.authed.Add(1)
	if name, ok := strings.CutPrefix(r.URL.Path, "/files/"); ok && idx.files[name] != nil {
		_, _ = w.Write(idx.files[name])
		return
	}
	project := strings.Trim(strings.TrimPrefix(r.URL.Path, "/simple/"), "/")
	file, ok := idx.byName[project]
	if !ok {
		http.NotFound(w, r)
		return
	}
	sum := sha256.Sum256(idx.files[file])
	fmt.Fprintf(w, "<html><body><a href=\"/files/%s#sha256=%s\">%s</a></body></html>", file, hex.EncodeToString(sum[:]), file)
}

// url is the index URL with its credentials, as an operator would set it.
func (idx *authIndex) url() string {
	return fmt.Sprintf("http://%s:%s@%s/simple", indexUser, indexSecret, strings.TrimPrefix(idx.URL, "http://"))
}

// evilSetup is the setup.py of faaspot-evil: it reports its uid and whether it could connect to
// 127.0.0.1:port, then fails the build.
func evilSetup(port int) string {
	return fmt.Sprintf(`import os, socket
try:
    socket.create_connection(("127.0.0.1", %d), timeout=5).close()
    result = "CONNECTED"
except OSError as e:
    result = "failed: %%s" %% e
raise SystemExit("FAASPOT-TEST setup.py ran as uid %%d, connection %%s" %% (os.getuid(), result))
`, port)
}

// sdist writes the source distribution module-1.0.tar.gz with setup.py.
func sdist(t *testing.T, module, setup string) []byte {
	t.Helper()
	dir := module + "-1.0/"
	files := []struct{ name, body string }{
		{dir + "PKG-INFO", fmt.Sprintf("Metadata-Version: 1.0\nName: %s\nVersion: 1.0\n", strings.ReplaceAll(module, "_", "-"))},
		{dir + "setup.py", setup},
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), ModTime: time.Now()}); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write([]byte(f.body))
	}
	if err := errors.Join(tw.Close(), gz.Close()); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestBuildWheelsOnly: by default a requirement without a wheel fails the build with a message
// naming it, and its setup.py never runs: the listener it connects to sees nothing.
func TestBuildWheelsOnly(t *testing.T) {
	wire := startTripwire(t)
	idx := startAuthIndex(t, wire)
	n := startNode(t, func(c *daemon.Config) { c.PipIndexURL = idx.url() })
	d, err := n.c.CreateDeployment(context.Background(), faaspot.DeploymentRequest{Name: "evil",
		Code: "def main(args, context):\n    return 1\n", Requirements: evilPkg + "==1.0\n"}, true)
	if err == nil || d.Status != faaspot.StatusFailed {
		t.Fatalf("deploy with a source-only requirement: status %s, err %v", d.Status, err)
	}
	if !strings.Contains(d.Error, "no wheel") || !strings.Contains(d.Error, evilPkg) {
		t.Errorf("error %q does not say there is no wheel of %s", d.Error, evilPkg)
	}
	if hits := wire.hits.Load(); hits != 0 {
		t.Errorf("the sdist's setup.py ran at build time: %d connections to 127.0.0.1:%d", hits, wire.port())
	}
	if strings.Contains(d.BuildLog, "FAASPOT-TEST") || idx.authed.Load() == 0 {
		t.Errorf("setup.py output in the log, or the index never asked (%d): %s", idx.authed.Load(), d.BuildLog)
	}
	assertNoSecret(t, "build log", d.BuildLog+d.Error)
}

// TestBuildSourceAllowed: with source builds allowed, an sdist's setup.py runs, but with no
// network and not as root: the listener sees nothing whether the build succeeds or fails.
func TestBuildSourceAllowed(t *testing.T) {
	wire := startTripwire(t)
	idx := startAuthIndex(t, wire)
	b, node, logs := sourceBuilder(t, idx, 0)
	spec := imagebuilder.Spec{TenantID: faaspot.NewID()[:16], DeploymentID: faaspot.NewID()[:16],
		Code: "def main(args, context):\n    return 1\n", Requirements: evilPkg + "==1.0\n" + testPkg + "\n"}
	_, buildLog, err := b.Build(context.Background(), spec)
	t.Logf("build: %v\n%s", err, buildLog)
	if hits := wire.hits.Load(); hits != 0 {
		t.Errorf("the sdist's setup.py reached 127.0.0.1:%d at build time (%d connections)", wire.port(), hits)
	}
	// The build fails (setup.py exits) after it ran: it says so, and where.
	if !strings.Contains(buildLog, "FAASPOT-TEST setup.py ran as uid") || strings.Contains(buildLog, "CONNECTED") {
		t.Errorf("setup.py did not run in the install stage, or connected: %s", buildLog)
	}
	if strings.Contains(buildLog, "ran as uid 0,") {
		t.Error("setup.py ran as root")
	}
	assertNoSecret(t, "build log", buildLog+fmt.Sprint(err)+logs.String())
	left, err := env.docker.ContainerList(context.Background(), container.ListOptions{All: true,
		Filters: hardening.NodeFilter(node)})
	if err != nil || len(left) != 0 {
		t.Errorf("build containers left behind: %d (%v)", len(left), err)
	}
}

// sourceBuilder returns a builder of a node of its own (its images removed with the suite's)
// that allows source builds from idx, stopping builds after timeout (0: the default), and the
// node id and the builder's log.
func sourceBuilder(t *testing.T, idx *authIndex, timeout time.Duration) (*imagebuilder.Builder, string, *syncBuffer) {
	t.Helper()
	node := "it-" + faaspot.NewID()[:12]
	env.mu.Lock()
	env.nodes = append(env.nodes, node)
	env.mu.Unlock()
	logs := &syncBuffer{}
	b := imagebuilder.New(env.docker, imagebuilder.Config{BaseImage: env.baseImage, PipIndexURL: idx.url(),
		Network: "host", AllowSourceBuilds: true, Timeout: timeout, Sandbox: hardening.Config{Node: node},
		Labels: map[string]string{hardening.LabelNode: node}}, slog.New(slog.NewTextHandler(logs, nil)))
	return b, node, logs
}

// TestBuildSourceHangs: a setup.py that never ends is stopped with the build's timeout, and its
// container removed.
func TestBuildSourceHangs(t *testing.T) {
	idx := startAuthIndex(t, startTripwire(t))
	b, node, _ := sourceBuilder(t, idx, 20*time.Second)
	start := time.Now()
	_, buildLog, err := b.Build(context.Background(), imagebuilder.Spec{TenantID: faaspot.NewID()[:16],
		DeploymentID: faaspot.NewID()[:16], Code: "def main(args, context):\n    return 1\n", Requirements: sleepyPkg + "\n"})
	if took := time.Since(start); err == nil || !strings.Contains(err.Error(), "took longer than") || took > time.Minute {
		t.Errorf("build of a hanging setup.py: %v after %s\n%s", err, took, buildLog)
	}
	left, err := env.docker.ContainerList(context.Background(), container.ListOptions{All: true, Filters: hardening.NodeFilter(node)})
	if err != nil || len(left) != 0 {
		t.Errorf("build containers left behind: %d (%v)", len(left), err)
	}
}

// TestBuildIndexCredentials: an index URL with credentials installs the requirements, and the
// credentials appear in neither the build log, the daemon's log, the images' history nor their
// environment.
func TestBuildIndexCredentials(t *testing.T) {
	wire := startTripwire(t)
	idx := startAuthIndex(t, wire)
	n := startNode(t, func(c *daemon.Config) { c.PipIndexURL = idx.url() })
	ctx := context.Background()
	d := n.deploy(t, faaspot.DeploymentRequest{Name: "withdeps", Requirements: testPkg + "==" + testVersion + "\n",
		Code: "import " + testModule + "\ndef main(args, context):\n    return " + testModule + ".hello()\n"})
	if idx.authed.Load() == 0 {
		t.Error("the index was never asked with the credentials")
	}
	if out, _, err := n.c.RunSync(ctx, "withdeps", nil); err != nil || string(out) != `"hello from a wheel"` {
		t.Fatalf("run with the installed requirement: %s, %v", out, err)
	}
	got, err := n.c.GetDeployment(ctx, "withdeps")
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecret(t, "build log", got.BuildLog)
	assertNoSecret(t, "daemon log", n.logs.String())
	info, err := env.docker.ImageInspect(ctx, d.Image)
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range []string{d.Image, info.Config.Labels[imagebuilder.LabelDeps]} {
		inspected, err := env.docker.ImageInspect(ctx, img)
		if err != nil {
			t.Fatalf("inspect %q: %v", img, err)
		}
		assertNoSecret(t, img+" environment", strings.Join(inspected.Config.Env, "\n"))
		if strings.Contains(strings.Join(inspected.Config.Env, "\n"), "PIP_INDEX_URL") {
			t.Errorf("%s: the index is in the image's environment: %v", img, inspected.Config.Env)
		}
		history, err := env.docker.ImageHistory(ctx, img)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range history {
			assertNoSecret(t, img+" history", h.CreatedBy+h.Comment)
			if strings.Contains(h.CreatedBy, "PIP_INDEX_URL") {
				t.Errorf("%s history: %s", img, h.CreatedBy)
			}
		}
	}
	list, _ := env.docker.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(
		filters.Arg("label", hardening.LabelRole+"="+hardening.RoleBuild), filters.Arg("label", hardening.LabelNode+"="+n.nodeID))})
	if len(list) != 0 {
		t.Errorf("%d build containers left behind", len(list))
	}
}

func assertNoSecret(t *testing.T, where, text string) {
	t.Helper()
	for _, s := range []string{indexSecret, indexUser + ":"} {
		if strings.Contains(text, s) {
			i := strings.Index(text, s)
			t.Errorf("%s carries the index's credentials (%q): …%s…", where, s, text[max(0, i-80):min(len(text), i+80)])
		}
	}
}
