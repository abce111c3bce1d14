package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/imagebuilder"
	"github.com/faaspot/faaspot/metrics"
	"github.com/faaspot/faaspot/registry"
)

// registryAddress is the parsed FAASPOT_REGISTRY (zero: none, or not valid: Validate says so).
func (c *Config) registryAddress() registry.Address {
	a, _ := registry.Parse(c.Registry)
	return a
}

// validateRegistry reports a FAASPOT_REGISTRY that is not HOST:PORT[/PREFIX], and credentials
// given by half.
func (c *Config) validateRegistry() error {
	var errs []error
	if _, err := registry.Parse(c.Registry); err != nil {
		errs = append(errs, fmt.Errorf("FAASPOT_REGISTRY: %w", err))
	}
	if (c.RegistryUsername == "") != (c.RegistryPasswordFile == "") {
		errs = append(errs, errors.New("set both FAASPOT_REGISTRY_USERNAME and FAASPOT_REGISTRY_PASSWORD_FILE, or neither"))
	}
	if c.RegistryUsername != "" && c.Registry == "" {
		errs = append(errs, errors.New("FAASPOT_REGISTRY_USERNAME is set without FAASPOT_REGISTRY"))
	}
	return errors.Join(errs...)
}

// registryCredentials loads the credentials of the registry (none without one) and logs where
// they came from, never the password.
func (c *Config) registryCredentials(getenv func(string) string, log *slog.Logger) (registry.Credentials, error) {
	a := c.registryAddress()
	if a.IsZero() {
		return registry.Credentials{}, nil
	}
	creds, err := registry.LoadCredentials(a, c.RegistryUsername, c.RegistryPasswordFile, getenv)
	if err != nil {
		return registry.Credentials{}, fmt.Errorf("FAASPOT_REGISTRY credentials: %w", err)
	}
	log.Info("images go through a registry: pushed once built, pulled where missing",
		"registry", a.String(), "credentials", creds)
	return creds, nil
}

// localImage makes the image of dep's version (dep.Image) present on this node's engine. With
// a registry that names it, it pulls it; only when the registry answers that it has no such
// image, or the pull fails otherwise (logged), does it build it here as rebuild does. Runs that
// need the same image meanwhile wait for the one pull (and build). It returns the image to run:
// dep.Image when pulled, else the rebuilt one's tag.
func (w *workers) localImage(ctx context.Context, tid string, dep faaspot.Deployment) (string, error) {
	if _, ok := w.set.registry.Local(dep.Image); !ok {
		return w.rebuild(ctx, tid, dep)
	}
	return w.pulls.do(ctx, dep.Image, func() (string, error) {
		if w.pull(ctx, tid, dep) {
			return dep.Image, nil
		}
		return w.rebuild(ctx, tid, dep)
	})
}

// pull pulls dep.Image from the registry, counts the result and logs it with its time; it
// reports whether the image is here now.
func (w *workers) pull(ctx context.Context, tid string, dep faaspot.Deployment) bool {
	start := w.clock.Now()
	err := w.builder.Pull(ctx, dep.Image)
	seconds := w.clock.Now().Sub(start).Seconds()
	attrs := []any{"tenant", tid, "deployment", dep.Name, "version", dep.ReadyVersion, "image", dep.Image, "seconds", seconds}
	switch {
	case err == nil:
		w.metrics.ImagePulls.WithLabelValues(metrics.PullPulled).Inc()
		w.log.Info("image pulled from the registry for a run", attrs...)
		return true
	case errors.Is(err, imagebuilder.ErrNotInRegistry):
		w.metrics.ImagePulls.WithLabelValues(metrics.PullMissing).Inc()
		w.log.Info("image not in the registry; building it here", attrs...)
	default:
		w.metrics.ImagePulls.WithLabelValues(metrics.PullError).Inc()
		w.log.Warn("image pull from the registry failed; building it here", append(attrs, "err", err)...)
	}
	return false
}

// flight runs one call per key at a time: the callers of a key that arrive while its call runs
// wait for its result (or their own ctx) instead of calling again. The zero value is ready.
type flight struct {
	mu    sync.Mutex
	calls map[string]*flightCall
}

type flightCall struct {
	done    chan struct{}
	val     string
	err     error
	waiters int // callers waiting for it (for the tests)
}

// do returns fn's result, calling it unless a call of key is in progress: then that call's.
func (f *flight) do(ctx context.Context, key string, fn func() (string, error)) (string, error) {
	f.mu.Lock()
	if c, ok := f.calls[key]; ok {
		c.waiters++
		f.mu.Unlock()
		select {
		case <-c.done:
			return c.val, c.err
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	if f.calls == nil {
		f.calls = map[string]*flightCall{}
	}
	c := &flightCall{done: make(chan struct{})}
	f.calls[key] = c
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.calls, key)
		f.mu.Unlock()
		close(c.done)
	}()
	c.val, c.err = fn()
	return c.val, c.err
}
