package store_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/store"
)

// idsOf lists the ids of a page.
func idsOf(list []faaspot.ExecutionSummary) []string {
	ids := []string{}
	for _, e := range list {
		ids = append(ids, e.ID)
	}
	return ids
}

func TestListExecutions(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	tn, _ := mustCreateTenant(t, s, "acme")
	t0 := time.Now().Add(-time.Hour)
	e1 := mustEnqueue(t, s, tn.ID, queued("alpha", t0))
	e2 := mustEnqueue(t, s, tn.ID, queued("beta", t0.Add(time.Second)))
	e3 := mustEnqueue(t, s, tn.ID, queued("alpha", t0.Add(2*time.Second)))
	e4 := mustEnqueue(t, s, tn.ID, queued("beta", t0.Add(3*time.Second)))

	tests := []struct {
		name       string
		deployment string
		limit      int
		want       []string
		more       bool
	}{
		{name: "all, newest first", limit: 10, want: []string{e4.ID, e3.ID, e2.ID, e1.ID}},
		{name: "exactly all", limit: 4, want: []string{e4.ID, e3.ID, e2.ID, e1.ID}},
		{name: "one deployment", deployment: "alpha", limit: 10, want: []string{e3.ID, e1.ID}},
		{name: "other deployment", deployment: "beta", limit: 10, want: []string{e4.ID, e2.ID}},
		{name: "limit", limit: 2, want: []string{e4.ID, e3.ID}, more: true},
		{name: "limit with a deployment", deployment: "alpha", limit: 1, want: []string{e3.ID}, more: true},
		{name: "unknown deployment", deployment: "gamma", limit: 10, want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, next, err := s.ListExecutions(ctx, tn.ID, faaspot.ExecutionQuery{Deployment: tt.deployment, Limit: tt.limit})
			if err != nil {
				t.Fatal(err)
			}
			if list == nil {
				t.Error("nil list: the API would answer null instead of []")
			}
			if ids := idsOf(list); !slices.Equal(ids, tt.want) {
				t.Errorf("ids = %v, want %v", ids, tt.want)
			}
			if (next != "") != tt.more {
				t.Errorf("next cursor %q, want one: %v", next, tt.more)
			}
		})
	}
	t.Run("summary fields", func(t *testing.T) {
		list, _, err := s.ListExecutions(ctx, tn.ID, faaspot.ExecutionQuery{Limit: 1})
		want := faaspot.ExecutionSummary{ID: e4.ID, Deployment: "beta", Version: 1, Status: faaspot.ExecQueued, CreatedAt: e4.CreatedAt}
		if err != nil || len(list) != 1 || !list[0].CreatedAt.Equal(want.CreatedAt) {
			t.Fatalf("list = %+v, %v", list, err)
		}
		list[0].CreatedAt = want.CreatedAt
		if list[0] != want {
			t.Errorf("summary = %+v, want %+v", list[0], want)
		}
	})
	t.Run("whole records", func(t *testing.T) {
		list, next, err := s.ListExecutionRecords(ctx, tn.ID, faaspot.ExecutionQuery{Deployment: "alpha", Limit: 1})
		if err != nil || len(list) != 1 || list[0].ID != e3.ID || string(list[0].Args) != `{"a":1}` || next == "" {
			t.Errorf("records = %+v, %q, %v", list, next, err)
		}
	})
}

// TestListExecutionsPages: following the cursors lists every execution once, newest first, also
// across executions created in the same millisecond and while new ones arrive.
func TestListExecutionsPages(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	tn, _ := mustCreateTenant(t, s, "acme")
	base := time.Now().Truncate(time.Millisecond)
	var all []faaspot.Execution
	for i := range 9 {
		all = append(all, mustEnqueue(t, s, tn.ID, queued("fn", base.Add(time.Duration(i/3)*time.Millisecond))))
	}
	first, _, err := s.ListExecutions(ctx, tn.ID, faaspot.ExecutionQuery{Limit: 100})
	if err != nil || len(first) != 9 {
		t.Fatalf("one page of all: %d, %v", len(first), err)
	}
	want := idsOf(first)
	var got []string
	q := faaspot.ExecutionQuery{Limit: 2}
	for pages := 0; ; pages++ {
		if pages > 9 {
			t.Fatal("the cursors do not end")
		}
		list, next, err := s.ListExecutions(ctx, tn.ID, q)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, idsOf(list)...)
		if pages == 0 { // a newer execution arrives meanwhile: it belongs before the first page
			mustEnqueue(t, s, tn.ID, queued("fn", base.Add(time.Second)))
		}
		if next == "" {
			break
		}
		q.Cursor = next
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages gave %v, want %v", got, want)
	}
	for i := 1; i < len(first); i++ {
		if first[i].CreatedAt.After(first[i-1].CreatedAt) {
			t.Errorf("not newest first at %d: %v after %v", i, first[i].CreatedAt, first[i-1].CreatedAt)
		}
	}
}

