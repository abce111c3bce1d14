package imagebuilder

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"
)

// ansiColour matches the colour codes the classic builder wraps around a step's stderr.
var ansiColour = regexp.MustCompile(`\x1b\[[0-9;]*m`)

// buildMessage is one JSON message of the Engine's build output stream.
type buildMessage struct {
	Stream      string `json:"stream"`
	Error       string `json:"error"`
	ErrorDetail *struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
}

// readBuildStream reads the build output to its end and returns the log (its tail, at most limit
// bytes) and the build's error message, if any.
func readBuildStream(r io.Reader, limit int) (buildLog, buildErr string, err error) {
	var tail tailBuffer
	tail.limit = limit
	dec := json.NewDecoder(r)
	for {
		var m buildMessage
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			return tail.String(), "", err
		}
		tail.Write(withoutTags(ansiColour.ReplaceAllString(m.Stream, "")))
		if m.Error != "" || m.ErrorDetail != nil {
			buildErr = m.Error
			if buildErr == "" {
				buildErr = m.ErrorDetail.Message
			}
			tail.Write(buildErr + "\n")
		}
	}
	return tail.String(), buildErr, nil
}

// withoutTags drops the classic builder's "Successfully tagged <tag>" lines: image tags are
// internal, and the build log is served to the tenant.
func withoutTags(s string) string {
	if !strings.Contains(s, "Successfully tagged ") {
		return s
	}
	lines := strings.SplitAfter(s, "\n")
	kept := lines[:0]
	for _, l := range lines {
		if !strings.HasPrefix(l, "Successfully tagged ") {
			kept = append(kept, l)
		}
	}
	return strings.Join(kept, "")
}

// tailBuffer keeps the last limit bytes written.
type tailBuffer struct {
	buf   []byte
	limit int
}

func (t *tailBuffer) Write(s string) {
	t.buf = append(t.buf, s...)
	if over := len(t.buf) - t.limit; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
}

func (t *tailBuffer) String() string { return string(t.buf) }

// tarFiles returns an uncompressed tar of the named files, in a stable order.
func tarFiles(files map[string]string) (io.Reader, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	for _, n := range names {
		hdr := &tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), ModTime: epoch}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := io.WriteString(tw, files[n]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &buf, nil
}
