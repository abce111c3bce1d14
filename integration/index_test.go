package integration

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
)

// packageIndex is a PEP 503 "simple" index on 127.0.0.1 serving wheels the test writes itself
// (no PyPI here).
type packageIndex struct {
	*httptest.Server
	wheels map[string][]byte // file name -> wheel
}

// The one package the index serves.
const (
	testPkg     = "faaspot-testpkg"
	testModule  = "faaspot_testpkg"
	testVersion = "1.0"
)

func startPackageIndex() *packageIndex {
	name := fmt.Sprintf("%s-%s-py3-none-any.whl", testModule, testVersion)
	idx := &packageIndex{wheels: map[string][]byte{
		name: buildWheel(testModule, testPkg, testVersion, "def hello():\n    return 'hello from a wheel'\n"),
	}}
	mux := http.NewServeMux()
	mux.HandleFunc("/simple/", func(w http.ResponseWriter, r *http.Request) {
		project := strings.Trim(strings.TrimPrefix(r.URL.Path, "/simple/"), "/")
		if project == "" {
			fmt.Fprintf(w, "<html><body><a href=\"/simple/%s/\">%s</a></body></html>", testPkg, testPkg)
			return
		}
		if project != testPkg {
			http.NotFound(w, r)
			return
		}
		sum := sha256.Sum256(idx.wheels[name])
		fmt.Fprintf(w, "<html><body><a href=\"/files/%s#sha256=%s\">%s</a></body></html>", name, hex.EncodeToString(sum[:]), name)
	})
	mux.HandleFunc("/files/", func(w http.ResponseWriter, r *http.Request) {
		b, ok := idx.wheels[strings.TrimPrefix(r.URL.Path, "/files/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(b)
	})
	idx.Server = httptest.NewServer(mux) // listens on 127.0.0.1
	return idx
}

// buildWheel writes a pure-Python wheel holding one module.
func buildWheel(module, project, version, source string) []byte {
	dist := fmt.Sprintf("%s-%s.dist-info", module, version)
	files := []struct{ name, body string }{
		{module + ".py", source},
		{dist + "/METADATA", fmt.Sprintf("Metadata-Version: 2.1\nName: %s\nVersion: %s\n", project, version)},
		{dist + "/WHEEL", "Wheel-Version: 1.0\nGenerator: faaspot-integration\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
	}
	var record strings.Builder
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		w, _ := zw.Create(f.name)
		_, _ = w.Write([]byte(f.body))
		sum := sha256.Sum256([]byte(f.body))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", f.name, base64.RawURLEncoding.EncodeToString(sum[:]), len(f.body))
	}
	fmt.Fprintf(&record, "%s/RECORD,,\n", dist)
	w, _ := zw.Create(dist + "/RECORD")
	_, _ = w.Write([]byte(record.String()))
	_ = zw.Close()
	return buf.Bytes()
}
