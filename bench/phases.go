package bench

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/sandbox"
)

// AllPhases are the bench's phases, in the order they run:
//
//	cold    cold sync runs (warm pool off) against a bare `docker run`, interleaved
//	warm    warm sync latency from the Go client, fork and process mode interleaved
//	memory  idle warm containers against bare idle ones
//	deploy  code-only redeploys to ready, each followed by its first run
//	sync    wrk: warm sync runs at each connection count; CPU per run and a daemon profile at the most
//	async   wrk: async accepts on the all-in-one node, then on an API-only node; CPU per accept at the most
//	redis   Redis memory per completed small execution
//	scale   many deployments to ready, then the daemon's memory with the pool at its cap
//	list    GET /v1/executions with many records stored
var AllPhases = []string{"cold", "warm", "memory", "deploy", "sync", "async", "redis", "scale", "list"}

// ParsePhases reads a comma-separated list of phases (FAASPOT_BENCH_PHASES); empty or "all" is
// every phase. The phases run in the order of AllPhases whatever the list's order.
func ParsePhases(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "all" {
		return slices.Clone(AllPhases), nil
	}
	want := map[string]bool{}
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if !slices.Contains(AllPhases, p) {
			return nil, fmt.Errorf("unknown bench phase %q (phases: %s)", p, strings.Join(AllPhases, ","))
		}
		want[p] = true
	}
	var out []string
	for _, p := range AllPhases {
		if want[p] {
			out = append(out, p)
		}
	}
	return out, nil
}

// session is one bench run: the environment, the options and the figures measured so far.
type session struct {
	e       *benchEnv
	o       Options
	started time.Time
	res     results
	sample  *faaspot.Execution // a completed record of the echo function, when one was read
}

// step announces a phase on the progress writer, with the time spent so far.
func (s *session) step(what string) {
	fmt.Fprintf(s.e.progress, "bench: %-52s (%.0f s)\n", what, time.Since(s.started).Seconds())
}

func (s *session) on(phase string) bool { return slices.Contains(s.o.Phases, phase) }

// measure runs the selected phases. Those on the "default" node (the default configuration)
// share it; the cost phases have nodes of their own.
func (s *session) measure(ctx context.Context) error {
	var err error
	s.res.Phases = s.o.Phases
	if s.on("cold") {
		s.step("cold: cold sync runs vs bare docker run")
		if s.res.Cold, err = s.e.benchCold(ctx, s.o.ColdSamples, s.o.ColdWarmup); err != nil {
			return fmt.Errorf("cold: %w", err)
		}
	}
	if s.on("warm") || s.on("memory") || s.on("deploy") || s.on("sync") || s.on("async") {
		if err := s.defaultPhases(ctx); err != nil {
			return err
		}
	}
	if s.on("redis") {
		s.step(fmt.Sprintf("redis: memory per execution, %d async runs", s.o.CostExecutions))
		if s.res.RedisCost, err = s.e.benchRedisCost(ctx, s.o.CostExecutions); err != nil {
			return fmt.Errorf("redis: %w", err)
		}
	}
	if s.on("scale") {
		s.step(fmt.Sprintf("scale: %d deployments to ready, then a run of each", s.o.ScaleDeployments))
		if s.res.Scale, err = s.e.benchScale(ctx, s.o.ScaleDeployments, s.o.ScaleBound); err != nil {
			return fmt.Errorf("scale: %w", err)
		}
	}
	if s.on("list") {
		s.step(fmt.Sprintf("list: write %d records, then GET /v1/executions", s.o.ListRecords))
		if s.res.List, err = s.e.benchList(ctx, s.o.ListRecords, s.o.ListRequests, s.sample); err != nil {
			return fmt.Errorf("list: %w", err)
		}
	}
	return nil
}

// defaultPhases starts the "default" node (default configuration, pprof listener on), deploys
// hello and echo, and runs the phases that use it; async runs last (it leaves a backlog of
// queued runs).
func (s *session) defaultPhases(ctx context.Context) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	def, err := s.e.startNode(ctx, "default", map[string]string{"FAASPOT_PPROF_LISTEN": fmt.Sprintf("127.0.0.1:%d", port)})
	if err != nil {
		return err
	}
	defer def.close()
	hello, _, err := def.deploy(ctx, "hello", helloCode(0))
	if err != nil {
		return err
	}
	if _, _, err := def.deploy(ctx, "echo", echoCode); err != nil {
		return err
	}
	if _, id, err := def.c.RunSync(ctx, "echo", map[string]any{"name": "bench"}); err == nil {
		if rec, err := def.c.GetExecution(ctx, id); err == nil {
			s.sample = &rec
		}
	}
	if s.on("warm") {
		if err := s.warm(ctx, def); err != nil {
			return err
		}
	}
	if s.on("memory") {
		s.step("memory: idle memory, warm vs bare")
		time.Sleep(time.Second) // the pool's containers have gone idle
		if s.res.Memory, err = s.e.benchMemory(ctx, def, hello.Image, 8, 3); err != nil {
			return fmt.Errorf("memory: %w", err)
		}
	}
	if s.on("deploy") {
		s.step("deploy: code-only redeploys and first runs")
		if s.res.Deploy, err = s.e.benchDeploys(ctx, def, s.o.DeploySamples); err != nil {
			return fmt.Errorf("deploys: %w", err)
		}
	}
	if s.on("sync") {
		if err := s.syncLoads(ctx, def); err != nil {
			return fmt.Errorf("sync: %w", err)
		}
	}
	if s.on("async") {
		if err := s.asyncLoads(ctx, def); err != nil {
			return fmt.Errorf("async: %w", err)
		}
	}
	return nil
}

