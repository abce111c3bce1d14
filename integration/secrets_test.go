package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/faaspot/faaspot"
)

// TestSecretCanary deploys a context holding a random canary, uses it in runs, and searches for it
// everywhere it must never be: API answers, the daemon's log, /metrics, the image's layers, raw
// Redis. (Container configuration: TestSandboxHardening.)
func TestSecretCanary(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()
	canary := "canary" + faaspot.NewID()
	d := n.deploy(t, faaspot.DeploymentRequest{Name: "vault", Context: mustContext(t, map[string]any{"db_password": canary}),
		Code: "import hashlib\ndef main(args, context):\n    print('connecting')\n    return hashlib.sha256(context['db_password'].encode()).hexdigest()\n"})
	v, id, err := n.c.RunSync(ctx, "vault", map[string]any{"q": 1})
	if err != nil || strings.Trim(string(v), `"`) != sha256hex(canary) {
		t.Fatalf("the function did not get its context: %s %v", v, err)
	}
	if _, err := n.c.Run(ctx, "vault", nil); err != nil {
		t.Fatal(err)
	}

	var seen []string
	look := func(where string, data []byte) {
		if bytes.Contains(data, []byte(canary)) {
			seen = append(seen, where)
		}
	}
	for _, path := range []string{"/v1/deployments", "/v1/deployments/vault", "/v1/executions", "/v1/executions/" + id} {
		look("GET "+path, n.raw(t, http.MethodGet, path, "").body)
	}
	look("/metrics", n.raw(t, http.MethodGet, "/metrics", "", "").body)
	look("daemon log", []byte(n.logs.String()))
	if strings.Contains(n.logs.String(), n.token) {
		t.Error("the daemon logged a tenant token")
	}

	// Every key and value of this node in Redis.
	opts, _ := redis.ParseURL(env.redisURL)
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	keys, err := rdb.Keys(ctx, n.prefix+"*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("redis keys: %v %v", keys, err)
	}
	for _, k := range keys {
		look("redis key name "+k, []byte(k))
		dump, err := rdb.Dump(ctx, k).Result()
		if err == nil {
			look("redis value "+k, []byte(dump))
		}
	}

	// The image, layer by layer (docker save streams every file of every layer).
	rc, err := env.docker.ImageSave(ctx, []string{d.Image})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if found, err := streamContains(rc, []byte(canary)); err != nil || found {
		look("image "+d.Image, []byte(canary))
	}
	if len(seen) > 0 {
		t.Errorf("the secret context leaked into: %s", strings.Join(seen, "; "))
	}
}

// streamContains searches a stream for needle without holding it all in memory.
func streamContains(r io.Reader, needle []byte) (bool, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	var tail []byte
	buf := make([]byte, 1<<20)
	for {
		n, err := br.Read(buf)
		chunk := append(tail, buf[:n]...)
		if bytes.Contains(chunk, needle) {
			return true, nil
		}
		if len(chunk) >= len(needle) {
			tail = append([]byte(nil), chunk[len(chunk)-len(needle)+1:]...)
		}
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
}

// TestContextOnlyRedeploy: a new context needs no image build; the next run gets it.
func TestContextOnlyRedeploy(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()
	code := "def main(args, context):\n    return context['v']\n"
	d1 := n.deploy(t, faaspot.DeploymentRequest{Name: "ctx", Code: code, Context: mustContext(t, `v = "one"`)})
	start := time.Now()
	d2 := n.deploy(t, faaspot.DeploymentRequest{Name: "ctx", Code: code, Context: mustContext(t, `v = "two"`)})
	t.Logf("context-only redeploy to ready: %v", time.Since(start).Round(time.Millisecond))
	if d2.Image != d1.Image || d2.Version != 2 {
		t.Fatalf("a context change rebuilt the image: %s -> %s", d1.Image, d2.Image)
	}
	if got, _ := n.c.GetDeployment(ctx, "ctx"); !strings.Contains(got.BuildLog, "up to date") {
		t.Errorf("build log of a context-only redeploy: %q", got.BuildLog)
	}
	if v, _, err := n.c.RunSync(ctx, "ctx", nil); err != nil || string(v) != `"two"` {
		t.Errorf("run after the context change: %s %v", v, err)
	}
}

// mustContext encodes a context for a deployment request.
func mustContext(t *testing.T, v any) json.RawMessage {
	t.Helper()
	raw, err := faaspot.ContextJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
