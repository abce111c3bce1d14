package store

import (
	"context"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Changes. What changes who a token is, what a tenant may do or what a deployment runs is
// announced on the store's changes channel ({p}changes) once written: "<origin> t <tid>" for a
// tenant (its tokens, quotas, deletion), "<origin> d <tid> <name>" for a deployment (a new
// version, a build's end, a rollback, a deletion), origin naming the Store that made it. Every
// other node's Cache drops what a message names as soon as the message arrives (measured on a
// real Redis: within 0-17 ms of the change's answer, so a request on another node sent right
// after the answer may still see the old state); the caches of the Store that made the change
// dropped it before the change's call returned. Announcing is
// best effort: a message lost (Redis away, a subscription being restored) is made up for by the
// Cache's TTL, and a restored subscription empties the Cache.

// changesPublishTimeout bounds one announcement.
const changesPublishTimeout = time.Second

func (k keys) changes() string { return k.p + "changes" }

func (s *Store) changedTenant(ctx context.Context, tid string) {
	s.announce(ctx, change{kind: 't', tid: tid}, s.origin+" t "+tid)
}

func (s *Store) changedDeployment(ctx context.Context, tid, name string) {
	s.announce(ctx, change{kind: 'd', tid: tid, name: name}, s.origin+" d "+tid+" "+name)
}

// announce drops what c names from this process's caches at once, then publishes msg for the
// other nodes'.
func (s *Store) announce(ctx context.Context, c change, msg string) {
	s.localMu.Lock()
	local := append([]*Cache(nil), s.local...)
	s.localMu.Unlock()
	for _, cache := range local {
		cache.drop(&c)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), changesPublishTimeout)
	defer cancel()
	_ = s.rdb.Publish(ctx, s.k.changes(), msg).Err()
}

// change is one announcement, parsed: kind 't' or 'd', the tenant, the deployment's name, and
// the Store that made it.
type change struct {
	kind              byte
	tid, name, origin string
}

func parseChange(msg string) (change, bool) {
	origin, msg, ok := strings.Cut(msg, " ")
	if !ok {
		return change{}, false
	}
	kind, rest, ok := strings.Cut(msg, " ")
	if !ok || (kind != "t" && kind != "d") {
		return change{}, false
	}
	c := change{kind: kind[0], tid: rest, origin: origin}
	if c.kind == 'd' {
		if c.tid, c.name, ok = strings.Cut(rest, " "); !ok {
			return change{}, false
		}
	}
	return c, true
}

// watchChanges hands every announcement to apply, and a nil change each time the subscription
// is made or made again (a message may have been lost: drop everything), until ctx ends.
func (s *Store) watchChanges(ctx context.Context, apply func(*change)) {
	ps := s.rdb.Subscribe(ctx, s.k.changes())
	defer ps.Close()
	ch := ps.ChannelWithSubscriptions()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-ch:
			if !ok {
				return
			}
			switch m := m.(type) {
			case *redis.Subscription:
				apply(nil)
			case *redis.Message:
				if c, ok := parseChange(m.Payload); ok && c.origin != s.origin {
					apply(&c)
				}
			}
		}
	}
}
