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
)

// checkTimeout bounds the validation run.
const checkTimeout = 60 * time.Second

// check validates, with the image's own Python, that code defines main(args, context). It runs
// the runner's check mode in a throwaway container of image (no network, read-only, non-root),
// the code on its stdin, and returns the user-facing message when the code fails, "" when it
// passes. An error means the check could not run.
func (b *Builder) check(ctx context.Context, image, code string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	pids, init := int64(64), true
	created, err := b.docker.ContainerCreate(ctx,
		&container.Config{Image: image, Cmd: []string{"--check", "-"}, User: SandboxUser,
			OpenStdin: true, StdinOnce: true, AttachStdin: true, AttachStdout: true, AttachStderr: true,
			Labels: map[string]string{LabelManaged: "true", "io.faaspot.role": "check"}},
		&container.HostConfig{NetworkMode: "none", ReadonlyRootfs: true, CapDrop: []string{"ALL"}, Init: &init,
			SecurityOpt: []string{"no-new-privileges"}, Resources: container.Resources{
				Memory: 256 << 20, MemorySwap: 256 << 20, NanoCPUs: 1e9, PidsLimit: &pids,
				Ulimits: []*container.Ulimit{{Name: "nofile", Soft: 256, Hard: 256}}}},
		nil, nil, "")
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
