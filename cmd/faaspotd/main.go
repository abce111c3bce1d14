// Command faaspotd is the faaspot daemon: the HTTP API and the build and run workers.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/faaspot/faaspot/daemon"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "faaspotd:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg := daemon.DefaultConfig()
	if err := cfg.LoadEnv(os.Getenv); err != nil {
		return err
	}
	fs := flag.NewFlagSet("faaspotd", flag.ContinueOnError)
	fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "address of the HTTP API (FAASPOT_LISTEN)")
	fs.StringVar(&cfg.RedisURL, "redis-url", cfg.RedisURL, "Redis URL; empty: embedded store, not durable (FAASPOT_REDIS_URL)")
	fs.StringVar(&cfg.BaseImage, "base-image", cfg.BaseImage, "Python base image of deployments (FAASPOT_BASE_IMAGE)")
	fs.StringVar(&cfg.PipIndexURL, "pip-index-url", cfg.PipIndexURL, "package index for requirements (FAASPOT_PIP_INDEX_URL)")
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
	if err := fs.Parse(os.Args[1:]); err != nil {
		return err
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	d := daemon.New(cfg, log)
	if err := d.Open(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	log.Info("shutting down")
	return d.Close()
}
