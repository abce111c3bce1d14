package imagebuilder

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/faaspot/faaspot/hardening"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/name, rewriting the file when -update is given.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the rendered text:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestRenderDockerfile(t *testing.T) {
	tests := []struct {
		name   string
		spec   dockerfileSpec
		golden string
	}{
		{name: "dependencies image", spec: dockerfileSpec{BaseImage: "python:3.12-slim", HasRequirements: true},
			golden: "dockerfile_deps.golden"},
		{name: "dependencies image without requirements", spec: dockerfileSpec{BaseImage: "python:3.12-slim"},
			golden: "dockerfile_deps_no_requirements.golden"},
		{name: "dependencies image on a local base", spec: dockerfileSpec{BaseImage: "localhost/py:bookworm", HasRequirements: true},
			golden: "dockerfile_deps_local_base.golden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := renderDockerfile(tt.spec)
			golden(t, tt.golden, got)

			// Properties the golden files must keep, whatever they are updated to.
			if !strings.HasPrefix(got, "FROM "+tt.spec.BaseImage+"\n") {
				t.Errorf("Dockerfile does not start FROM %s", tt.spec.BaseImage)
			}
			if strings.Contains(got, "\nUSER ") {
				t.Error("Dockerfile sets USER; the sandbox sets the user at container creation")
			}
			if strings.Contains(got, "main.py") {
				t.Error("the dependencies image holds the code")
			}
			// No step of the image build runs the requirements' code, reaches an index or
			// takes an argument (build arguments show in the image's history).
			for _, banned := range []string{"pip", "ARG ", "ENV ", "INDEX", "requirements"} {
				if strings.Contains(got, banned) {
					t.Errorf("Dockerfile mentions %q", banned)
				}
			}
			site := strings.Contains(got, "\nCOPY site "+SiteDir+"\n")
			if site != tt.spec.HasRequirements {
				t.Errorf("installed requirements copied = %v, want %v", site, tt.spec.HasRequirements)
			}
		})
	}
}

// TestRenderCodeDockerfile: the fallback adds the code, and only the code, to the dependencies
// image.
func TestRenderCodeDockerfile(t *testing.T) {
	got := renderCodeDockerfile("faaspot/t-a/d-b:deps-0123")
	golden(t, "dockerfile_code.golden", got)
	if want := "FROM faaspot/t-a/d-b:deps-0123\nCOPY main.py " + FunctionPath + "\n"; got != want {
		t.Errorf("code Dockerfile = %q, want %q", got, want)
	}
}

func TestImageTag(t *testing.T) {
	cfg := Config{BaseImage: "python:3.12-slim"}
	base := Spec{TenantID: "0a1b2c3d4e5f6071", DeploymentID: "8899aabbccddeeff",
		Code: "def main(args, context):\n    return 'SECRET-LOOKING-CODE'\n", Requirements: "six==1.16.0\n"}
	tag := imageTag(base, cfg)

	t.Run("deterministic", func(t *testing.T) {
		if again := imageTag(base, cfg); again != tag {
			t.Errorf("imageTag changed between calls: %q, %q", tag, again)
		}
	})
	t.Run("made of server-side ids only", func(t *testing.T) {
		// A valid Docker reference: lowercase path components, a tag of hex digits.
		re := regexp.MustCompile(`^faaspot/t-0a1b2c3d4e5f6071/d-8899aabbccddeeff:[0-9a-f]{20}$`)
		if !re.MatchString(tag) {
			t.Errorf("tag %q does not match %s", tag, re)
		}
		if strings.Contains(tag, "SECRET") || strings.Contains(tag, "six") {
			t.Errorf("tag %q carries user text", tag)
		}
	})

	differs := []struct {
		name string
		spec Spec
		cfg  Config
	}{
		{name: "code", spec: withCode(base, base.Code+"# edited\n"), cfg: cfg},
		{name: "requirements", spec: withRequirements(base, "six==1.17.0\n"), cfg: cfg},
		{name: "no requirements", spec: withRequirements(base, ""), cfg: cfg},
		{name: "base image", spec: base, cfg: Config{BaseImage: "python:3.11-slim"}},
		{name: "pip index", spec: base, cfg: Config{BaseImage: cfg.BaseImage, PipIndexURL: "http://127.0.0.1:1/simple"}},
		{name: "source builds", spec: base, cfg: Config{BaseImage: cfg.BaseImage, AllowSourceBuilds: true}},
		// The NUL separator keeps moving text from one part to the next from colliding.
		{name: "text moved between requirements and code", spec: Spec{TenantID: base.TenantID,
			DeploymentID: base.DeploymentID, Requirements: base.Requirements + "x", Code: base.Code[1:]}, cfg: cfg},
	}
	for _, tt := range differs {
		t.Run("differs by "+tt.name, func(t *testing.T) {
			other := imageTag(tt.spec, tt.cfg)
			if other == tag {
				t.Errorf("tag unchanged (%q) when the %s differs", tag, tt.name)
			}
			if !strings.HasPrefix(other, repository(base.TenantID, base.DeploymentID)+":") {
				t.Errorf("repository changed: %q", other)
			}
		})
	}
	t.Run("the index's credentials change nothing", func(t *testing.T) {
		index := Config{BaseImage: cfg.BaseImage, PipIndexURL: "http://127.0.0.1:1/simple"}
		withCreds := Config{BaseImage: cfg.BaseImage, PipIndexURL: "http://user:secret@127.0.0.1:1/simple"}
		if a, b := imageTag(base, index), imageTag(base, withCreds); a != b {
			t.Errorf("tags %q and %q differ by the index's credentials only", a, b)
		}
		if a, b := depsTag(base, index), depsTag(base, withCreds); a != b {
			t.Errorf("deps tags %q and %q differ by the index's credentials only", a, b)
		}
	})
	t.Run("other deployment, other repository", func(t *testing.T) {
		other := base
		other.DeploymentID = "ffeeddccbbaa9988"
		if got := imageTag(other, cfg); strings.Split(got, ":")[0] == strings.Split(tag, ":")[0] {
			t.Errorf("two deployments share the repository of %q", got)
		}
	})
}

