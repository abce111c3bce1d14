package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/faaspot/faaspot"
)

func TestParseMegabytes(t *testing.T) {
	tests := []struct {
		name, in string
		want     int
		bad      bool
	}{
		{name: "plain", in: "256", want: 256},
		{name: "M", in: "512M", want: 512},
		{name: "MiB lower case", in: "64mib", want: 64},
		{name: "MB", in: "128MB", want: 128},
		{name: "G", in: "1G", want: 1024},
		{name: "Gi with space", in: "2 Gi", want: 2048},
		{name: "GB", in: "3GB", want: 3072},
		{name: "zero", in: "0", bad: true},
		{name: "negative", in: "-5", bad: true},
		{name: "fraction", in: "1.5G", bad: true},
		{name: "unknown unit", in: "5K", bad: true},
		{name: "unit only", in: "M", bad: true},
		{name: "empty", in: "", bad: true},
		{name: "overflow", in: "9999999999G", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseMegabytes(tt.in)
			if (err != nil) != tt.bad || got != tt.want {
				t.Errorf("parseMegabytes(%q) = %d, %v; want %d, bad %v", tt.in, got, err, tt.want, tt.bad)
			}
		})
	}
}

func TestParseSeconds(t *testing.T) {
	tests := []struct {
		name, in string
		want     int
		bad      bool
	}{
		{name: "plain", in: "30", want: 30},
		{name: "seconds", in: "90s", want: 90},
		{name: "minutes", in: "5m", want: 300},
		{name: "mixed", in: "1m30s", want: 90},
		{name: "zero", in: "0", bad: true},
		{name: "negative", in: "-1", bad: true},
		{name: "under a second", in: "500ms", bad: true},
		{name: "fraction of a second", in: "1.5s", bad: true},
		{name: "words", in: "soon", bad: true},
		{name: "empty", in: "", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSeconds(tt.in)
			if (err != nil) != tt.bad || got != tt.want {
				t.Errorf("parseSeconds(%q) = %d, %v; want %d, bad %v", tt.in, got, err, tt.want, tt.bad)
			}
		})
	}
}

// TestCreateLimits: --memory, --timeout and --cpus become the request's limits; without them the
// request has none (the server's defaults).
func TestCreateLimits(t *testing.T) {
	api := newFakeAPI(t)
	x := fasFor(t, api)
	file := filepath.Join(t.TempDir(), "f.py")
	if err := os.WriteFile(file, []byte("def main(args, context):\n    return 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		flags []string
		want  *faaspot.Limits
	}{
		{name: "none", want: nil},
		{name: "all", flags: []string{"--memory", "256", "--timeout", "30", "--cpus", "0.5"}, want: &faaspot.Limits{MemoryMB: 256, TimeoutS: 30, CPUs: 0.5}},
		{name: "units", flags: []string{"--memory=1G", "--timeout=2m"}, want: &faaspot.Limits{MemoryMB: 1024, TimeoutS: 120}},
		{name: "cpus only", flags: []string{"--cpus", "2"}, want: &faaspot.Limits{CPUs: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(api.requests())
			args := append([]string{"deployments", "create", "fn", "--file", file}, tt.flags...)
			out, errOut, code := x.run(args...)
			if code != 0 || out != "deployment fn version 1 queued for build\n" {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
			}
			reqs := api.requests()[before:]
			if len(reqs) != 1 || reqs[0].Method != "POST" || reqs[0].Path != "/v1/deployments" {
				t.Fatalf("requests %+v", reqs)
			}
			var body faaspot.DeploymentRequest
			if err := json.Unmarshal(reqs[0].Body, &body); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(body.Limits, tt.want) || body.Name != "fn" || body.Code == "" {
				t.Errorf("sent limits %+v name %q; want %+v", body.Limits, body.Name, tt.want)
			}
		})
	}
}
