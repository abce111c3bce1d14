package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// built holds, by command name, the binaries buildCommand made for this test run.
var built sync.Map // string -> *binary

type binary struct {
	once sync.Once
	path string
	err  error
}

// buildCommand builds ./cmd/<name> once per test run, into a temporary directory of its own, and
// returns the binary's path.
func buildCommand(t *testing.T, name string) string {
	t.Helper()
	v, _ := built.LoadOrStore(name, &binary{})
	b := v.(*binary)
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", name+"-bin-")
		if err != nil {
			b.err = err
			return
		}
		_, file, _, _ := runtime.Caller(0)
		b.path = filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-o", b.path, "./cmd/"+name)
		cmd.Dir = filepath.Join(filepath.Dir(file), "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("%v: %s", err, out)
		}
	})
	if b.err != nil {
		t.Fatalf("build %s: %v", name, b.err)
	}
	return b.path
}
