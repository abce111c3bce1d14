package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Cluster is a Redis Cluster of redis-server processes on loopback, every slot assigned, no
// replicas.
type Cluster struct {
	// Addrs are its masters, host:port.
	Addrs []string
	procs []*exec.Cmd
	dir   string
}

// StartCluster starts n redis-server processes in cluster mode on free loopback ports, joins
// them into one cluster with redis-cli, and waits until every node reports cluster_state:ok.
// Stop ends them; they are also killed with the test binary should it die first.
func StartCluster(n int) (*Cluster, error) {
	dir, err := os.MkdirTemp("", "faaspot-cluster-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir}
	ports, err := freePortsWithBus(n)
	if err != nil {
		return c, err
	}
	for _, p := range ports {
		port := strconv.Itoa(p)
		cmd := exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--protected-mode", "no",
			"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes-"+port+".conf"),
			"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", filepath.Join(dir, port+".log"))
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return c, fmt.Errorf("start redis-server: %w", err)
		}
		c.procs = append(c.procs, cmd)
		c.Addrs = append(c.Addrs, "127.0.0.1:"+port)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, addr := range c.Addrs {
		if err := waitPing(ctx, addr); err != nil {
			return c, err
		}
	}
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		return c, fmt.Errorf("redis-cli --cluster create: %w: %s", err, out)
	}
	for _, addr := range c.Addrs {
		if err := waitClusterOK(ctx, addr); err != nil {
			return c, err
		}
	}
	return c, nil
}

// URL is the cluster's FAASPOT_REDIS_URL.
func (c *Cluster) URL() string {
	u := "redis+cluster://" + c.Addrs[0]
	for i, a := range c.Addrs[1:] {
		sep := "&"
		if i == 0 {
			sep = "?"
		}
		u += sep + "addr=" + a
	}
	return u
}

// Stop kills the cluster's processes (by their ids) and removes their directory.
func (c *Cluster) Stop() {
	for _, cmd := range c.procs {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	if c.dir != "" {
		_ = os.RemoveAll(c.dir)
	}
}

// freePortsWithBus returns n loopback ports free now, each with its cluster bus port (+10000)
// free too.
func freePortsWithBus(n int) ([]int, error) {
	var out []int
	for tries := 0; len(out) < n && tries < 200; tries++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		p := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if p+10000 > 65535 {
			continue
		}
		bus, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+10000))
		if err != nil {
			continue
		}
		_ = bus.Close()
		out = append(out, p)
	}
	if len(out) < n {
		return nil, errors.New("no free loopback ports for the cluster")
	}
	return out, nil
}

// nodeClient is a client of one node, with go-redis's maintenance notifications off (they look
// the address up in the DNS).
func nodeClient(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
}

// waitPing waits until the Redis at addr answers.
func waitPing(ctx context.Context, addr string) error {
	c := nodeClient(addr)
	defer c.Close()
	for c.Ping(ctx).Err() != nil {
		select {
		case <-ctx.Done():
			return fmt.Errorf("redis-server at %s did not answer", addr)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// waitClusterOK waits until the node at addr reports cluster_state:ok.
func waitClusterOK(ctx context.Context, addr string) error {
	c := nodeClient(addr)
	defer c.Close()
	for {
		info, err := c.ClusterInfo(ctx).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the node at %s never reported cluster_state:ok: %v %s", addr, err, info)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
