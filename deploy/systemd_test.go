package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// unitFiles are the systemd units shipped, and the instance each is verified as.
var unitFiles = map[string]string{"faaspotd.service": "faaspotd.service", "faaspotd@.service": "faaspotd@worker.service"}

// TestSystemdVerify: systemd's own checker accepts each unit without a word (unknown keys and
// bad values are only warnings to it: any output fails). ExecStart is pointed at an executable
// of the test's, since verify wants it to exist.
func TestSystemdVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (apt-get install systemd)")
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, "faaspotd")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for file, as := range unitFiles {
		b, err := os.ReadFile(filepath.Join("systemd", file))
		if err != nil {
			t.Fatal(err)
		}
		unit := strings.ReplaceAll(string(b), "/usr/local/bin/faaspotd", exe)
		if unit == string(b) {
			t.Fatalf("%s does not start /usr/local/bin/faaspotd", file)
		}
		path := filepath.Join(dir, as)
		if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(analyze, "verify", "--man=no", path).CombinedOutput()
		if err != nil || len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("systemd-analyze verify %s: %v\n%s", file, err, out)
		}
	}
}

// TestSystemdHardening: the settings the units rely on, read as systemd reads them.
func TestSystemdHardening(t *testing.T) {
	want := map[string]string{
		"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
		"CapabilityBoundingSet": "", "RestrictSUIDSGID": "yes", "User": "faaspot",
		"SupplementaryGroups": "docker", "KillSignal": "SIGTERM", "StateDirectoryMode": "0700",
	}
	for file := range unitFiles {
		keys := readUnit(t, filepath.Join("systemd", file))
		for k, v := range want {
			if got, ok := keys["Service."+k]; !ok || got[len(got)-1] != v {
				t.Errorf("%s: %s = %q, want %q", file, k, got, v)
			}
		}
		env := strings.Join(keys["Service.Environment"], " ")
		for _, v := range []string{"FAASPOT_SECRET_KEY_FILE=%d/secret.key", "FAASPOT_DATA_DIR=%S/faaspot", "TMPDIR=%t/faaspotd"} {
			if !strings.Contains(env, v) {
				t.Errorf("%s: Environment lacks %s", file, v)
			}
		}
		// The engine binds runners' socket directories from TMPDIR into sandboxes: a real host
		// path, made by RuntimeDirectory, never the private /tmp.
		if rd := keys["Service.RuntimeDirectory"]; len(rd) != 1 || !strings.Contains(env, "TMPDIR=%t/"+rd[0]) {
			t.Errorf("%s: TMPDIR is not the RuntimeDirectory %v", file, rd)
		}
		if lc := keys["Service.LoadCredential"]; len(lc) != 1 || !strings.HasPrefix(lc[0], "secret.key:") {
			t.Errorf("%s: LoadCredential = %v, want the secret key", file, lc)
		}
	}
	if exec := readUnit(t, "systemd/faaspotd@.service")["Service.ExecStart"]; len(exec) != 1 || !strings.HasSuffix(exec[0], "--role %i") {
		t.Errorf("faaspotd@.service: ExecStart = %v, want the role from the instance, as a flag (env files cannot override it)", exec)
	}
}

// readUnit returns a unit file's assignments as "Section.Key" -> values, in order.
func readUnit(t *testing.T, file string) map[string][]string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	keys, section := map[string][]string{}, ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: not an assignment: %q", file, line)
			}
			keys[section+"."+k] = append(keys[section+"."+k], v)
		}
	}
	return keys
}
