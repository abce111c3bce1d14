package imagebuilder

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReadBuildStream(t *testing.T) {
	tests := []struct {
		name      string
		stream    string // file under testdata/
		limit     int
		wantErr   string // build error message
		wantInLog []string
		wantTail  string // the log ends with this
		wantLen   int    // exact log length when set
	}{
		{name: "success", stream: "build_success.jsonl", limit: 64 << 10,
			wantInLog: []string{"Step 1/7 : FROM python:3.12-slim\n"},
			wantTail:  "Successfully built 4a9f0c1d2e3b\n"},
		{name: "error with errorDetail and error", stream: "build_pip_error.jsonl", limit: 64 << 10,
			wantErr:   "The command '/bin/sh -c python3 -m pip install --no-cache-dir' returned a non-zero code: 1",
			wantInLog: []string{"ERROR: Could not find a version that satisfies the requirement nosuchpkg==9.9 (from versions: none)\n"},
			wantTail:  "returned a non-zero code: 1\n"},
		{name: "error with errorDetail only", stream: "build_error_detail_only.jsonl", limit: 64 << 10,
			wantErr:  "pull access denied for python, repository does not exist",
			wantTail: "Step 1/7 : FROM python:3.12-slim\npull access denied for python, repository does not exist\n"},
		{name: "log keeps its tail", stream: "build_success.jsonl", limit: 40,
			wantTail: "Successfully built 4a9f0c1d2e3b\n", wantLen: 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tt.stream))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			log, buildErr, err := readBuildStream(f, tt.limit)
			if err != nil {
				t.Fatalf("readBuildStream: %v", err)
			}
			if buildErr != tt.wantErr {
				t.Errorf("build error = %q, want %q", buildErr, tt.wantErr)
			}
			if tt.wantLen > 0 && len(log) != tt.wantLen {
				t.Errorf("log is %d bytes, want %d: %q", len(log), tt.wantLen, log)
			}
			if len(log) > tt.limit {
				t.Errorf("log is %d bytes, over the limit of %d", len(log), tt.limit)
			}
			if strings.Contains(log, "faaspot/t-") || strings.Contains(log, "Successfully tagged") {
				t.Errorf("the log, served to the tenant, names an internal image tag:\n%s", log)
			}
			for _, s := range tt.wantInLog {
				if !strings.Contains(log, s) {
					t.Errorf("log does not contain %q:\n%s", s, log)
				}
			}
			if !strings.HasSuffix(log, tt.wantTail) {
				t.Errorf("log does not end with %q:\n%s", tt.wantTail, log)
			}
			if strings.Contains(log, `"aux"`) || strings.Contains(log, "sha256:") {
				t.Errorf("log carries aux messages:\n%s", log)
			}
		})
	}
}

func TestReadBuildStreamMalformed(t *testing.T) {
	in := `{"stream":"Step 1/7 : FROM python:3.12-slim\n"}` + "\n" + `{"stream": tru`
	log, _, err := readBuildStream(strings.NewReader(in), 1024)
	if err == nil {
		t.Fatal("readBuildStream accepted a truncated stream")
	}
	if log != "Step 1/7 : FROM python:3.12-slim\n" {
		t.Errorf("log read before the failure = %q", log)
	}
}

