package daemon

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

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
// need the same image meanwhile wait for the one pull (and build), which goes on while any of
// them waits (see flight), even when the run that started it is gone. It returns the image to
// run: dep.Image when pulled, else the rebuilt one's tag.
func (w *workers) localImage(ctx context.Context, tid string, dep faaspot.Deployment) (string, error) {
	if _, ok := w.set.registry.Local(dep.Image); !ok {
		return w.rebuild(ctx, tid, dep)
	}
	return w.pulls.do(ctx, dep.Image, func(ctx context.Context) (string, error) {
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

// sharedImageTimeout bounds the work a flight shares (localImage's pull, then build): a pull,
// which has no bound of its own, and a build, which the builder stops after
// imagebuilder.DefaultTimeout.
const sharedImageTimeout = 2 * imagebuilder.DefaultTimeout

// flight runs one call per key at a time: the callers of a key that arrive while its call runs
// wait for its result (or their own ctx) instead of calling again. The call runs on its own
// goroutine, under a context of its own: the first caller's values without its cancellation,
// bounded by timeout (sharedImageTimeout when zero). So a caller that leaves (its ctx ended: its
// job reclaimed, the node stopping) fails no other; the call is cancelled only when its last
// caller has left, and a caller arriving after that starts a new one. The zero value is ready.
type flight struct {
	mu      sync.Mutex
	calls   map[string]*flightCall
	timeout time.Duration
	// joined, when set (by tests), is called with a key and its call's number of callers each
	// time one joins it, outside the lock.
	joined func(key string, callers int)
}

type flightCall struct {
	done    chan struct{}
	val     string
	err     error
	callers int                // callers waiting for it
	cancel  context.CancelFunc // of its context
}

// do returns fn's result, calling it (on a goroutine, see flight) unless a call of key is in
// progress: then that call's. It returns ctx's error when ctx ends first.
func (f *flight) do(ctx context.Context, key string, fn func(context.Context) (string, error)) (string, error) {
	f.mu.Lock()
	c, ok := f.calls[key]
	if !ok {
		c = f.start(ctx, key, fn)
	}
	c.callers++
	n := c.callers
	f.mu.Unlock()
	if f.joined != nil {
		f.joined(key, n)
	}
	select {
	case <-c.done:
		return c.val, c.err
	case <-ctx.Done():
		f.leave(key, c)
		return "", ctx.Err()
	}
}

// start starts the call of key, with f.mu held.
func (f *flight) start(ctx context.Context, key string, fn func(context.Context) (string, error)) *flightCall {
	if f.calls == nil {
		f.calls = map[string]*flightCall{}
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cmp.Or(f.timeout, sharedImageTimeout))
	c := &flightCall{done: make(chan struct{}), cancel: cancel}
	f.calls[key] = c
	go func() {
		defer cancel()
		val, err := fn(cctx)
		f.mu.Lock()
		if f.calls[key] == c {
			delete(f.calls, key)
		}
		c.val, c.err = val, err
		f.mu.Unlock()
		close(c.done)
	}()
	return c
}

// leave counts a caller of c out; the last one cancels c, and a later caller of key starts anew.
func (f *flight) leave(key string, c *flightCall) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c.callers--; c.callers > 0 {
		return
	}
	if f.calls[key] == c {
		delete(f.calls, key)
	}
	c.cancel()
}
