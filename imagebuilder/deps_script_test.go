package imagebuilder

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
)

// runDepsScript runs depsScript's fetch stage with the host's python3 (skipped without pip),
// its work directory in a temporary one, and returns its stdout, its stderr and its exit error.
func runDepsScript(t *testing.T, job stageJob) ([]byte, string, error) {
	t.Helper()
	if err := exec.Command("python3", "-c", "import pip._vendor.packaging").Run(); err != nil {
		t.Skip("no python3 with pip on this machine")
	}
	line, _ := json.Marshal(job)
	cmd := exec.Command("python3", "-I", "-c", depsScript)
	cmd.Env = []string{"FAASPOT_STAGE_DIR=" + t.TempDir(), "HOME=" + t.TempDir(), "PATH=/usr/bin:/bin"}
	cmd.Stdin = strings.NewReader(string(line) + "\n")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.Bytes(), stderr.String(), err
}

// TestDepsScriptFetch: wheels only, a source-only requirement fails, named; with source builds
// allowed its sdist is fetched, with the index's credentials, and no code of it runs.
func TestDepsScriptFetch(t *testing.T) {
	sdist := []byte("not really a tarball: never opened by the fetch stage")
	var authed, anonymous int
	idx := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "user" || p != "pa:ss" {
			anonymous++
			w.Header().Set("WWW-Authenticate", `Basic realm="x"`)
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		authed++
		switch r.URL.Path {
		case "/simple/only-sdist/":
			fmt.Fprint(w, `<a href="/f/only_sdist-1.0.tar.gz">only_sdist-1.0.tar.gz</a>`+
				`<a href="/f/only_sdist-2.0.tar.gz" data-yanked="">only_sdist-2.0.tar.gz</a>`+
				`<a href="/f/only_sdist-0.9.zip">only_sdist-0.9.zip</a>`)
		case "/f/only_sdist-1.0.tar.gz":
			_, _ = w.Write(sdist)
		default:
			http.NotFound(w, r)
		}
	}))
	defer idx.Close()
	index := strings.Replace(idx.URL, "http://", "http://user:pa%3Ass@", 1) + "/simple"

	_, stderr, err := runDepsScript(t, stageJob{Phase: "fetch", Requirements: "only-sdist>=0.9\n", IndexURL: index})
	if err == nil || !strings.Contains(stderr, BuildPrefix+"no wheel of only-sdist>=0.9 is available") {
		t.Errorf("wheels only: %v\n%s", err, stderr)
	}

	stdout, stderr, err := runDepsScript(t, stageJob{Phase: "fetch", Requirements: "only-sdist>=0.9 # comment\n",
		IndexURL: index, Source: true})
	if err != nil {
		t.Fatalf("source builds allowed: %v\n%s", err, stderr)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(stdout))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("stdout is no tar: %v", err)
		}
		files[hdr.Name], _ = io.ReadAll(tr)
	}
	if len(files) != 1 || !bytes.Equal(files["only_sdist-1.0.tar.gz"], sdist) {
		t.Errorf("fetched %v; want only the newest, unyanked sdist", files)
	}
	if authed == 0 {
		t.Errorf("the index was never asked with the credentials (%d without)", anonymous)
	}

	_, stderr, err = runDepsScript(t, stageJob{Phase: "fetch", Requirements: "no-such-thing\n", IndexURL: index, Source: true})
	if err == nil || !strings.Contains(stderr, BuildPrefix+"no distribution of no-such-thing was found") {
		t.Errorf("unknown project: %v\n%s", err, stderr)
	}
}
