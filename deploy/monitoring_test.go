package deploy

import (
	"net"
	"os"
	"os/exec"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// prometheusConfig is the part of prometheus.yml the stack relies on.
type prometheusConfig struct {
	RuleFiles     []string `yaml:"rule_files"`
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		MetricsPath   string `yaml:"metrics_path"`
		StaticConfigs []struct {
			Targets []string `yaml:"targets"`
		} `yaml:"static_configs"`
	} `yaml:"scrape_configs"`
}

func readYAML(t *testing.T, file string, v any) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// TestComposePrometheus: Prometheus mounts its configuration and the alert rules, loads the
// rules where they are mounted, and scrapes /metrics of the api and worker services on their
// FAASPOT_LISTEN ports.
func TestComposePrometheus(t *testing.T) {
	p, _ := mustLoadCompose(t)
	prom := p.Services["prometheus"]
	confAt := mountedFile(t, prom, "prometheus/prometheus.yml")
	rulesAt := mountedFile(t, prom, "prometheus/faaspot-rules.yml")
	if !slices.Contains(prom.Command, "--config.file="+confAt) {
		t.Errorf("prometheus command %q does not load %s", prom.Command, confAt)
	}
	var cfg prometheusConfig
	readYAML(t, "prometheus/prometheus.yml", &cfg)
	var loaded []string
	for _, f := range cfg.RuleFiles {
		if !path.IsAbs(f) {
			f = path.Join(path.Dir(confAt), f)
		}
		loaded = append(loaded, f)
	}
	if !slices.Contains(loaded, rulesAt) {
		t.Errorf("rule_files %v (in the container: %v) miss the mounted rules %s", cfg.RuleFiles, loaded, rulesAt)
	}
	var targets []string
	for _, sc := range cfg.ScrapeConfigs {
		if sc.JobName != "faaspot" { // the alert rules select job="faaspot"
			t.Errorf("scrape job %q, want faaspot", sc.JobName)
		}
		if sc.MetricsPath != "" && sc.MetricsPath != "/metrics" {
			t.Errorf("job %s scrapes %s", sc.JobName, sc.MetricsPath)
		}
		for _, st := range sc.StaticConfigs {
			targets = append(targets, st.Targets...)
		}
	}
	for _, node := range []string{"api", "worker"} {
		want := net.JoinHostPort(node, listenPort(t, p.Services[node]))
		if !slices.Contains(targets, want) {
			t.Errorf("prometheus scrapes %v, not %s", targets, want)
		}
	}
}

// TestPromtoolCheckConfig: Prometheus's own checker accepts the configuration and the rules it
// loads (the file paths resolve beside it, as in the container).
func TestPromtoolCheckConfig(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (apt-get install prometheus)")
	}
	out, err := exec.Command(promtool, "check", "config", "prometheus/prometheus.yml").CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "SUCCESS: 1 rule files found") {
		t.Errorf("promtool found no rule file:\n%s", out)
	}
}

// TestComposeGrafana: Grafana gets a Prometheus datasource pointing at the prometheus service,
// and a dashboard provider reading the folder where deploy/grafana/faaspot.json is mounted.
func TestComposeGrafana(t *testing.T) {
	p, _ := mustLoadCompose(t)
	g := p.Services["grafana"]
	dsDir := mountedFile(t, g, "grafana/provisioning/datasources")
	dbDir := mountedFile(t, g, "grafana/provisioning/dashboards")
	if dsDir != "/etc/grafana/provisioning/datasources" || dbDir != "/etc/grafana/provisioning/dashboards" {
		t.Errorf("provisioning mounted at %s and %s, not where Grafana reads it", dsDir, dbDir)
	}
	dashboardAt := mountedFile(t, g, "grafana/faaspot.json")

	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Type, URL string
			IsDefault bool `yaml:"isDefault"`
		}
	}
	readYAML(t, "grafana/provisioning/datasources/prometheus.yml", &ds)
	if ds.APIVersion != 1 || len(ds.Datasources) != 1 {
		t.Fatalf("datasources file: apiVersion %d, %d datasources; want 1 and 1", ds.APIVersion, len(ds.Datasources))
	}
	d := ds.Datasources[0]
	promPort := p.Services["prometheus"].Ports[0].Target
	if d.Type != "prometheus" || !d.IsDefault || d.URL != "http://prometheus:"+strconv.FormatUint(uint64(promPort), 10) {
		t.Errorf("datasource %+v: want the default, of type prometheus, at http://prometheus:%d", d, promPort)
	}

	var prov struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Type    string
			Options struct{ Path string }
		}
	}
	readYAML(t, "grafana/provisioning/dashboards/faaspot.yml", &prov)
	if prov.APIVersion != 1 || len(prov.Providers) != 1 || prov.Providers[0].Type != "file" {
		t.Fatalf("dashboards provider: %+v; want one file provider", prov)
	}
	if dir := prov.Providers[0].Options.Path; path.Dir(dashboardAt) != dir {
		t.Errorf("the provider reads %s, the dashboard is mounted at %s", dir, dashboardAt)
	}
}