// TestDepsTag: the dependencies image is a tag of the tenant's dependencies repository, shared by
// the versions and deployments of the tenant built from the same inputs, and by nothing else:
// not by another tenant or node, nor by different requirements, base image, index or source
// setting.
func TestDepsTag(t *testing.T) {
	cfg := Config{BaseImage: "python:3.12-slim"}
	base := Spec{TenantID: "0a1b2c3d4e5f6071", DeploymentID: "8899aabbccddeeff",
		Code: "def main(args, context):\n    return 1\n", Requirements: "six==1.16.0\n"}
	tag := depsTag(base, cfg)
	if !regexp.MustCompile(`^faaspot/t-0a1b2c3d4e5f6071/deps:[0-9a-f]{20}$`).MatchString(tag) {
		t.Errorf("deps tag %q is not in the tenant's dependencies repository", tag)
	}
	otherDeployment := base
	otherDeployment.DeploymentID = "ffeeddccbbaa9988"
	otherTenant := base
	otherTenant.TenantID = "1111222233334444"
	for _, tt := range []struct {
		name  string
		spec  Spec
		cfg   Config
		share bool
	}{
		{"another version's code", withCode(base, "def main(a, c):\n    return 2\n"), cfg, true},
		{"another deployment of the tenant", otherDeployment, cfg, true},
		{"another tenant", otherTenant, cfg, false},
		{"other requirements", withRequirements(base, "six==1.17.0\n"), cfg, false},
		{"another base image", base, Config{BaseImage: "python:3.11-slim"}, false},
		{"another index", base, Config{BaseImage: cfg.BaseImage, PipIndexURL: "http://127.0.0.1:1/simple"}, false},
		{"source builds", base, Config{BaseImage: cfg.BaseImage, AllowSourceBuilds: true}, false},
		{"another node", base, Config{BaseImage: cfg.BaseImage, Sandbox: hardening.Config{Node: "n2"}}, false},
		{"another node, by label", base, Config{BaseImage: cfg.BaseImage, Labels: map[string]string{hardening.LabelNode: "n2"}}, false},
	} {
		if got := depsTag(tt.spec, tt.cfg); (got == tag) != tt.share {
			t.Errorf("%s: deps tag %q, base's %q; want shared %v", tt.name, got, tag, tt.share)
		}
	}
	byLabel := Config{BaseImage: cfg.BaseImage, Labels: map[string]string{hardening.LabelNode: "n2"}}
	if a, b := depsTag(base, byLabel), depsTag(base, Config{BaseImage: cfg.BaseImage, Sandbox: hardening.Config{Node: "n2"}}); a != b {
		t.Errorf("deps tags %q and %q of one node differ by where the node is set", a, b)
	}
	if a, b := imageTag(base, cfg), imageTag(base, byLabel); a != b {
		t.Errorf("deployment image tags %q and %q differ by node: a node rebuilding another's image would name it otherwise", a, b)
	}
	if got := imageTag(base, cfg); strings.Split(got, ":")[0] == strings.Split(tag, ":")[0] {
		t.Error("the deployment image is in the dependencies repository")
	}
	if _, ok := parseRepository(tag); ok || !isSharedDeps(tag) || isSharedDeps(imageTag(base, cfg)) {
		t.Errorf("deps tag %q read as a deployment's, or not as a dependencies image", tag)
	}
}

func withCode(s Spec, code string) Spec { s.Code = code; return s }

func withRequirements(s Spec, r string) Spec { s.Requirements = r; return s }