func TestTailBuffer(t *testing.T) {
	tests := []struct {
		name   string
		limit  int
		writes []string
		want   string
	}{
		{name: "under the limit", limit: 10, writes: []string{"abc", "def"}, want: "abcdef"},
		{name: "exactly the limit", limit: 6, writes: []string{"abc", "def"}, want: "abcdef"},
		{name: "keeps the tail", limit: 10, writes: []string{"abcdefgh", "ijklmn"}, want: "efghijklmn"},
		{name: "one write over the limit", limit: 4, writes: []string{"0123456789"}, want: "6789"},
		{name: "many small writes", limit: 3, writes: []string{"a", "b", "c", "d", "e"}, want: "cde"},
		{name: "empty writes", limit: 3, writes: []string{"", "ab", ""}, want: "ab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := tailBuffer{limit: tt.limit}
			for _, w := range tt.writes {
				tb.Write(w)
			}
			if got := tb.String(); got != tt.want {
				t.Errorf("tail = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name        string
		buildErr    string
		log         string
		kind        error
		wantMessage string // exact when set
		mention     []string
	}{
		{name: "check line", buildErr: "returned a non-zero code: 3",
			log:  "Step 7/7 : RUN check\n" + CheckPrefix + "the code defines no main(args, context) function at module level\n",
			kind: ErrInvalidFunction, wantMessage: "the code defines no main(args, context) function at module level"},
		{name: "indented check line", buildErr: "x",
			log:  "  " + CheckPrefix + "main must accept two arguments\r\n",
			kind: ErrInvalidFunction, wantMessage: "main must accept two arguments"},
		{name: "pip errors", buildErr: "The command '/bin/sh -c python3 -m pip install' returned a non-zero code: 1",
			log: "Step 5/7 : RUN python3 -m pip install\nCollecting nosuchpkg\n" +
				"ERROR: Could not find a version that satisfies the requirement nosuchpkg==9.9\n" +
				"ERROR: No matching distribution found for nosuchpkg==9.9\n",
			kind:    ErrBuildFailed,
			mention: []string{"requirements", "nosuchpkg==9.9", "No matching distribution"}},
		{name: "other failure", buildErr: "pull access denied for python", log: "Step 1/7 : FROM python\n",
			kind: ErrBuildFailed, wantMessage: "image build failed: pull access denied for python"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			be := classify(tt.buildErr, tt.log)
			if !errors.Is(be, tt.kind) {
				t.Errorf("kind = %v, want %v", be.Kind, tt.kind)
			}
			if tt.wantMessage != "" && be.Message != tt.wantMessage {
				t.Errorf("message = %q, want %q", be.Message, tt.wantMessage)
			}
			for _, m := range tt.mention {
				if !strings.Contains(be.Message, m) {
					t.Errorf("message %q does not mention %q", be.Message, m)
				}
			}
			if be.Log != tt.log {
				t.Error("the build log is not kept on the error")
			}
			if be.Error() != be.Message {
				t.Errorf("Error() = %q, want the message", be.Error())
			}
		})
	}
}

func TestTarFiles(t *testing.T) {
	files := map[string]string{
		"runner.py":        "print('runner')\n",
		"main.py":          "def main(args, context):\n    return 1\n",
		"Dockerfile":       "FROM scratch\n",
		"requirements.txt": "",
	}
	r, err := tarFiles(files)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(r)
	var names []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, hdr.Name)
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if string(body) != files[hdr.Name] {
			t.Errorf("%s holds %q, want %q", hdr.Name, body, files[hdr.Name])
		}
		if hdr.Typeflag != tar.TypeReg || hdr.Mode != 0o644 {
			t.Errorf("%s: type %q mode %o, want a regular file with mode 644", hdr.Name, hdr.Typeflag, hdr.Mode)
		}
		if !hdr.ModTime.Equal(time.Unix(0, 0)) {
			t.Errorf("%s: mtime %v, want the epoch (stable context)", hdr.Name, hdr.ModTime)
		}
	}
	want := []string{"Dockerfile", "main.py", "requirements.txt", "runner.py"}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("entries %v, want %v in that order", names, want)
	}
}

// TestClassifyRecordedStream classifies the log of a recorded Engine stream. The classic builder
// wraps what RUN steps write to stderr in ANSI colour codes ("\x1b[91m…\x1b[0m", see docker's
// pkg/streamformatter/streamwriter.go), and pip writes its ERROR lines to stderr.
func TestClassifyRecordedStream(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "build_pip_error.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	log, buildErr, err := readBuildStream(f, 64<<10)
	if err != nil || buildErr == "" {
		t.Fatalf("readBuildStream = %q, %v; want a build error", buildErr, err)
	}
	be := classify(buildErr, log)
	if !errors.Is(be, ErrBuildFailed) {
		t.Fatalf("kind = %v, want ErrBuildFailed", be.Kind)
	}
	// The Engine wraps the step's stderr in colour codes; they must not hide pip's errors.
	if !strings.HasPrefix(be.Message, "installing the requirements failed") || !strings.Contains(be.Message, "nosuchpkg==9.9") {
		t.Errorf("message = %q", be.Message)
	}
	if strings.Contains(log, "\x1b[") {
		t.Error("the kept log still carries colour codes")
	}
}

// TestStepImage: of a build log, the step images are found, not the step containers.
func TestStepImage(t *testing.T) {
	log := "Step 3/7 : COPY runner.py /opt/faaspot/runner.py\n ---> Using cache\n ---> 0a1b2c3d4e5f\n" +
		"Step 4/7 : RUN python3 -m pip install x\n ---> Running in 9f8e7d6c5b4a\nERROR: no x\n"
	var ids []string
	for _, m := range stepImage.FindAllStringSubmatch(log, -1) {
		ids = append(ids, m[1])
	}
	if len(ids) != 1 || ids[0] != "0a1b2c3d4e5f" {
		t.Errorf("step images %v, want [0a1b2c3d4e5f]", ids)
	}
}
