package integration

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/faaspot/faaspot"
	fsclient "github.com/faaspot/faaspot/client"
	"github.com/faaspot/faaspot/daemon"
	"github.com/faaspot/faaspot/store"
)

// The lookup cache across nodes (store/cache.go, store/changes.go). Node A serves a tenant's
// tokens and its deployment from a cache whose entries live a minute, the most the config
// allows, with no request-rate limit (a limited rate sends every tenth request or so to Redis,
// which would hide a stale entry): only the announcement on {prefix}changes can make A see a
// change made through node B within the ~2 s the checks poll for. A runs workers (a run it
// dispatches directly runs the version its cache names); B serves the API only, so every change
// below is written by B's store, except the end of a build, which A's worker writes (and A's
// store drops from A's cache itself: the redeploy check would pass without any announcement, the
// rollback is the one that needs it). The announcement is published before B answers but applied
// by A's subscriber asynchronously: A's first request after B's answer may still see the old
// state, for a few milliseconds (the logs say at which request A showed the change).

// propagationLimit bounds how long A may take to show a change made through B.
const propagationLimit = 2 * time.Second

// TestCacheAcrossNodes: a token revoked, a deployment redeployed, rolled back or deleted and a
// tenant deleted through node B are seen at once by node A, whose cache would otherwise serve
// them for a minute; the cache is shown to be in effect (a token removed from Redis without an
// announcement is still served by A), and an entry outlives no announcement by more than the
// TTL on a node with the default TTL.
func TestCacheAcrossNodes(t *testing.T) {
	cached := func(c *daemon.Config) { c.LookupCacheTTL, c.RequestsPerSecond = time.Minute, 0 }
	a := startNode(t, cached)
	b := startNode(t, cached, func(c *daemon.Config) { c.KeyPrefix, c.Role = a.prefix, daemon.RoleAPI })
	tenant, err := b.admin.CreateTenantRecord(context.Background(), fmt.Sprintf("cache%d", time.Now().UnixNano()%1e9))
	if err != nil {
		t.Fatalf("create tenant through B: %v", err)
	}
	checkTokenRevoked(t, a, b, tenant)
	checkTTLBound(t, a.prefix, b, tenant)
	checkDeploymentChanges(t, a, b, tenant.Token)
	if err := b.admin.DeleteTenant(context.Background(), tenant.Name); err != nil {
		t.Fatalf("delete tenant through B: %v", err)
	}
	sent, polls, first := pollUntil(t, "A refuses the deleted tenant's token", func() (bool, string) {
		r := a.raw(t, http.MethodGet, "/v1/deployments", "", tenant.Token)
		return r.status == http.StatusUnauthorized, fmt.Sprintf("%d %.80s", r.status, r.body)
	})
	t.Logf("tenant deleted through B: A refused its token at request %d, sent %v after B's 204 (first answer %q)", polls, sent, first)
}

// checkTokenRevoked: A serves two tokens of the tenant from its cache; one removed from Redis
// behind the store's back is still served (the control), one revoked through B is refused at
// once, and the announcement of the revocation drops every token of the tenant from A's cache.
func checkTokenRevoked(t *testing.T, a, b *node, tenant faaspot.TenantCreated) {
	t.Helper()
	ctx := context.Background()
	revoked, err := b.admin.IssueToken(ctx, tenant.Name)
	if err != nil {
		t.Fatal(err)
	}
	ghost, err := b.admin.IssueToken(ctx, tenant.Name)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{tenant.Token, revoked.Token, ghost.Token} {
		if r := a.raw(t, http.MethodGet, "/v1/deployments", "", tok); r.status != http.StatusOK {
			t.Fatalf("a fresh token through A: %d %s", r.status, r.body)
		}
	}
	removeTokenKey(t, a.prefix, ghost.Token)
	if r := b.raw(t, http.MethodGet, "/v1/deployments", "", ghost.Token); r.status != http.StatusUnauthorized {
		t.Fatalf("B (which never saw it) accepts a token removed from Redis: %d", r.status)
	}
	if r := a.raw(t, http.MethodGet, "/v1/deployments", "", ghost.Token); r.status != http.StatusOK {
		t.Fatalf("A refused a token removed from Redis without an announcement (%d): its cache is not in effect, and the checks below would prove nothing", r.status)
	}

	before := time.Now()
	if err := b.admin.RevokeToken(ctx, tenant.Name, revoked.ID); err != nil {
		t.Fatalf("revoke through B: %v", err)
	}
	call := time.Since(before)
	sent, polls, first := pollUntil(t, "A refuses the revoked token", func() (bool, string) {
		r := a.raw(t, http.MethodGet, "/v1/deployments", "", revoked.Token)
		return r.status == http.StatusUnauthorized, fmt.Sprintf("%d %.80s", r.status, r.body)
	})
	t.Logf("token revoked through B (%v): A refused it at request %d, sent %v after B's 204 (first answer %q)", call, polls, sent, first)
	if r := a.raw(t, http.MethodGet, "/v1/deployments", "", ghost.Token); r.status != http.StatusUnauthorized {
		t.Errorf("the tenant's announcement left another of its tokens in A's cache: %d", r.status)
	}
	if r := a.raw(t, http.MethodGet, "/v1/deployments", "", tenant.Token); r.status != http.StatusOK {
		t.Errorf("the tenant's first token after another was revoked: %d %s", r.status, r.body)
	}
}

