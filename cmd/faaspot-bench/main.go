// Command faaspot-bench measures faaspot against the physical floor on this machine: cold
// synchronous runs over HTTP next to a bare `docker run --rm --network none` of the same image
// doing the same work, interleaved in one run so that both see the same machine state. It prints
// a table and writes bench-results/bench.json.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	fsclient "github.com/faaspot/faaspot/client"
	"github.com/faaspot/faaspot/daemon"
)

const helloCode = "def main(args, context):\n    return 'hello ' + args.get('name', 'world')\n"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "faaspot-bench:", err)
		os.Exit(1)
	}
}

func run() error {
	n := flag.Int("n", 30, "measured iterations of each case")
	warmup := flag.Int("warmup", 3, "unmeasured iterations first")
	out := flag.String("out", "bench-results/bench.json", "where to write the JSON results")
	flag.Parse()

	cfg := daemon.DefaultConfig()
	if err := cfg.LoadEnv(os.Getenv); err != nil {
		return err
	}
	cfg.Listen, cfg.DevTenant, cfg.AdminToken = "127.0.0.1:0", "bench", "bench-admin"
	redisURL, stopRedis, err := startRedis()
	if err != nil {
		return err
	}
	defer stopRedis()
	if redisURL != "" {
		cfg.RedisURL = redisURL
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	d := daemon.New(cfg, log)
	ctx := context.Background()
	if err := d.Open(ctx); err != nil {
		return err
	}
	defer d.Close()
	url := "http://" + d.Addr()
	c := fsclient.New(url, d.DevToken)

	start := time.Now()
	dep, err := c.CreateDeployment(ctx, fsclient.DeploymentRequest{Name: "hello", Code: helloCode}, true)
	if err != nil {
		return fmt.Errorf("deploy: %w", err)
	}
	firstBuild := time.Since(start)

	bare := func() (time.Duration, error) { return bareDockerRun(dep.Image) }
	cold := func() (time.Duration, error) { return syncRun(url, d.DevToken) }
	for range *warmup {
		if _, err := bare(); err != nil {
			return err
		}
		if _, err := cold(); err != nil {
			return err
		}
	}
	var bareTimes, coldTimes []time.Duration
	for range *n { // interleaved: each pair sees the same machine state
		b, err := bare()
		if err != nil {
			return err
		}
		f, err := cold()
		if err != nil {
			return err
		}
		bareTimes, coldTimes = append(bareTimes, b), append(coldTimes, f)
	}
	redeploy, err := codeOnlyRedeploy(ctx, c)
	if err != nil {
		return err
	}

	res := results{
		When: time.Now().UTC(), Iterations: *n, Image: dep.Image, Store: storeKind(redisURL),
		Bare: summarize(bareTimes), Cold: summarize(coldTimes),
		FirstBuildMS: ms(firstBuild), CodeOnlyRedeployMS: ms(redeploy),
	}
	res.RatioP50 = res.Cold.P50 / res.Bare.P50
	res.RatioP95 = res.Cold.P95 / res.Bare.P95
	res.print(os.Stdout)
	return res.write(*out)
}

// bareDockerRun is the floor: the Docker CLI runs the same image with the same input, no faaspot.
func bareDockerRun(image string) (time.Duration, error) {
	cmd := exec.Command("docker", "run", "--rm", "-i", "--network", "none", image)
	cmd.Stdin = strings.NewReader(`{"args":{"name":"bench"},"context":{}}`)
	start := time.Now()
	outp, err := cmd.Output()
	d := time.Since(start)
	if err != nil || !strings.Contains(string(outp), `"ok": true`) {
		return 0, fmt.Errorf("bare docker run: %v: %s", err, outp)
	}
	return d, nil
}

// syncRun is one cold synchronous run over HTTP, the seed's way.
func syncRun(url, token string) (time.Duration, error) {
	req, _ := http.NewRequest(http.MethodPut, url+"/v1/sync/deployments/hello/rpc/?name=bench", nil)
	req.Header.Set("Authorization", "Token "+token)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("sync run: %d %s", resp.StatusCode, body)
	}
	return d, nil
}

// codeOnlyRedeploy times a redeploy that changes only the code, to ready.
func codeOnlyRedeploy(ctx context.Context, c *fsclient.Client) (time.Duration, error) {
	start := time.Now()
	code := strings.Replace(helloCode, "hello ", fmt.Sprintf("hello again %d ", time.Now().UnixNano()), 1)
	_, err := c.CreateDeployment(ctx, fsclient.DeploymentRequest{Name: "hello", Code: code}, true)
	return time.Since(start), err
}

// startRedis starts a redis-server on a loopback port when the binary exists (a real Redis is
// closer to production than the embedded store); otherwise the daemon's embedded store is used.
func startRedis() (string, func(), error) {
	if u := os.Getenv("FAASPOT_REDIS_URL"); u != "" {
		return u, func() {}, nil
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", func() {}, nil
	}
	port := 20000 + os.Getpid()%20000
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", fmt.Sprint(port), "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	for range 50 {
		if c, err := (&net.Dialer{Timeout: 100 * time.Millisecond}).Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return fmt.Sprintf("redis://127.0.0.1:%d", port), stop, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	return "", nil, fmt.Errorf("redis-server did not start on port %d", port)
}

func storeKind(redisURL string) string {
	if redisURL == "" {
		return "embedded"
	}
	return "redis"
}

// summary is a latency distribution in milliseconds.
type summary struct {
	P50, P95, Min, Max, Mean float64
}

func summarize(ds []time.Duration) summary {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	pick := func(q float64) float64 { return ms(s[min(len(s)-1, int(q*float64(len(s))))]) }
	return summary{P50: pick(0.50), P95: pick(0.95), Min: ms(s[0]), Max: ms(s[len(s)-1]), Mean: ms(sum / time.Duration(len(s)))}
}

type results struct {
	When               time.Time `json:"when"`
	Iterations         int       `json:"iterations"`
	Image              string    `json:"image"`
	Store              string    `json:"store"`
	Bare               summary   `json:"bare_docker_run_ms"`
	Cold               summary   `json:"cold_sync_run_ms"`
	RatioP50           float64   `json:"ratio_p50"`
	RatioP95           float64   `json:"ratio_p95"`
	FirstBuildMS       float64   `json:"first_build_ms"`
	CodeOnlyRedeployMS float64   `json:"code_only_redeploy_ms"`
}

func (r results) print(w io.Writer) {
	fmt.Fprintf(w, "faaspot bench, %d interleaved iterations, store %s, image %s\n\n", r.Iterations, r.Store, r.Image)
	fmt.Fprintf(w, "%-42s %9s %9s %9s %9s\n", "case (ms)", "p50", "p95", "min", "max")
	row := func(name string, s summary) {
		fmt.Fprintf(w, "%-42s %9.1f %9.1f %9.1f %9.1f\n", name, s.P50, s.P95, s.Min, s.Max)
	}
	row("bare docker run --rm -i --network none", r.Bare)
	row("faaspot cold sync run over HTTP", r.Cold)
	fmt.Fprintf(w, "%-42s %9.2f %9.2f\n\n", "ratio faaspot / bare", r.RatioP50, r.RatioP95)
	fmt.Fprintf(w, "first build to ready: %.0f ms; code-only redeploy to ready: %.0f ms\n", r.FirstBuildMS, r.CodeOnlyRedeployMS)
}

func (r results) write(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(r, "", "  ")
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
