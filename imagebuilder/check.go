package imagebuilder

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/faaspot/faaspot/hardening"
)

// checkTimeout bounds the validation run.
const checkTimeout = 60 * time.Second

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

// check validates, with the image's own Python, that code defines main(args, context). It runs
// the runner's check mode in a throwaway container of image (see checkContainer), the code on
// its stdin, and returns the user-facing message when the code fails, "" when it passes. An
// error means the check could not run (a root Config.Sandbox user, wrapping
// hardening.ErrRootUser, among others).
func (b *Builder) check(ctx context.Context, image, code string) (string, error) {
	cc, hc, err := checkContainer(b.cfg.Sandbox, image)
	if err != nil {
		return "", fmt.Errorf("check container for %s: %w", image, err)
	}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	created, err := b.docker.ContainerCreate(ctx, cc, hc, nil, nil, "")
	if err != nil {
		return "", fmt.Errorf("create check container for %s: %w", image, err)
	}
	defer func() {
		_ = b.docker.ContainerRemove(context.WithoutCancel(ctx), created.ID, container.RemoveOptions{Force: true})
	}()
	att, err := b.docker.ContainerAttach(ctx, created.ID, container.AttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		return "", fmt.Errorf("attach to check container for %s: %w", image, err)
	}
	defer att.Close()
	waitC, errC := b.docker.ContainerWait(ctx, created.ID, container.WaitConditionNextExit)
	if err := b.docker.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		return "", fmt.Errorf("start check container for %s: %w", image, err)
	}
	go func() { // the code may exceed the stream's buffers: write while the output is read
		_, _ = io.WriteString(att.Conn, code)
		_ = att.CloseWrite()
	}()
	var out bytes.Buffer
	_, _ = stdcopy.StdCopy(&out, &out, io.LimitReader(att.Reader, 64<<10))
	_, _ = io.Copy(io.Discard, att.Reader) // past the limit: drain, so the check never blocks
	var exit container.WaitResponse
	select {
	case exit = <-waitC:
	case err := <-errC:
		return "", fmt.Errorf("wait for check of %s: %w", image, err)
	}
	if exit.StatusCode == 0 {
		return "", nil
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if msg, ok := strings.CutPrefix(strings.TrimSpace(line), CheckPrefix); ok {
			return msg, nil
		}
	}
	return fmt.Sprintf("the code could not be checked: python exited with code %d: %s",
		exit.StatusCode, strings.TrimSpace(out.String())), nil
}
