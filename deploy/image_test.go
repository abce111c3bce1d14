package deploy

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/faaspot/faaspot/internal/dockertest"
)

const managedLabel = "io.faaspot.managed"

// buildImage builds cmd/faaspotd statically and the image of deploy/Dockerfile around it, on
// base, without network; the image is labelled managed and removed when the test ends.
func buildImage(t *testing.T, cli *client.Client, base string) string {
	t.Helper()
	dir := t.TempDir()
	gobuild := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version=deploy-test",
		"-o", filepath.Join(dir, "faaspotd"), "../cmd/faaspotd")
	gobuild.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := gobuild.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var ctxTar bytes.Buffer
	tw := tar.NewWriter(&ctxTar)
	for name, src := range map[string]string{"Dockerfile": "Dockerfile", ".dockerignore": ".dockerignore", "faaspotd": filepath.Join(dir, "faaspotd")} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		_ = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(b))})
		_, _ = tw.Write(b)
	}
	_ = tw.Close()

	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	tag := "faaspot/faaspotd-test:" + hex.EncodeToString(suffix)
	ctx := context.Background()
	resp, err := cli.ImageBuild(ctx, &ctxTar, build.ImageBuildOptions{Tags: []string{tag},
		BuildArgs: map[string]*string{"BASE": &base}, Labels: map[string]string{managedLabel: "true"},
		Remove: true, ForceRemove: true, NetworkMode: "none", Version: build.BuilderV1})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	t.Cleanup(func() {
		_, _ = cli.ImageRemove(context.Background(), tag, image.RemoveOptions{Force: true, PruneChildren: true})
	})
	defer resp.Body.Close()
	var log strings.Builder
	dec := json.NewDecoder(resp.Body)
	for {
		var msg struct{ Stream, Error string }
		if err := dec.Decode(&msg); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("build output: %v", err)
		}
		log.WriteString(msg.Stream)
		if msg.Error != "" {
			t.Fatalf("build failed: %s\n%s", msg.Error, log.String())
		}
	}
	return tag
}

// TestDockerfile builds the image and checks what it promises: an unprivileged user, the data
// dir, the binary running in it, and (with the engine's socket) a node that comes up healthy.
func TestDockerfile(t *testing.T) {
	cli, base := dockertest.Engine(t)
	tag := buildImage(t, cli, base)
	ctx := context.Background()
	img, err := cli.ImageInspect(ctx, tag)
	if err != nil {
		t.Fatal(err)
	}
	if img.Config.User != "10001:10001" || img.Config.Labels[managedLabel] != "true" {
		t.Errorf("image user %q, labels %v: want 10001:10001 and %s", img.Config.User, img.Config.Labels, managedLabel)
	}
	for _, env := range []string{"FAASPOT_DATA_DIR=/var/lib/faaspot", "FAASPOT_LISTEN=0.0.0.0:8080"} {
		if !slices.Contains(img.Config.Env, env) {
			t.Errorf("image env %v lacks %s", img.Config.Env, env)
		}
	}
	if img.Config.Healthcheck == nil || len(img.Config.Healthcheck.Test) < 2 {
		t.Fatalf("image has no health check: %+v", img.Config.Healthcheck)
	}

	code, out := runOnce(t, cli, &container.Config{Image: tag, Cmd: []string{"--version"}})
	if code != 0 || !strings.Contains(out, "faaspotd deploy-test") {
		t.Errorf("faaspotd --version in the image: exit %d, output %q", code, out)
	}
	code, out = runOnce(t, cli, &container.Config{Image: tag, Entrypoint: []string{"id", "-u"}})
	if code != 0 || strings.TrimSpace(out) != "10001" {
		t.Errorf("id -u in the image: exit %d, %q", code, out)
	}
	t.Run("node", func(t *testing.T) { testNode(t, cli, tag, img.Config.Healthcheck.Test) })
}

// runOnce runs a container of cfg without network to its end and returns its exit code and
// output.
func runOnce(t *testing.T, cli *client.Client, cfg *container.Config) (int64, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg.Labels = map[string]string{managedLabel: "true"}
	id := create(t, cli, cfg, &container.HostConfig{NetworkMode: "none"})
	if err := cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	waitC, errC := cli.ContainerWait(ctx, id, container.WaitConditionNotRunning)
	var code int64
	select {
	case w := <-waitC:
		code = w.StatusCode
	case err := <-errC:
		t.Fatal(err)
	}
	return code, logs(t, cli, id)
}

func create(t *testing.T, cli *client.Client, cfg *container.Config, hc *container.HostConfig) string {
	t.Helper()
	c, err := cli.ContainerCreate(context.Background(), cfg, hc, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cli.ContainerRemove(context.Background(), c.ID, container.RemoveOptions{Force: true})
	})
	return c.ID
}

func logs(t *testing.T, cli *client.Client, id string) string {
	rc, err := cli.ContainerLogs(context.Background(), id, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var out bytes.Buffer
	_, _ = stdcopy.StdCopy(&out, &out, rc)
	return out.String()
}

// testNode starts the image as a node of role all (embedded store, no network) on the engine's
// socket, with the socket's group added as compose.yaml does, and requires the image's own
// health check to pass, the node id to be written to the data dir, and a clean exit on SIGTERM.
func testNode(t *testing.T, cli *client.Client, tag string, check []string) {
	sock := "/var/run/docker.sock"
	if h := os.Getenv("DOCKER_HOST"); h != "" && h != "unix://"+sock {
		t.Skipf("the engine is at %s, not on %s", h, sock)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(sock, &st); err != nil {
		t.Skipf("no socket: %v", err)
	}
	id := create(t, cli, &container.Config{Image: tag, Labels: map[string]string{managedLabel: "true"},
		Env:         []string{"FAASPOT_ROLE=all", "FAASPOT_WARM_CHANNEL=attach", "FAASPOT_JANITOR_INTERVAL=0"},
		Healthcheck: &container.HealthConfig{Test: check, Interval: 500 * time.Millisecond, Timeout: 3 * time.Second, Retries: 120}},
		&container.HostConfig{NetworkMode: "none", Binds: []string{sock + ":/var/run/docker.sock"},
			GroupAdd: []string{strconv.FormatUint(uint64(st.Gid), 10)}})
	ctx := context.Background()
	if err := cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := cli.ContainerInspect(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if c.State.Health != nil && c.State.Health.Status == "healthy" {
			break
		}
		if !c.State.Running || time.Now().After(deadline) {
			t.Fatalf("node not healthy (running %v, health %+v):\n%s", c.State.Running, c.State.Health, logs(t, cli, id))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := cli.ContainerStatPath(ctx, id, "/var/lib/faaspot/node-id"); err != nil {
		t.Errorf("no node id in the data dir: %v", err)
	}
	timeout := 40
	if err := cli.ContainerStop(ctx, id, container.StopOptions{Timeout: &timeout}); err != nil {
		t.Fatal(err)
	}
	if c, err := cli.ContainerInspect(ctx, id); err != nil || c.State.ExitCode != 0 {
		t.Errorf("exit after SIGTERM: %+v, %v\n%s", c.State, err, logs(t, cli, id))
	}
}
