package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faaspot/faaspot"
	"github.com/faaspot/faaspot/daemon"
)

// dashboardFile is the Grafana dashboard the test proves on a real Prometheus.
const dashboardFile = "../deploy/grafana/faaspot.json"

// dashboard is the part of a Grafana dashboard's JSON the test checks.
type dashboard struct {
	UID           string `json:"uid"`
	Title         string `json:"title"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query string `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []dashPanel `json:"panels"`
}

type dashPanel struct {
	ID         int             `json:"id"`
	Type       string          `json:"type"`
	Title      string          `json:"title"`
	Datasource *dashDatasource `json:"datasource"`
	Targets    []struct {
		RefID      string          `json:"refId"`
		Expr       string          `json:"expr"`
		Datasource *dashDatasource `json:"datasource"`
	} `json:"targets"`
	Panels []dashPanel `json:"panels"` // a collapsed row's
}

type dashDatasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// loadDashboard reads the dashboard and checks what an import needs: a current schema version, a
// uid, unique panel ids, a datasource variable of type prometheus that every panel and every
// query uses, and at least one query per panel.
func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.SchemaVersion < 36 || d.UID == "" || d.Title == "" {
		t.Errorf("schemaVersion %d uid %q title %q: want a current schema (36+), a uid and a title", d.SchemaVersion, d.UID, d.Title)
	}
	hasVar := false
	for _, v := range d.Templating.List {
		hasVar = hasVar || (v.Name == "datasource" && v.Type == "datasource" && v.Query == "prometheus")
	}
	if !hasVar {
		t.Error("no datasource variable of type prometheus")
	}
	ids := map[int]bool{}
	var walk func([]dashPanel)
	walk = func(ps []dashPanel) {
		for _, p := range ps {
			if ids[p.ID] || p.ID <= 0 {
				t.Errorf("panel %q: id %d is not unique and positive", p.Title, p.ID)
			}
			ids[p.ID] = true
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if !usesVar(p.Datasource) || len(p.Targets) == 0 {
				t.Errorf("panel %q: datasource %+v, %d queries; want ${datasource} and a query", p.Title, p.Datasource, len(p.Targets))
			}
			for _, q := range p.Targets {
				if !usesVar(q.Datasource) || q.Expr == "" {
					t.Errorf("panel %q query %s: datasource %+v expr %q", p.Title, q.RefID, q.Datasource, q.Expr)
				}
			}
		}
	}
	walk(d.Panels)
	return d
}

func usesVar(ds *dashDatasource) bool {
	return ds != nil && ds.Type == "prometheus" && ds.UID == "${datasource}"
}

// TestDashboardStructure checks the dashboard's JSON without Prometheus or Docker.
func TestDashboardStructure(t *testing.T) {
	if d := loadDashboard(t); len(d.Panels) < 11 {
		t.Errorf("%d panels, want at least the 11 the issue names", len(d.Panels))
	}
}

// TestDashboardOnPrometheus starts a real Prometheus scraping a daemon under a known load (sync
// and async runs, a cold start, a failed build, a 404, a quota rejection) and requires every
// query of every panel to be valid and to return data: at least one series whose value is a
// number (a quantile of no events is NaN).
func TestDashboardOnPrometheus(t *testing.T) {
	d := loadDashboard(t)
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("FAASPOT_TEST_PROMETHEUS") == "required" {
			t.Fatal("prometheus not found and FAASPOT_TEST_PROMETHEUS=required")
		}
		t.Skip("prometheus not found (Debian: apt-get install prometheus); set FAASPOT_TEST_PROMETHEUS=required to fail instead")
	}
	n := startNode(t, func(c *daemon.Config) { c.WarmPrewarm = 0 }) // the first run starts cold
	prom := startPrometheus(t, bin, n.d.Addr())
	prom.waitFor(t, "two scrapes of the daemon", `count_over_time(faaspot_build_info[1m]) >= 2`)
	dashboardLoad(t, n)
	prom.waitFor(t, "the load scraped", `faaspot_executions_total{status="completed"} >= 8`)
	time.Sleep(3 * time.Second) // a few more scrapes, so that rates over the window see the load end
	for _, p := range flatten(d.Panels) {
		for _, q := range p.Targets {
			expr := strings.NewReplacer("$__rate_interval", "1m", "$__interval", "5s", "$__range", "5m").Replace(q.Expr)
			res, err := prom.query(expr)
			switch {
			case err != nil:
				t.Errorf("panel %q query %s %q: %v", p.Title, q.RefID, expr, err)
			case len(res) == 0:
				t.Errorf("panel %q query %s %q: no data", p.Title, q.RefID, expr)
			case !slices.ContainsFunc(res, func(r string) bool { return !strings.Contains(r, `"NaN"`) }):
				t.Errorf("panel %q query %s %q: only NaN (no events in the window): %s", p.Title, q.RefID, expr, res)
			default:
				t.Logf("panel %q query %s: %d series, first %s", p.Title, q.RefID, len(res), res[0])
			}
		}
	}
}

func flatten(ps []dashPanel) []dashPanel {
	var out []dashPanel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, flatten(p.Panels)...)
	}
	return out
}

// dashboardLoad puts the known load on n: a deployment whose first run starts cold, sync and
// async runs, a failed build, a 404 and a quota rejection.
func dashboardLoad(t *testing.T, n *node) {
	t.Helper()
	ctx := context.Background()
	n.deploy(t, faaspot.DeploymentRequest{Name: "dash", Code: "def main(args, context):\n    return args\n"})
	for i := range 5 {
		if _, _, err := n.c.RunSync(ctx, "dash", map[string]any{"i": i}); err != nil {
			t.Fatalf("sync run %d: %v", i, err)
		}
	}
	for i := range 3 {
		id, err := n.c.Run(ctx, "dash", map[string]any{"i": i})
		if err != nil {
			t.Fatalf("async run %d: %v", i, err)
		}
		if _, err := n.c.WaitExecution(ctx, id, 30*time.Second); err != nil {
			t.Fatalf("async run %d: %v", i, err)
		}
	}
	failed, err := n.c.CreateDeployment(ctx, faaspot.DeploymentRequest{Name: "nomain", Code: "x = 1\n"}, true)
	if err == nil && failed.Status != faaspot.StatusFailed {
		t.Fatalf("a deployment without main built: %+v", failed)
	}
	if a := n.raw(t, http.MethodGet, "/v1/deployments/no-such-deployment", ""); a.status != http.StatusNotFound {
		t.Fatalf("missing deployment = %d, want 404", a.status)
	}
	// A tenant allowed one deployment is refused a second: a quota rejection.
	name := fmt.Sprintf("q%d", time.Now().UnixNano()%1e9)
	token, err := n.admin.CreateTenant(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.admin.SetQuotas(ctx, name, faaspot.Quotas{MaxDeployments: 1}); err != nil {
		t.Fatal(err)
	}
	body := `{"name": "%s", "code": "def main(args, context):\n    return 1\n"}`
	for i, want := range []int{http.StatusAccepted, http.StatusTooManyRequests} {
		a := n.raw(t, http.MethodPost, "/v1/deployments", fmt.Sprintf(body, fmt.Sprint("q", i)), token)
		if a.status != want {
			t.Fatalf("deployment %d of a tenant allowed one = %d %s, want %d", i+1, a.status, a.body, want)
		}
	}
}
