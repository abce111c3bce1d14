package integration

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	fsclient "github.com/faaspot/faaspot/client"
	"github.com/faaspot/faaspot/daemon"
	"github.com/faaspot/faaspot/internal/redistest"
)

// sentinelSet is a master, its replicas and three sentinels, all processes on loopback.
type sentinelSet struct {
	name      string
	master    *redistest.Server
	replicas  []*redistest.Server
	sentinels []*redistest.Server
}

// startSentinelSet starts a master with two replicas and three sentinels (quorum 2, the master
// judged down after a second), and waits until every sentinel knows both replicas and the two
// other sentinels.
func startSentinelSet(t *testing.T) *sentinelSet {
	t.Helper()
	s := &sentinelSet{name: "fsmaster"}
	// Diskless: a replica re-syncs with a new master at once, with no file on disk.
	sync := []string{"--repl-diskless-sync", "yes"}
	s.master = redistest.StartServer(t, sync...)
	for range 2 {
		args := append([]string{"--replicaof", "127.0.0.1", fmt.Sprint(s.master.Port)}, sync...)
		s.replicas = append(s.replicas, redistest.StartServer(t, args...))
	}
	for range 3 {
		s.sentinels = append(s.sentinels, redistest.StartSentinel(t, redistest.SentinelConfig{Master: s.name,
			MasterAddr: s.master.Addr, Quorum: 2, DownAfter: time.Second, FailoverTime: 5 * time.Second}))
	}
	s.master.WaitReplicas(t, 2)
	ctx := context.Background()
	for _, sn := range s.sentinels {
		c := sn.Client()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			reps, _ := c.Do(ctx, "SENTINEL", "REPLICAS", s.name).Slice()
			peers, _ := c.Do(ctx, "SENTINEL", "SENTINELS", s.name).Slice()
			if len(reps) == 2 && len(peers) == 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("sentinel %s knows %d replicas and %d sentinels after 30 s", sn.Addr, len(reps), len(peers))
			}
		}
		_ = c.Close()
	}
	return s
}

// url is the FAASPOT_REDIS_URL of the set: every sentinel, the master's name.
func (s *sentinelSet) url() string {
	q := []string{"master_name=" + s.name}
	for _, sn := range s.sentinels[1:] {
		q = append(q, "addr="+sn.Addr)
	}
	return "redis://" + s.sentinels[0].Addr + "/0?" + strings.Join(q, "&")
}

// masterAddr is the master's address as the first live sentinel names it.
func (s *sentinelSet) masterAddr(t *testing.T) string {
	t.Helper()
	for _, sn := range s.sentinels {
		c := sn.Client()
		addr, err := c.Do(context.Background(), "SENTINEL", "GET-MASTER-ADDR-BY-NAME", s.name).StringSlice()
		_ = c.Close()
		if err == nil && len(addr) == 2 {
			return addr[0] + ":" + addr[1]
		}
	}
	t.Fatal("no sentinel names the master")
	return ""
}

// attempt is one request of the load: when it was sent, how long it took, what it gave.
type attempt struct {
	at     time.Time
	took   time.Duration
	id     string // the execution id of an accepted run
	status int    // the HTTP status of a refusal; 0 when accepted, -1 for a client-side error
	sync   bool
}

// failoverLoad sends runs of dep to c, asynchronous from two goroutines and synchronous from
// one, until stop is closed, and returns every attempt.
func failoverLoad(c *fsclient.Client, dep string, stop <-chan struct{}) []attempt {
	var mu sync.Mutex
	var out []attempt
	var wg sync.WaitGroup
	for g := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				a := attempt{at: time.Now(), sync: g == 2}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				var err error
				if a.sync {
					_, a.id, err = c.RunSync(ctx, dep, map[string]any{"i": i})
				} else {
					a.id, err = c.Run(ctx, dep, map[string]any{"i": i})
				}
				cancel()
				a.took = time.Since(a.at)
				var apiErr *fsclient.APIError
				switch {
				case errors.As(err, &apiErr):
					a.status, a.id = apiErr.Status, ""
				case err != nil:
					a.status, a.id = -1, ""
				}
				mu.Lock()
				out = append(out, a)
				mu.Unlock()
				if a.status != 0 {
					time.Sleep(50 * time.Millisecond) // a client backing off, as a real one would
				} else {
					time.Sleep(100 * time.Millisecond) // ~30 runs a second in all: the index keeps 1000
				}
			}
		}()
	}
	wg.Wait()
	sort.Slice(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	return out
}

