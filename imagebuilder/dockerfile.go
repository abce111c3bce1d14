package imagebuilder

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"strings"
	"text/template"
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

// dockerfileSpec is what the rendered Dockerfile depends on.
type dockerfileSpec struct {
	BaseImage       string
	HasRequirements bool
	PipIndex        bool
	// Code adds the deployment's code as the last step. Without it the Dockerfile makes the
	// dependencies image, which the code layer is loaded onto (see layer.go).
	Code bool
}

// dockerfileTmpl puts everything shared first, so that only the last step (the code) is rebuilt
// on a code-only redeploy: every step costs a layer commit, seconds on some storage drivers.
// No USER line: the sandbox sets the non-root user at container creation.
var dockerfileTmpl = template.Must(template.New("Dockerfile").Parse(`FROM {{.BaseImage}}
LABEL ` + LabelManaged + `=true
COPY runner.py ` + RunnerPath + `
RUN python3 -I -m compileall -q ` + RunnerPath + `
WORKDIR /tmp
ENTRYPOINT ["python3", "-I", "` + RunnerPath + `"]
{{- if .HasRequirements}}
{{- if .PipIndex}}
ARG PIP_INDEX_URL
{{- end}}
COPY requirements.txt /opt/faaspot/requirements.txt
RUN python3 -m pip install --no-cache-dir --disable-pip-version-check --no-input \
    --no-warn-script-location --target ` + SiteDir + ` -r /opt/faaspot/requirements.txt
{{- end}}
{{- if .Code}}
COPY main.py ` + FunctionPath + `
{{- end}}
`))

// renderDockerfile returns the Dockerfile for a deployment. It never contains user text: code and
// requirements enter the build context as files, the context never enters at all.
func renderDockerfile(s dockerfileSpec) string {
	var b strings.Builder
	if err := dockerfileTmpl.Execute(&b, s); err != nil {
		panic(err) // the template is static; a failure is a programming error
	}
	return b.String()
}

// imageTag is content-addressed: the repository is made of server-side ids, the tag of a hash of
// everything the image is built from.
func imageTag(s Spec, cfg Config) string {
	return repository(s.TenantID, s.DeploymentID) + ":" + contentHash(cfg.BaseImage, cfg.PipIndexURL, Runner, s.Requirements, s.Code)
}

// depsTag is the content-addressed tag of the deployment's dependencies image: everything but
// the code, so that versions differing only in code share it.
func depsTag(s Spec, cfg Config) string {
	return repository(s.TenantID, s.DeploymentID) + ":deps-" + contentHash(cfg.BaseImage, cfg.PipIndexURL, Runner, s.Requirements)
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
