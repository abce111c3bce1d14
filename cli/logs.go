package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/faaspot/faaspot/client"
)

// followLogs prints the output of execution id as the run prints it, its stdout to stdout and
// its stderr to stderr, until the run ends; with -o json, each line of the server's answer
// (client.LogLine) as it comes. It fails when the server ended the follow before the run.
func (a *app) followLogs(ctx context.Context, id string) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	enc := json.NewEncoder(a.env.Stdout)
	last, err := c.Logs(ctx, id, true, func(l client.LogLine) error {
		if a.output == "json" {
			return enc.Encode(l)
		}
		w := a.env.Stdout
		if l.Stream == "stderr" {
			w = a.env.Stderr
		}
		_, err := io.WriteString(w, l.Data)
		return err
	})
	if err != nil {
		return err
	}
	if a.output == "json" {
		if err := enc.Encode(last); err != nil {
			return err
		}
	} else if last.StdoutTruncated || last.StderrTruncated {
		fmt.Fprintln(a.env.Stderr, "fas: the run's output was longer than the limit and was truncated")
	}
	if !last.Status.Terminal() {
		return fmt.Errorf("execution %s is still %s: the server ended the follow first; run the command again", id, last.Status)
	}
	return nil
}
