package api_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/faaspot/faaspot"
)

// listPage gets one page of GET /v1/executions and returns its ids, its raw items and the
// next cursor.
func (e *apiEnv) listPage(query string) ([]string, []map[string]json.RawMessage, string) {
	e.t.Helper()
	rec := e.do(http.MethodGet, "/v1/executions?"+query, e.token, "")
	var items []map[string]json.RawMessage
	expect(e.t, rec, http.StatusOK, &items)
	var ids []string
	for _, it := range items {
		var id string
		_ = json.Unmarshal(it["id"], &id)
		ids = append(ids, id)
	}
	next := rec.Header().Get(faaspot.HeaderNextCursor)
	link := rec.Header().Get("Link")
	if (next == "") != (link == "") || (next != "" && !strings.Contains(link, url.QueryEscape(next))) {
		e.t.Errorf("cursor %q and Link %q disagree", next, link)
	}
	return ids, items, next
}

// TestListExecutionsPaged: GET /v1/executions answers a page of summaries, newest first, with
// the cursor of the next page in a header; following it lists every execution once. The body
// stays a JSON array, as earlier clients read it.
func TestListExecutionsPaged(t *testing.T) {
	env := newEnv(t, nil)
	env.readyDeployment("fn")
	var queued []string
	for range 5 {
		var id string
		expect(t, env.do(http.MethodPost, "/v1/deployments/fn/rpc/?secret=arg", env.token, ""), http.StatusAccepted, &id)
		queued = append(queued, id)
	}
	// One page of all of them gives the order (runs queued in one millisecond come by id).
	want, _, last := env.listPage("limit=1000")
	if !slices.Equal(slices.Sorted(slices.Values(want)), slices.Sorted(slices.Values(queued))) || last != "" {
		t.Fatalf("one page of all = %v (next %q), want %v", want, last, queued)
	}
	var got []string
	query := "limit=2"
	for pages := 1; ; pages++ {
		ids, items, next := env.listPage(query)
		got = append(got, ids...)
		for _, it := range items {
			for _, field := range []string{"args", "result", "stdout", "stderr"} {
				if _, ok := it[field]; ok {
					t.Errorf("a summary carries %s", field)
				}
			}
			if _, ok := it["status"]; !ok {
				t.Errorf("a summary lacks its status: %v", it)
			}
		}
		if next == "" {
			if pages != 3 {
				t.Errorf("%d pages of 2 for 5 executions, want 3", pages)
			}
			break
		}
		if pages > 5 {
			t.Fatal("the cursors do not end")
		}
		query = "limit=2&cursor=" + url.QueryEscape(next)
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages listed %v, want %v", got, want)
	}
	// view=full gives whole records, in smaller pages.
	_, items, next := env.listPage("view=full&limit=1")
	if len(items) != 1 || !strings.Contains(string(items[0]["args"]), "secret") || next == "" {
		t.Errorf("full view = %v, next %q", items, next)
	}
	for _, bad := range []struct{ query, field string }{
		{"view=everything", "view"}, {"view=full&limit=101", "limit"}, {"limit=1001", "limit"},
		{"cursor=not-a-cursor", "cursor"},
	} {
		expectError(t, env.do(http.MethodGet, "/v1/executions?"+bad.query, env.token, ""), http.StatusBadRequest, "invalid_argument", bad.field)
	}
}
