package sandbox

import (
	"cmp"
	"context"
	"sync"
)

// Prewarm starts n containers for req's key, waits until each has imported the function (its
// ready line), and keeps them idle so that the next runs are warm. n is capped by req.Policy's
// MaxIdle and the node's MaxIdle, counting the idle containers there are. The daemon calls it
// before it announces a version ready, so the first run after a deploy finds a ready container.
// It returns the first error (wrapping ErrEngine, or ctx's, or the runner's failure to import);
// the containers that did become ready are kept all the same.
func (s *Sandbox) Prewarm(ctx context.Context, req Request, n int) error {
	idle, total := s.pool.size(req.Key)
	n = min(n, req.Policy.MaxIdle-idle, s.pool.max-total)
	var boxes []*box
	var firstErr error
	for range n { // started together: their imports overlap
		b, err := s.start(ctx, req)
		if err != nil {
			firstErr = err
			break
		}
		boxes = append(boxes, b)
	}
	for _, b := range boxes {
		if err := b.awaitReady(ctx); err != nil {
			s.kill(ctx, b)
			s.discard(b)
			firstErr = cmp.Or(firstErr, err)
			continue
		}
		if !s.pool.put(b, req.Policy, s.discard) {
			s.discard(b)
		}
	}
	return firstErr
}

// Retire removes the idle containers of every key with the prefix: a redeployed version
// ("tenant/deployment/version/") or a deleted deployment ("tenant/deployment/"), and returns how
// many. Containers busy with a run of such a key (or being started for one) when it is retired
// are removed when the run ends: the pool takes none of them back. Containers started after it
// may be kept as any other, so that a retired version that becomes the current one again, or is
// run pinned, is warm again from its second run. Retire returns once the idle containers are
// removed, so that their image can go next.
func (s *Sandbox) Retire(prefix string) int {
	s.pool.forbid(prefix)
	boxes := s.pool.drain(prefix, false)
	var wg sync.WaitGroup
	for _, b := range boxes {
		b.stop()
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.remove(b.id)
		}()
	}
	wg.Wait()
	return len(boxes)
}
