package imagebuilder

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"strings"
	"text/template"

	"github.com/faaspot/faaspot/hardening"
)

// Runner is the runner script baked into every image (see runner/runner.py for its protocol).
//
//go:embed runner/runner.py
var Runner string

// Paths inside every image.
const (
	RunnerPath   = "/opt/faaspot/runner.py"
	FunctionPath = "/opt/faaspot/function/main.py"
	SiteDir      = "/opt/faaspot/site"
	// CheckPrefix starts the line the runner prints when the code fails validation.
	CheckPrefix = "FAASPOT-CHECK: "
)

// dockerfileSpec is what the rendered Dockerfile of a dependencies image depends on.
type dockerfileSpec struct {
	BaseImage string
	// HasRequirements adds the installed requirements: the build context's site directory,
	// made by the build stages (deps.go), never by a step of this build.
	HasRequirements bool
}

// dockerfileTmpl makes the dependencies image, which the code layer is loaded onto (see
// layer.go). No step runs code of the tenant's: the requirements come installed, as files. No
// USER line: the sandbox sets the non-root user at container creation.
var dockerfileTmpl = template.Must(template.New("Dockerfile").Parse(`FROM {{.BaseImage}}
LABEL ` + LabelManaged + `=true
COPY runner.py ` + RunnerPath + `
RUN python3 -I -m compileall -q ` + RunnerPath + `
WORKDIR /tmp
ENTRYPOINT ["python3", "-I", "` + RunnerPath + `"]
{{- if .HasRequirements}}
COPY site ` + SiteDir + `
{{- end}}
`))

// renderDockerfile returns the Dockerfile of a dependencies image. It never contains user text:
// requirements enter the build context installed, as files.
func renderDockerfile(s dockerfileSpec) string {
	var b strings.Builder
	if err := dockerfileTmpl.Execute(&b, s); err != nil {
		panic(err) // the template is static; a failure is a programming error
	}
	return b.String()
}

// renderCodeDockerfile returns the Dockerfile that adds the code to the dependencies image
// deps (a server-side tag): the fallback of an engine that refuses to load the code layer.
func renderCodeDockerfile(deps string) string {
	return "FROM " + deps + "\nCOPY main.py " + FunctionPath + "\n"
}

// depsRecipe names how dependencies images are made, so that a change of it (here: the
// requirements installed by build stages, no longer by a root build step with network)
// rebuilds them instead of reusing images made the old way.
const depsRecipe = "stages-v1"

// imageTag is content-addressed: the repository is made of server-side ids, the tag of a hash of
// everything the image is built from. With a registry, the repository is named in it.
func imageTag(s Spec, cfg Config) string {
	return cfg.Registry.Qualify(repository(s.TenantID, s.DeploymentID)) + ":" + contentHash(depsParts(s, cfg, s.Code)...)
}

// depsTag is the content-addressed tag of a dependencies image: a tag of the tenant's
// dependencies repository (depsRepository), hashed from everything but the code and the
// deployment, so that the versions and deployments of a tenant built from the same base, index,
// runner, requirements and recipe share it. It is never shared across tenants: its build stages
// and checks run under the tenant's uid, and a shared cache would tell one tenant, by a build's
// time, what another installed. Nor across nodes (the hash takes the node, see nodeOf): two
// nodes on one engine would otherwise build one tag at the same time (the loser's image left
// untagged for good) and remove it under each other's builds, which only a node's own Builder
// can serialise (depsLocks).
func depsTag(s Spec, cfg Config) string {
	return depsRepository(s.TenantID) + ":" + contentHash(depsParts(s, cfg, "node="+nodeOf(cfg))...)
}

// nodeOf is the node whose label the images built under cfg carry ("" for none).
func nodeOf(cfg Config) string {
	if node := cfg.Labels[hardening.LabelNode]; node != "" {
		return node
	}
	return cfg.Sandbox.Node
}

// depsParts lists what a dependencies image is made from (the index without its credentials),
// then extra.
func depsParts(s Spec, cfg Config, extra ...string) []string {
	source := "wheels-only"
	if cfg.AllowSourceBuilds {
		source = "source-builds"
	}
	return append([]string{cfg.BaseImage, redactedIndex(cfg.PipIndexURL), Runner, s.Requirements,
		depsRecipe, depsScript, source}, extra...)
}

// contentHash is a short hash of parts, each one delimited.
func contentHash(parts ...string) string {
	h := sha256.New()
	for _, part := range parts {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:20]
}

// repository is the image repository of one deployment, made of server-side ids only.
func repository(tenantID, deploymentID string) string {
	return "faaspot/t-" + tenantID + "/d-" + deploymentID
}

// depsRepository is the image repository of a tenant's dependencies images, made of its
// server-side id only. No deployment repository is named so (theirs end in "/d-<id>").
func depsRepository(tenantID string) string {
	return "faaspot/t-" + tenantID + "/deps"
}
