package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// benchRedis is the Redis every bench daemon shares, each under a key prefix of its own.
type benchRedis struct {
	URL      string
	External bool // FAASPOT_REDIS_URL: somebody else's; only our own prefixes are touched
	cmd      *exec.Cmd
	dir      string
}

// startRedis uses url (FAASPOT_REDIS_URL) when set, else starts redis-server from PATH on a free
// loopback port. A missing redis-server is an error: the bench never falls back to the daemon's
// embedded store, whose numbers would not be Redis's.
func startRedis(ctx context.Context, url string) (*benchRedis, error) {
	if url != "" {
		r := &benchRedis{URL: url, External: true}
		return r, r.ping(ctx)
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errors.New("redis-server is not on PATH: install it (apt-get install redis-server) or set FAASPOT_REDIS_URL to an existing Redis; the bench does not fall back to the embedded store")
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "faaspot-bench-redis-")
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", fmt.Sprint(port), "--dir", dir,
		"--save", "", "--appendonly", "no", "--protected-mode", "yes", "--daemonize", "no")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	r := &benchRedis{URL: fmt.Sprintf("redis://127.0.0.1:%d", port), cmd: cmd, dir: dir}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := r.ping(ctx); err == nil {
			return r, nil
		} else if time.Now().After(deadline) {
			r.stop()
			return nil, fmt.Errorf("redis-server did not answer on port %d within 10 s: %v\n%s", port, err, strings.TrimSpace(out.String()))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *benchRedis) ping(ctx context.Context) error {
	opts, err := redis.ParseURL(r.URL)
	if err != nil {
		return fmt.Errorf("FAASPOT_REDIS_URL: %w", err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

// forget deletes the keys of one bench daemon's prefix from an external Redis (queued runs the
// bench left behind); the Redis the bench started is simply stopped.
func (r *benchRedis) forget(prefix string) {
	if !r.External || prefix == "" {
		return
	}
	opts, err := redis.ParseURL(r.URL)
	if err != nil {
		return
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var batch []string
	for iter.Next(ctx) {
		if batch = append(batch, iter.Val()); len(batch) == 500 {
			c.Unlink(ctx, batch...)
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		c.Unlink(ctx, batch...)
	}
}

// stop ends the redis-server the bench started (only that process).
func (r *benchRedis) stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
	}
	if r.dir != "" {
		os.RemoveAll(r.dir)
	}
}

func (r *benchRedis) kind() string {
	if r.External {
		return "redis (FAASPOT_REDIS_URL)"
	}
	return "redis-server started by the bench"
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// client opens a client of the bench's Redis; the caller closes it.
func (r *benchRedis) client() (*redis.Client, error) {
	opts, err := redis.ParseURL(r.URL)
	if err != nil {
		return nil, fmt.Errorf("FAASPOT_REDIS_URL: %w", err)
	}
	return redis.NewClient(opts), nil
}