// TestSentinelFailover kills the Redis master (SIGKILL) under a load of sync and async runs on a
// node with FAASPOT_REDIS_MIN_REPLICAS=1: Sentinel promotes a replica, the node follows without
// a restart, requests during the failover answer 503 with a JSON error (none hangs), and every
// run accepted before, during or after completes. Then, with the new master's last replica gone
// too, an acknowledged write cannot be had: the API answers 503 within the replica timeout.
func TestSentinelFailover(t *testing.T) {
	set := startSentinelSet(t)
	n := startNode(t, func(c *daemon.Config) {
		c.RedisURL = set.url()
		c.RedisMinReplicas = 1
		c.RedisReplicaTimeout = time.Second
		c.ReclaimIdle = 3 * time.Second
		c.LookupCacheTTL = 0
		c.RequestsPerSecond = 1e6 // the test's reads of every record must not be rate-limited
	})
	if d, err := n.c.CreateDeployment(context.Background(), faaspot.DeploymentRequest{Name: "echo",
		Code: "def main(args, context):\n    return args\n"}, true); err != nil || d.Status != faaspot.StatusReady {
		t.Fatalf("deploy: %+v, %v", d, err)
	}

	stop := make(chan struct{})
	done := make(chan []attempt)
	go func() { done <- failoverLoad(n.c, "echo", stop) }()
	time.Sleep(2 * time.Second)
	old := set.master.Addr
	killed := time.Now()
	set.master.Kill()
	var promoted time.Time
	for deadline := time.Now().Add(30 * time.Second); promoted.IsZero(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no replica was promoted within 30 s")
		}
		if set.masterAddr(t) != old {
			promoted = time.Now()
		}
	}
	time.Sleep(8 * time.Second) // serving again, without a restart
	close(stop)
	attempts := <-done
	r := judgeFailover(t, n.c, attempts, killed)
	t.Logf("failover: master killed, replica promoted by Sentinel after %.2f s; %d runs accepted (%d during the failover window), %d refused with 503, %d other refusals, %d lost; %.2f s without an accepted run; slowest answer %.2f s",
		promoted.Sub(killed).Seconds(), r.accepted, r.acceptedAfterKill, r.refused503, r.otherRefusals, r.lost, r.outage.Seconds(), r.slowest.Seconds())
	if r.lost != 0 {
		t.Errorf("%d accepted runs lost", r.lost)
	}
	if r.otherRefusals != 0 {
		t.Errorf("%d requests failed otherwise than with 503", r.otherRefusals)
	}
	if r.slowest > 15*time.Second {
		t.Errorf("a request took %v: it hung instead of answering 503", r.slowest)
	}
	if r.acceptedAfterPromotion(promoted) == 0 {
		t.Error("no run accepted after the promotion: the node did not follow the failover")
	}
	checkNoReplicaNo202(t, n, set)
}

// failoverFigures sums up a failover's attempts.
type failoverFigures struct {
	accepted, acceptedAfterKill, refused503, otherRefusals, lost int
	outage, slowest                                              time.Duration
	attempts                                                     []attempt
}

func (f failoverFigures) acceptedAfterPromotion(at time.Time) int {
	n := 0
	for _, a := range f.attempts {
		if a.status == 0 && a.at.After(at) {
			n++
		}
	}
	return n
}

// judgeFailover waits for every accepted run to end and counts: accepted, refused, lost (not
// completed within a minute), the longest time without an accepted run after the kill.
func judgeFailover(t *testing.T, c *fsclient.Client, attempts []attempt, killed time.Time) failoverFigures {
	t.Helper()
	f := failoverFigures{attempts: attempts}
	var ids []string
	last := killed
	for _, a := range attempts {
		f.slowest = max(f.slowest, a.took)
		switch {
		case a.status == 0:
			f.accepted++
			ids = append(ids, a.id)
			if a.at.After(killed) {
				f.acceptedAfterKill++
				f.outage = max(f.outage, a.at.Add(a.took).Sub(last))
				last = a.at.Add(a.took)
			}
		case a.status == 503:
			f.refused503++
		default:
			f.otherRefusals++
			t.Logf("refused otherwise than 503: status %d at +%.2f s", a.status, a.at.Sub(killed).Seconds())
		}
	}
	deadline := time.Now().Add(time.Minute)
	for _, id := range ids {
		for {
			e, err := c.GetExecution(context.Background(), id)
			if err == nil && e.Status == faaspot.ExecCompleted {
				break
			}
			if time.Now().After(deadline) {
				f.lost++
				t.Logf("execution %s: %+v, %v", id, e.Status, err)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return f
}

// checkNoReplicaNo202 kills the new master's replicas: a run can no longer be acknowledged, and
// the API says so with a 503 and a JSON error within the replica timeout, rather than a 202.
func checkNoReplicaNo202(t *testing.T, n *node, set *sentinelSet) {
	t.Helper()
	master := set.masterAddr(t)
	for _, r := range append(set.replicas, set.master) {
		if r.Addr != master {
			r.Kill()
		}
	}
	start := time.Now()
	_, err := n.c.Run(context.Background(), "echo", map[string]any{"i": -1})
	var apiErr *fsclient.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 503 || !strings.Contains(apiErr.Err.Message, "replicas") {
		t.Fatalf("run with no replica left = %v, want a 503 with a JSON error", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the 503 took %v", took)
	}
	t.Logf("no replica left: 503 %q after %.2f s", apiErr.Err.Message, time.Since(start).Seconds())
}
