package imagebuilder

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// TestBuildContext: the installed requirements enter the context under site/ as root-owned,
// world-readable files and directories only, whatever the install stage's tar holds.
func TestBuildContext(t *testing.T) {
	var site bytes.Buffer
	tw := tar.NewWriter(&site)
	entries := []struct {
		hdr  tar.Header
		body string
	}{
		{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "pkg/", Mode: 0o700, Uid: 200123}},
		{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "pkg/__init__.py", Mode: 0o600, Uid: 200123}, body: "X = 1\n"},
		{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "./bin/tool", Mode: 0o700}, body: "#!/bin/sh\n"},
		{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "../escape.py", Mode: 0o644}, body: "no"},
		{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "/abs.py", Mode: 0o644}, body: "no"},
		{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "link", Linkname: "/etc/shadow"}},
		{hdr: tar.Header{Typeflag: tar.TypeLink, Name: "hard", Linkname: "pkg/__init__.py"}},
		{hdr: tar.Header{Typeflag: tar.TypeChar, Name: "dev"}},
	}
	for _, e := range entries {
		e.hdr.Size = int64(len(e.body))
		if err := tw.WriteHeader(&e.hdr); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write([]byte(e.body))
	}
	_ = tw.Close()

	rc := buildContext(map[string]string{"Dockerfile": "FROM x\n", "runner.py": "pass\n"}, &site)
	defer rc.Close()
	tr := tar.NewReader(rc)
	got := map[string]string{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		if hdr.Uid != 0 || hdr.Gid != 0 || hdr.Mode&0o044 != 0o044 || hdr.ModTime.Unix() != 0 {
			t.Errorf("%s: uid %d gid %d mode %o mtime %v", hdr.Name, hdr.Uid, hdr.Gid, hdr.Mode, hdr.ModTime)
		}
		got[hdr.Name] = strings.Join([]string{string(hdr.Typeflag), string(body)}, "|")
		if hdr.Name == "site/bin/tool" && hdr.Mode != 0o755 || hdr.Name == "site/pkg/__init__.py" && hdr.Mode != 0o644 {
			t.Errorf("%s: mode %o", hdr.Name, hdr.Mode)
		}
	}
	want := map[string]string{
		"Dockerfile": "0|FROM x\n", "runner.py": "0|pass\n",
		"site/": "5|", "site/pkg/": "5|", "site/pkg/__init__.py": "0|X = 1\n", "site/bin/tool": "0|#!/bin/sh\n",
	}
	if len(got) != len(want) {
		t.Errorf("context holds %v, want %v", got, want)
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s = %q, want %q", name, got[name], w)
		}
	}
}

// TestBuildContextClosed: closing the context early stops its writer (no goroutine left
// blocked), and a broken site tar fails the context instead of building a partial image.
func TestBuildContextClosed(t *testing.T) {
	rc := buildContext(map[string]string{"Dockerfile": strings.Repeat("x", 1<<20)}, nil)
	_ = rc.Close()
	broken := buildContext(map[string]string{"Dockerfile": "FROM x\n"}, strings.NewReader(strings.Repeat("garbage", 200)))
	if _, err := io.ReadAll(broken); err == nil {
		t.Error("a broken site tar made a complete context")
	}
}

func TestOutputWriters(t *testing.T) {
	tail := &tailWriter{limit: 12}
	_, _ = tail.Write([]byte("line one secret\nline two\n"))
	if got := tail.String(); got != "line two\n" {
		t.Errorf("tail = %q, want the last whole line", got)
	}
	head := &headWriter{limit: 4}
	if n, err := head.Write([]byte("abcdef")); n != 6 || err != nil || head.buf.String() != "abcd" {
		t.Errorf("head: %d %v %q", n, err, head.buf.String())
	}
	var out bytes.Buffer
	c := &capWriter{w: &out, limit: 5}
	if _, err := c.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("def")); !errors.Is(err, errOutputLimit) || out.String() != "abc" {
		t.Errorf("cap: %v %q", err, out.String())
	}
}