// checkTTLBound: on a node with the default TTL of a second, a token removed from Redis without
// an announcement is refused once its entry expires, a second after it was cached at most.
func checkTTLBound(t *testing.T, prefix string, b *node, tenant faaspot.TenantCreated) {
	t.Helper()
	const ttl = time.Second
	c := startNode(t, func(c *daemon.Config) {
		c.KeyPrefix, c.Role, c.LookupCacheTTL, c.RequestsPerSecond = prefix, daemon.RoleAPI, ttl, 0
	})
	tok, err := b.admin.IssueToken(context.Background(), tenant.Name)
	if err != nil {
		t.Fatal(err)
	}
	cachedAt := time.Now()
	if r := c.raw(t, http.MethodGet, "/v1/deployments", "", tok.Token); r.status != http.StatusOK {
		t.Fatalf("a fresh token through C: %d %s", r.status, r.body)
	}
	removeTokenKey(t, prefix, tok.Token)
	removed := time.Now()
	served := 0
	for deadline := cachedAt.Add(ttl + time.Second); ; time.Sleep(10 * time.Millisecond) {
		r := c.raw(t, http.MethodGet, "/v1/deployments", "", tok.Token)
		if r.status == http.StatusUnauthorized {
			break
		}
		served++
		if time.Now().After(deadline) {
			t.Fatalf("C still serves a token removed from Redis %v after caching it, with a TTL of %v: %d", time.Since(cachedAt), ttl, r.status)
		}
	}
	t.Logf("without an announcement (TTL %v): C served a token removed from Redis %d more times, refused it %v after its removal (%v after caching it)",
		ttl, served, time.Since(removed), time.Since(cachedAt))
}

// checkDeploymentChanges: what A runs follows a redeploy, a rollback and a deletion made through
// B at once. Without the announcement A would run v2 in place after the rollback, and run the
// deleted deployment in its idle container (200) rather than answer 404.
func checkDeploymentChanges(t *testing.T, a, b *node, token string) {
	t.Helper()
	ctx := context.Background()
	viaA, viaB := fsclient.New(a.url, token), fsclient.New(b.url, token)
	code := func(v string) string { return "def main(args, context):\n    return '" + v + "'\n" }
	deploy := func(v string) {
		t.Helper()
		d, err := viaB.CreateDeployment(ctx, faaspot.DeploymentRequest{Name: "cached", Code: code(v)}, true)
		if err != nil || d.Status != faaspot.StatusReady {
			t.Fatalf("deploy %s through B: %+v %v", v, d, err)
		}
	}
	runsOnA := func(what, want string) {
		t.Helper()
		sent, polls, first := pollUntil(t, "A runs "+want, func() (bool, string) {
			raw, id, err := viaA.RunSync(ctx, "cached", nil)
			return err == nil && string(raw) == `"`+want+`"`, fmt.Sprintf("%s (execution %s) %v", raw, id, err)
		})
		t.Logf("%s through B: A ran %s at run %d, sent %v after B's answer (first answer %q)", what, want, polls, sent, first)
	}
	deploy("v1")
	runsOnA("deployment", "v1") // cached by A
	deploy("v2")
	runsOnA("redeploy", "v2")
	// A's run of v2 is dispatched directly to its idle container of v2: a stale entry for
	// v2 would be run in place after the rollback.
	direct := scrape(t, a, `faaspot_sync_dispatch_total{path="direct"}`)
	if raw, _, err := viaA.RunSync(ctx, "cached", nil); err != nil || string(raw) != `"v2"` {
		t.Fatalf("run v2 through A: %s %v", raw, err)
	}
	if now := scrape(t, a, `faaspot_sync_dispatch_total{path="direct"}`); now != direct+1 {
		t.Fatalf("A's run of v2 was not dispatched directly (direct %v → %v)", direct, now)
	}
	if _, err := viaB.Rollback(ctx, "cached", 1); err != nil {
		t.Fatalf("roll back through B: %v", err)
	}
	runsOnA("rollback", "v1")
	if err := viaB.DeleteDeployment(ctx, "cached"); err != nil {
		t.Fatalf("delete through B: %v", err)
	}
	sent, polls, first := pollUntil(t, "A answers 404", func() (bool, string) {
		r := a.raw(t, http.MethodPost, "/v1/sync/deployments/cached/rpc/", "", token)
		return r.status == http.StatusNotFound, fmt.Sprintf("%d %.80s", r.status, r.body)
	})
	t.Logf("deletion through B: A answered 404 at run %d, sent %v after B's 204 (first answer %q)", polls, sent, first)
}

// pollUntil calls check until it reports true, starting attempts for at most propagationLimit,
// and returns when the successful attempt started (from the call), how many were made, and the
// first answer (check's text) when it was not yet the one wanted; it fails t with the last answer
// otherwise.
func pollUntil(t *testing.T, what string, check func() (bool, string)) (time.Duration, int, string) {
	t.Helper()
	start, first := time.Now(), ""
	for attempts := 1; ; attempts++ {
		sent := time.Since(start)
		ok, last := check()
		if ok {
			return sent, attempts, first
		}
		if first == "" {
			first = last
		}
		if time.Since(start) > propagationLimit {
			t.Fatalf("%s: not so after %v (%d attempts); last answer: %s", what, propagationLimit, attempts, last)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// removeTokenKey deletes a token's key from Redis directly, as no faaspot call does: nothing
// announces it.
func removeTokenKey(t *testing.T, prefix, token string) {
	t.Helper()
	opts, err := redis.ParseURL(env.redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	if n, err := rdb.Del(context.Background(), prefix+"token:"+store.HashToken(token)).Result(); err != nil || n != 1 {
		t.Fatalf("remove the token's key: %d %v", n, err)
	}
}
