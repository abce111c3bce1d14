package daemon

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

// The log's keys for what a line is about are the same everywhere: tenant (its id), deployment
// (the name), deployment_id, version, execution (its id).

// logReasonCap caps the failure reason a build line carries, in bytes.
const logReasonCap = 2048

// logEnd writes the INFO line of a finished execution, once its terminal record is written:
// what it ran, how it ended and how long it took. Never its arguments, result, output or
// context. depID is empty when the worker did not find the deployment.
func (w *workers) logEnd(job store.Job, depID string, e faaspot.Execution) {
	attrs := []slog.Attr{slog.String("execution", e.ID), slog.String("tenant", job.Tenant),
		slog.String("deployment", e.Deployment)}
	if depID != "" {
		attrs = append(attrs, slog.String("deployment_id", depID))
	}
	attrs = append(attrs, slog.Int("version", e.Version), slog.String("status", string(e.Status)),
		slog.Float64("duration_ms", e.DurationMS), slog.Bool("cold_start", e.ColdStart), slog.Bool("sync", job.Sync))
	if e.Attempts > 1 {
		attrs = append(attrs, slog.Int("attempts", e.Attempts))
	}
	if e.Error != nil {
		attrs = append(attrs, slog.String("error_type", e.Error.Type))
	}
	w.log.LogAttrs(context.Background(), slog.LevelInfo, "execution finished", attrs...)
}

// logBuild writes the INFO line of a finished build, with the reason of a failure (capped at
// logReasonCap: the build's own message, which the deployment's record holds too).
func (w *workers) logBuild(job store.Job, depID string, result faaspot.DeploymentStatus, reason string, took time.Duration) {
	attrs := []slog.Attr{slog.String("tenant", job.Tenant), slog.String("deployment", job.Name),
		slog.String("deployment_id", depID), slog.Int("version", job.Version),
		slog.String("result", string(result)), slog.Float64("seconds", took.Seconds())}
	if reason != "" {
		if len(reason) > logReasonCap {
			reason = strings.ToValidUTF8(reason[:logReasonCap], "") + "…"
		}
		attrs = append(attrs, slog.String("reason", reason))
	}
	w.log.LogAttrs(context.Background(), slog.LevelInfo, "build finished", attrs...)
}
