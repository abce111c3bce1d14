// Package dockertest gives the unit tests that need the machine's Docker engine a client of it
// and the base image to run, or skips them: under -short, without an engine, or without the
// image. Only tests import it.
package dockertest

import (
	"cmp"
	"context"
	"os"
	"testing"
	"time"

	"github.com/docker/docker/client"
)

// Engine returns a client of the machine's engine (closed when t ends) and the base image
// (FAASPOT_TEST_BASE_IMAGE, else faaspot/python:bookworm), present on it; t is skipped under
// -short, without an engine that answers a ping within 5 s, or without the image.
func Engine(t testing.TB) (*client.Client, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a Docker engine")
	}
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Skipf("no Docker client: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Ping(ctx); err != nil {
		t.Skipf("no Docker engine: %v", err)
	}
	img := cmp.Or(os.Getenv("FAASPOT_TEST_BASE_IMAGE"), "faaspot/python:bookworm")
	if _, err := cli.ImageInspect(ctx, img); err != nil {
		t.Skipf("image %s is not on the engine: %v", img, err)
	}
	return cli, img
}
