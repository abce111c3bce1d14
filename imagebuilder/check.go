package imagebuilder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/docker/docker/api/types/container"

	"github.com/faaspot/faaspot/hardening"
)

// checkResources bound a check container: parsing the code needs little.
var checkResources = hardening.Resources{MemoryBytes: 256 << 20, NanoCPUs: 1e9}

// checkContainer renders the configuration of a check container of image under the operator's
// hardening sb: a run's confinement (package hardening), without a network whatever sb allows
// runs, labelled with role check and sb's node, the runner in check mode reading the code on
// stdin. It refuses a root user (wrapping hardening.ErrRootUser).
func checkContainer(sb hardening.Config, image string) (*container.Config, *container.HostConfig, error) {
	sb.Network = "none"
	if err := sb.Validate(); err != nil {
		return nil, nil, err
	}
	cc := hardening.ContainerConfig(sb, hardening.RoleCheck)
	cc.Image, cc.Cmd = image, []string{"--check", "-"}
	cc.OpenStdin, cc.StdinOnce = true, true
	cc.AttachStdin, cc.AttachStdout, cc.AttachStderr = true, true, true
	return cc, hardening.HostConfig(sb, checkResources), nil
}

// check validates, with the image's own Python and requirements, that code defines
// main(args, context) and imports (its top-level code runs, within Config.ImportTimeout). It runs the
// runner's check mode in a throwaway container of image (see checkContainer) as tenant's user
// (hardening.Config.TenantUser), the code on its stdin, and returns the user-facing message when
// the code fails (an import's exception with its traceback; an import that outlasts
// Config.ImportTimeout), "" when it passes. An error means the check could not run (a root
// Config.Sandbox user, wrapping hardening.ErrRootUser, among others) or ctx ended.
func (b *Builder) check(ctx context.Context, image, code, tenant string) (string, error) {
	cc, hc, err := checkContainer(b.cfg.Sandbox.ForTenant(tenant), image)
	if err != nil {
		return "", fmt.Errorf("check container for %s: %w", image, err)
	}
	cctx, cancel := context.WithTimeout(ctx, b.cfg.ImportTimeout)
	defer cancel()
	out := &headWriter{limit: 64 << 10} // past the limit: drained, so the check never blocks
	status, err := b.runContainer(cctx, cc, hc, strings.NewReader(code), out, out)
	if err != nil && ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
		return fmt.Sprintf("the code did not finish importing within %s: its top-level code must not block or run long", b.cfg.ImportTimeout), nil
	}
	if err != nil {
		return "", fmt.Errorf("check of %s: %w", image, err)
	}
	if status == 0 {
		return "", nil
	}
	if msg, ok := checkMessage(out.buf.String()); ok {
		return msg, nil
	}
	return fmt.Sprintf("the code could not be checked: python exited with code %d: %s",
		status, strings.TrimSpace(out.buf.String())), nil
}

// checkMessage finds the runner's verdict in a check's output: its last CheckPrefix line, the
// message a JSON string (or plain text, from runners before the import check).
func checkMessage(out string) (string, bool) {
	lines := strings.Split(out, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		rest, ok := strings.CutPrefix(strings.TrimSpace(lines[i]), CheckPrefix)
		if !ok {
			continue
		}
		var msg string
		if strings.HasPrefix(rest, `"`) && json.Unmarshal([]byte(rest), &msg) == nil {
			return msg, true
		}
		return rest, true
	}
	return "", false
}
