package imagebuilder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

// runContainer creates a container from cc and hc, streams stdin into it, copies its stdout
// and stderr to the writers until it exits, and returns its exit status. The container is
// removed (killed if need be) whatever happens. An error from a writer (an output over its
// limit) or the end of ctx stops the copy, and the container: the error is returned, wrapped.
func (b *Builder) runContainer(ctx context.Context, cc *container.Config, hc *container.HostConfig,
	stdin io.Reader, stdout, stderr io.Writer) (int64, error) {
	created, err := b.docker.ContainerCreate(ctx, cc, hc, nil, nil, "")
	if err != nil {
		return 0, fmt.Errorf("create container: %w", err)
	}
	defer func() {
		_ = b.docker.ContainerRemove(context.WithoutCancel(ctx), created.ID, container.RemoveOptions{Force: true})
	}()
	att, err := b.docker.ContainerAttach(ctx, created.ID, container.AttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		return 0, fmt.Errorf("attach to container: %w", err)
	}
	defer att.Close()
	defer context.AfterFunc(ctx, att.Close)() // a cancelled build stops reading: a hung stage ends
	waitC, errC := b.docker.ContainerWait(ctx, created.ID, container.WaitConditionNextExit)
	if err := b.docker.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		return 0, fmt.Errorf("start container: %w", err)
	}
	go func() { // the input may exceed the stream's buffers: write while the output is read
		_, _ = io.Copy(att.Conn, stdin)
		_ = att.CloseWrite()
	}()
	if _, err := stdcopy.StdCopy(stdout, stderr, att.Reader); err != nil {
		return 0, fmt.Errorf("read container output: %w", errors.Join(err, ctx.Err()))
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("container: %w", err)
	}
	select {
	case exit := <-waitC:
		if exit.Error != nil {
			return 0, fmt.Errorf("wait for container: %s", exit.Error.Message)
		}
		return exit.StatusCode, nil
	case err := <-errC:
		return 0, fmt.Errorf("wait for container: %w", err)
	}
}

// headWriter keeps the first limit bytes written and discards the rest without error.
type headWriter struct {
	buf   bytes.Buffer
	limit int
}

func (w *headWriter) Write(p []byte) (int, error) {
	if room := w.limit - w.buf.Len(); room > 0 {
		w.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// tailWriter keeps the last limit bytes written. Once it has dropped bytes, String starts at a
// line boundary, so that no line (nor a secret in it) is ever returned in part.
type tailWriter struct {
	buf   []byte
	limit int
	cut   bool
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	if over := len(w.buf) - w.limit; over > 0 {
		w.buf = append(w.buf[:0], w.buf[over:]...)
		w.cut = true
	}
	return len(p), nil
}

func (w *tailWriter) String() string {
	if !w.cut {
		return string(w.buf)
	}
	if i := bytes.IndexByte(w.buf, '\n'); i >= 0 {
		return string(w.buf[i+1:])
	}
	return ""
}

// errOutputLimit means a container wrote more than its output limit.
var errOutputLimit = errors.New("output limit exceeded")

// capWriter passes at most limit bytes to w, then fails with errOutputLimit.
type capWriter struct {
	w     io.Writer
	limit int64
}

func (c *capWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > c.limit {
		return 0, errOutputLimit
	}
	c.limit -= int64(len(p))
	return c.w.Write(p)
}
