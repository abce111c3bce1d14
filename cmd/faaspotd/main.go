// Command faaspotd is the faaspot daemon: the HTTP API and the build and run workers.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/faaspot/faaspot/cli"
	"github.com/faaspot/faaspot/daemon"
)

// version is set at build time (-ldflags "-X main.version=..."); see cli.BuildVersion.
var version = "dev"

// Exit statuses: 0 after a clean shutdown (or --help, --version), 1 when the daemon fails,
// 2 for a mistake in the command line.
const (
	exitFail  = 1
	exitUsage = 2
)

func main() {
	cfg, debug, code := parseFlags(os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	if code >= 0 {
		os.Exit(code)
	}
	cfg.Version = cli.BuildVersion(version)
	if err := run(cfg, debug); err != nil {
		fmt.Fprintln(os.Stderr, "faaspotd:", err)
		os.Exit(exitFail)
	}
}

// parseFlags reads the configuration from the environment, then the flags of args over it. It
// returns code -1 when the daemon should start, or the exit status when it should not: 0 after
// printing the help (-h, --help) or the version (--version) to stdout, 2 after a usage error
// (unknown flag, bad value, stray argument) on stderr, 1 when the environment is invalid.
func parseFlags(args []string, getenv func(string) string, stdout, stderr io.Writer) (daemon.Config, bool, int) {
	cfg := daemon.DefaultConfig()
	envErr := cfg.LoadEnv(getenv)
	fs := flag.NewFlagSet("faaspotd", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors and help are printed below, each where it belongs
	fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "address of the HTTP API (FAASPOT_LISTEN)")
	fs.StringVar(&cfg.RedisURL, "redis-url", cfg.RedisURL, "Redis URL; empty: embedded store, not durable (FAASPOT_REDIS_URL)")
	fs.StringVar(&cfg.BaseImage, "base-image", cfg.BaseImage, "Python base image of deployments (FAASPOT_BASE_IMAGE)")
	fs.StringVar(&cfg.PipIndexURL, "pip-index-url", cfg.PipIndexURL, "package index for requirements (FAASPOT_PIP_INDEX_URL)")
	fs.StringVar(&cfg.Registry, "registry", cfg.Registry, "HOST:PORT[/PREFIX] of a registry images are pushed to and pulled from (FAASPOT_REGISTRY)")
	fs.StringVar(&cfg.BuildNetwork, "build-network", cfg.BuildNetwork, "network mode of image builds (FAASPOT_BUILD_NETWORK)")
	fs.StringVar(&cfg.SandboxNetwork, "sandbox-network", cfg.SandboxNetwork, "network of run containers (FAASPOT_SANDBOX_NETWORK)")
	fs.StringVar(&cfg.Runtime, "runtime", cfg.Runtime, "OCI runtime of run containers, e.g. runsc (FAASPOT_RUNTIME)")
	fs.BoolVar(&cfg.AllowVulnerableRuntime, "allow-vulnerable-runtime", cfg.AllowVulnerableRuntime, "start even on a runc with a known container escape (FAASPOT_ALLOW_VULNERABLE_RUNTIME)")
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "concurrent runs on this node (FAASPOT_WORKERS)")
	fs.IntVar(&cfg.BuildWorkers, "build-workers", cfg.BuildWorkers, "concurrent builds on this node (FAASPOT_BUILD_WORKERS)")
	fs.TextVar(&cfg.Role, "role", cfg.Role, "all, api or worker; a worker serves only /healthz, /readyz and /metrics (FAASPOT_ROLE)")
	fs.StringVar(&cfg.DevTenant, "dev-tenant", cfg.DevTenant, "create this tenant at start-up and print its token (FAASPOT_DEV_TENANT)")
	fs.StringVar(&cfg.ClientConfig, "write-client-config", cfg.ClientConfig, "write the dev tenant's URL and token to this file (FAASPOT_WRITE_CLIENT_CONFIG)")
	debug := fs.Bool("debug", false, "debug logging")
	showVersion := fs.Bool("version", false, "print the version and exit")
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fmt.Fprintln(stdout, "faaspotd is the faaspot daemon: the HTTP API and the build and run workers.\n\n"+
			"Usage: faaspotd [flags]\n\nEach flag overrides its environment variable (in parentheses).\n\nFlags:")
		fs.PrintDefaults()
		return cfg, false, 0
	case err != nil:
		fmt.Fprintf(stderr, "faaspotd: %v (see 'faaspotd --help')\n", err)
		return cfg, false, exitUsage
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "faaspotd: unexpected argument %q: faaspotd takes only flags (see 'faaspotd --help')\n", fs.Arg(0))
		return cfg, false, exitUsage
	case *showVersion:
		fmt.Fprintln(stdout, "faaspotd "+cli.BuildVersion(version))
		return cfg, false, 0
	case envErr != nil:
		fmt.Fprintln(stderr, "faaspotd:", envErr)
		return cfg, false, exitFail
	}
	return cfg, *debug, -1
}

func run(cfg daemon.Config, debug bool) error {
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	log := newLogger(os.Stderr, cfg.LogFormat, level)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if addr := os.Getenv(pprofEnv); addr != "" {
		_, stopPprof, err := servePprof(addr, log)
		if err != nil {
			return err
		}
		defer stopPprof()
	}
	d := daemon.New(cfg, log)
	if err := d.Open(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	log.Info("shutting down")
	return d.Close()
}

// newLogger writes to w at level, as JSON objects (format "json") or slog's text lines.
func newLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// pprofEnv names the address of the opt-in profiling listener (off when empty).
const pprofEnv = "FAASPOT_PPROF_LISTEN"

// servePprof serves net/http/pprof on addr, on a mux of its own (never the API's), and returns
// the address it listens on and the func that closes it. It has no authentication: give it a
// loopback address.
func servePprof(addr string, log *slog.Logger) (string, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", pprofEnv, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Warn("pprof listening: profiles and the command line are open to whoever reaches it", "addr", ln.Addr().String())
	return ln.Addr().String(), func() { _ = srv.Close() }, nil
}
