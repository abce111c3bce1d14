package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

// TestParseFlags: help and version print on stdout and exit 0; command-line mistakes exit 2 with
// one line on stderr; a good command line starts the daemon with the flags over the environment.
func TestParseFlags(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantCode   int
		wantOut    string
		wantErr    string
		wantListen string
	}{
		{name: "--help", args: []string{"--help"}, wantCode: 0, wantOut: "-listen"},
		{name: "-h", args: []string{"-h"}, wantCode: 0, wantOut: "Usage: faaspotd [flags]"},
		{name: "-help", args: []string{"-help"}, wantCode: 0, wantOut: "FAASPOT_REDIS_URL"},
		{name: "help despite a bad environment", args: []string{"--help"}, env: map[string]string{"FAASPOT_WORKERS": "many"}, wantCode: 0, wantOut: "-workers"},
		{name: "--version", args: []string{"--version"}, wantCode: 0, wantOut: "faaspotd "},
		{name: "unknown flag", args: []string{"--bogus"}, wantCode: 2, wantErr: "flag provided but not defined: -bogus"},
		{name: "bad value", args: []string{"--workers", "many"}, wantCode: 2, wantErr: `invalid value "many" for flag -workers`},
		{name: "bad role", args: []string{"--role", "boss"}, wantCode: 2, wantErr: "-role"},
		{name: "missing value", args: []string{"--listen"}, wantCode: 2, wantErr: "flag needs an argument: -listen"},
		{name: "stray argument", args: []string{"serve"}, wantCode: 2, wantErr: `unexpected argument "serve"`},
		{name: "bad environment", env: map[string]string{"FAASPOT_WORKERS": "many"}, wantCode: 1, wantErr: "FAASPOT_WORKERS"},
		{name: "start", args: []string{"--listen", "127.0.0.1:9999"}, wantCode: -1, wantListen: "127.0.0.1:9999"},
		{name: "flag over environment", args: []string{"--listen", "127.0.0.1:1"}, env: map[string]string{"FAASPOT_LISTEN": "127.0.0.1:2"}, wantCode: -1, wantListen: "127.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			cfg, _, code := parseFlags(tt.args, func(k string) string { return tt.env[k] }, &out, &errOut)
			if code != tt.wantCode {
				t.Fatalf("code %d, want %d; stdout %q, stderr %q", code, tt.wantCode, out.String(), errOut.String())
			}
			if strings.Contains(out.String()+errOut.String(), "help requested") {
				t.Errorf("printed flag's %q", "help requested")
			}
			if tt.wantOut != "" && (!strings.Contains(out.String(), tt.wantOut) || errOut.Len() != 0) {
				t.Errorf("stdout %q, stderr %q; want %q on stdout only", out.String(), errOut.String(), tt.wantOut)
			}
			if tt.wantErr != "" {
				e := errOut.String()
				if out.Len() != 0 || !strings.HasPrefix(e, "faaspotd: ") || strings.Count(e, "\n") != 1 || !strings.Contains(e, tt.wantErr) {
					t.Errorf("stdout %q, stderr %q; want one line on stderr with %q", out.String(), e, tt.wantErr)
				}
			}
			if tt.wantListen != "" && cfg.Listen != tt.wantListen {
				t.Errorf("listen %q, want %q", cfg.Listen, tt.wantListen)
			}
		})
	}
}

// TestServePprof: the opt-in listener serves the profiles on its own address and stops when
// closed; a bad address is an error naming the variable.
func TestServePprof(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	addr, stop, err := servePprof("127.0.0.1:0", log)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /debug/pprof/cmdline: %d, want 200", resp.StatusCode)
	}
	stop()
	if resp, err := http.Get("http://" + addr + "/debug/pprof/cmdline"); err == nil {
		resp.Body.Close()
		t.Errorf("still serving after stop")
	}
	if _, _, err := servePprof("127.0.0.1:notaport", log); err == nil || !strings.Contains(err.Error(), pprofEnv) {
		t.Errorf("bad address: err %v, want one naming %s", err, pprofEnv)
	}
}

// TestNewLogger: FAASPOT_LOG_FORMAT=json makes one JSON object per line, text slog's lines.
func TestNewLogger(t *testing.T) {
	var js, text bytes.Buffer
	newLogger(&js, "json", slog.LevelInfo).Info("execution finished", "execution", "e1", "duration_ms", 1.5)
	var line map[string]any
	if err := json.Unmarshal(js.Bytes(), &line); err != nil || line["msg"] != "execution finished" ||
		line["execution"] != "e1" || line["duration_ms"] != 1.5 || line["level"] != "INFO" {
		t.Errorf("json line %q: %v", js.String(), err)
	}
	newLogger(&text, "text", slog.LevelInfo).Debug("hidden")
	newLogger(&text, "text", slog.LevelInfo).Info("shown", "k", "v")
	if got := text.String(); strings.Contains(got, "hidden") || !strings.Contains(got, `msg=shown k=v`) {
		t.Errorf("text log %q", got)
	}
}
