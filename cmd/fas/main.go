// Command fas is the faaspot command line.
package main

import (
	"context"
	"os"
	"os/signal"

	"golang.org/x/term"

	"github.com/faaspot/faaspot/cli"
)

// version is set at build time (-ldflags "-X main.version=..."); see cli.BuildVersion.
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := cli.Main(ctx, cli.DefaultEnv(version, term.IsTerminal(int(os.Stderr.Fd()))), os.Args[1:])
	stop()
	os.Exit(code)
}
