package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/faaspot/faaspot"
)

// timeLayout is how tables show a time.
const timeLayout = "2006-01-02 15:04:05"

// printJSON writes v as indented JSON.
func (a *app) printJSON(v any) error {
	var b []byte
	var err error
	if raw, ok := v.(json.RawMessage); ok {
		var buf bytes.Buffer
		if err = json.Indent(&buf, raw, "", "  "); err == nil {
			b = buf.Bytes()
		}
	} else {
		b, err = json.MarshalIndent(v, "", "  ")
	}
	if err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	_, err = fmt.Fprintln(a.env.Stdout, string(b))
	return err
}

// printTable aligns rows in columns.
func (a *app) printTable(rows [][]string) error {
	tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// printDeployment shows a deployment; headline, when set, is the table output's first line.
func (a *app) printDeployment(d faaspot.Deployment, headline string) error {
	if a.output == "json" {
		return a.printJSON(d)
	}
	if headline != "" {
		fmt.Fprintln(a.env.Stdout, headline)
		return nil
	}
	rows := [][]string{{"name", d.Name}, {"status", strings.ToUpper(string(d.Status))}, {"version", fmt.Sprint(d.Version)},
		{"ready version", fmt.Sprint(d.ReadyVersion)},
		{"limits", fmt.Sprintf("%d MB, %g CPUs, %d s", d.Limits.MemoryMB, d.Limits.CPUs, d.Limits.TimeoutS)},
		{"context keys", strings.Join(d.ContextKeys, ", ")}, {"updated", d.UpdatedAt.Format(time.RFC3339)}}
	if r := retryText(d.Retry); r != "" {
		rows = append(rows, []string{"retry", r})
	}
	if d.CallbackURL != "" {
		rows = append(rows, []string{"callback url", d.CallbackURL})
	}
	if d.Error != "" {
		rows = append(rows, []string{"error", d.Error})
	}
	if err := a.printTable(rows); err != nil {
		return err
	}
	if d.BuildLog != "" {
		fmt.Fprintf(a.env.Stdout, "\nbuild log:\n%s", d.BuildLog)
	}
	return nil
}

func compact(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "-"
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return string(raw)
	}
	return buf.String()
}

// progress shows that something is under way: an animated line on a terminal, plain lines
// otherwise. The returned stop prints the outcome.
func (a *app) progress(what string) func(ok bool) {
	start := time.Now()
	if !a.env.IsTerminal {
		fmt.Fprintf(a.env.Stderr, "%s...\n", what)
		return func(ok bool) {
			if ok {
				fmt.Fprintf(a.env.Stderr, "%s: done in %.1fs\n", what, time.Since(start).Seconds())
			}
		}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		frames := `|/-\`
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for i := 0; ; i++ {
			fmt.Fprintf(a.env.Stderr, "\r%c %s (%.1fs)", frames[i%len(frames)], what, time.Since(start).Seconds())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func(ok bool) {
		close(done)
		<-finished
		mark := "x"
		if ok {
			mark = "ok"
		}
		fmt.Fprintf(a.env.Stderr, "\r%s %s (%.1fs)\n", mark, what, time.Since(start).Seconds())
	}
}