// TestListExecutionsExpired: executions whose records expired are left out and unindexed; the
// page is filled from older ones.
func TestListExecutionsExpired(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	tn, _ := mustCreateTenant(t, s, "acme")
	now := time.Now()
	var es []faaspot.Execution
	for i := range 6 {
		es = append(es, mustEnqueue(t, s, tn.ID, queued("fn", now.Add(time.Duration(i)*time.Second))))
	}
	for _, e := range es[2:5] { // as if their TTL had passed
		s.mr.Del(s.TenantKey(tn.ID, "exec:") + e.ID)
		s.mr.Del(s.TenantKey(tn.ID, "sum:") + e.ID)
	}
	list, next, err := s.ListExecutions(ctx, tn.ID, faaspot.ExecutionQuery{Limit: 2})
	if ids := idsOf(list); err != nil || !slices.Equal(ids, []string{es[5].ID, es[1].ID}) || next == "" {
		t.Errorf("page = %v, %q, %v; want the newest and the next one still kept", ids, next, err)
	}
	for _, key := range []string{"execs", "execsof:fn"} {
		if n, _ := s.rdb.ZCard(ctx, s.TenantKey(tn.ID, "")+key).Result(); n != 3 {
			t.Errorf("%s holds %d ids, want the 3 not expired", key, n)
		}
	}
}

// TestListExecutionsEarlierRecords: a record written before summaries existed is listed from
// the record itself.
func TestListExecutionsEarlierRecords(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	tn, _ := mustCreateTenant(t, s, "acme")
	e := mustEnqueue(t, s, tn.ID, queued("fn", time.Now()))
	s.mr.Del(s.TenantKey(tn.ID, "sum:") + e.ID)
	list, _, err := s.ListExecutions(ctx, tn.ID, faaspot.ExecutionQuery{Limit: 5})
	if err != nil || len(list) != 1 || list[0].ID != e.ID || list[0].Status != faaspot.ExecQueued || list[0].Deployment != "fn" {
		t.Errorf("list = %+v, %v", list, err)
	}
}

func TestListExecutionsBadCursor(t *testing.T) {
	s := mustOpenStore(t, store.Options{})
	tn, _ := mustCreateTenant(t, s, "acme")
	for _, c := range []string{"%%%", "eA", "MS5hYmMuZGVm" /* 1.abc.def */, "Mi4xLmFi" /* 2.1.ab */} {
		_, _, err := s.ListExecutions(context.Background(), tn.ID, faaspot.ExecutionQuery{Limit: 5, Cursor: c})
		var fe *faaspot.Error
		if !errors.As(err, &fe) || fe.Field != "cursor" {
			t.Errorf("cursor %q: %v, want an invalid cursor error", c, err)
		}
	}
}

// keyCounter is a go-redis hook counting the keys of each prefix that MGET and GET read.
type keyCounter struct {
	mu   sync.Mutex
	read map[string]int
}

func (c *keyCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *keyCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if name := cmd.Name(); name == "mget" || name == "get" {
			c.mu.Lock()
			for _, a := range cmd.Args()[1:] {
				k, _ := a.(string)
				parts := strings.Split(k, ":")
				c.read[parts[len(parts)-2]]++
			}
			c.mu.Unlock()
		}
		return next(ctx, cmd)
	}
}

func (c *keyCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestListExecutionsLoadsOnlyThePage: a page of summaries reads the summaries of that page only,
// never a record with its arguments, result and output.
func TestListExecutionsLoadsOnlyThePage(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t, store.Options{})
	tn, _ := mustCreateTenant(t, s, "acme")
	now := time.Now()
	for i := range 60 {
		e := queued("fn", now.Add(time.Duration(i)*time.Millisecond))
		e.Stdout = strings.Repeat("x", 64<<10)
		mustEnqueue(t, s, tn.ID, e)
	}
	c := &keyCounter{read: map[string]int{}}
	s.rdb.AddHook(c)
	list, next, err := s.ListExecutions(ctx, tn.ID, faaspot.ExecutionQuery{Limit: 5})
	if err != nil || len(list) != 5 || next == "" {
		t.Fatalf("page = %d, %q, %v", len(list), next, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.read["exec"] != 0 || c.read["sum"] != 5 {
		t.Errorf("a page of 5 summaries read %d records and %d summaries", c.read["exec"], c.read["sum"])
	}
}