// warm measures warm latency from the Go client in both isolation modes, on def and on a node
// of the other mode, in alternating blocks, then closes that node.
func (s *session) warm(ctx context.Context, def *node) error {
	s.step("warm: warm sync latency, fork and process (Go client)")
	mode := sandbox.ModeFork
	if def.cfg.WarmMode == sandbox.ModeFork {
		mode = sandbox.ModeProcess
	}
	other, err := s.e.startNode(ctx, string(mode), map[string]string{"FAASPOT_WARM_MODE": string(mode)})
	if err != nil {
		return err
	}
	defer other.close()
	if _, _, err := other.deploy(ctx, "hello", helloCode(0)); err != nil {
		return err
	}
	fork, proc := other, def
	if mode == sandbox.ModeProcess {
		fork, proc = def, other
	}
	if s.res.Warm, err = s.e.benchWarmModes(ctx, fork, proc, "hello", s.o.WarmWarmup, s.o.WarmRuns); err != nil {
		return fmt.Errorf("warm: %w", err)
	}
	return nil
}

// syncLoads runs wrk's floor (GET /healthz) at the most connections, then the warm sync loads
// on def, each after an unmeasured one at the same concurrency (the pool fills), with the CPU
// breakdown at the most connections; then a profiled load at the most connections, apart so
// that profiling costs no measured figure.
func (s *session) syncLoads(ctx context.Context, def *node) error {
	top := slices.Max(s.o.Connections)
	s.step(fmt.Sprintf("sync: wrk GET /healthz (HTTP floor), %d connections", top))
	floor, _, err := s.e.wrkLoad(ctx, def, loadSpec(def, "healthz", top, s.o.LoadDuration), "healthz", false)
	if err != nil {
		return err
	}
	s.res.Loads = append(s.res.Loads, floor)
	for _, c := range s.o.Connections {
		s.step(fmt.Sprintf("sync: wrk warm sync runs, %d connections", c))
		warmup := loadSpec(def, "sync", c, 2*time.Second)
		warmup.name += "-warmup"
		if _, _, err := s.e.wrkLoad(ctx, def, warmup, "sync", false); err != nil {
			return err
		}
		r, cpu, err := s.e.wrkLoad(ctx, def, loadSpec(def, "sync", c, s.o.LoadDuration), "sync", c == top)
		if err != nil {
			return err
		}
		s.res.Loads = append(s.res.Loads, r)
		if cpu != nil {
			s.res.CPU = append(s.res.CPU, *cpu)
		}
	}
	s.step(fmt.Sprintf("sync: daemon CPU profile, %d connections, %d s", top, s.o.ProfileSeconds))
	p, err := s.e.profileLoad(ctx, def, top, s.o.ProfileSeconds)
	if err != nil { // the figures stand without it
		p.Error = errString(err)
		fmt.Fprintln(s.e.progress, "bench: profile:", err)
	}
	s.res.Profile = &p
	return nil
}

// asyncLoads runs wrk's async accept loads on def (its workers run what it accepts meanwhile,
// as in production), closes def, then runs them on an API-only node joining def's store and
// tenant (nothing runs the runs).
func (s *session) asyncLoads(ctx context.Context, def *node) error {
	if err := s.asyncOn(ctx, def, "all-in-one"); err != nil {
		return err
	}
	def.close() // its workers stop; the runs still queued stay queued
	vars := def.joinVars()
	vars["FAASPOT_ROLE"] = "api"
	api, err := s.e.startNodeAs(ctx, "api", vars, def.token)
	if err != nil {
		return err
	}
	defer api.close()
	return s.asyncOn(ctx, api, "api-only")
}

// asyncOn runs the async loads on n, with the CPU breakdown at the most connections.
func (s *session) asyncOn(ctx context.Context, n *node, what string) error {
	top := slices.Max(s.o.AsyncConnections)
	for _, c := range s.o.AsyncConnections {
		s.step(fmt.Sprintf("async: wrk async accepts, %s, %d connections", what, c))
		r, cpu, err := s.e.wrkLoad(ctx, n, loadSpec(n, "async", c, s.o.LoadDuration), "async", c == top)
		if err != nil {
			return err
		}
		s.res.Loads = append(s.res.Loads, r)
		if cpu != nil {
			s.res.CPU = append(s.res.CPU, *cpu)
		}
	}
	return nil
}
