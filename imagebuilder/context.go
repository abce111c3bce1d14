package imagebuilder

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"
)

// siteDir is the build context's directory of installed requirements (COPY site SiteDir).
const siteDir = "site"

// buildContext returns the build context: files (name → content, in a stable order) and, when
// site is not nil, the entries of the site tar (the install stage's output) under siteDir. It is
// written while read; the caller closes it, which stops the writing.
func buildContext(files map[string]string, site io.Reader) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeContext(pw, files, site)) }()
	return pr
}

func writeContext(w io.Writer, files map[string]string, site io.Reader) error {
	tw := tar.NewWriter(w)
	epoch := time.Unix(0, 0)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), ModTime: epoch}); err != nil {
			return err
		}
		if _, err := io.WriteString(tw, files[n]); err != nil {
			return err
		}
	}
	if site != nil {
		if err := copySite(tw, tar.NewReader(site)); err != nil {
			return fmt.Errorf("installed requirements: %w", err)
		}
	}
	return tw.Close()
}

// copySite copies the site tar's regular files and directories under siteDir: root-owned,
// world-readable (0644, or 0755 for what is executable or a directory), the modification time
// reset, paths cleaned. Anything else (links, devices, paths out of the directory) is dropped:
// the tar was written by a container that may have run the tenant's code.
func copySite(tw *tar.Writer, tr *tar.Reader) error {
	epoch := time.Unix(0, 0)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: siteDir + "/", Mode: 0o755, ModTime: epoch}); err != nil {
		return err
	}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name, ok := sitePath(hdr.Name)
		if !ok {
			continue
		}
		out := &tar.Header{Name: name, Mode: 0o644, ModTime: epoch}
		switch hdr.Typeflag {
		case tar.TypeDir:
			out.Typeflag, out.Name, out.Mode = tar.TypeDir, name+"/", 0o755
		case tar.TypeReg:
			out.Typeflag, out.Size = tar.TypeReg, hdr.Size
			if hdr.Mode&0o111 != 0 {
				out.Mode = 0o755
			}
		default:
			continue
		}
		if err := tw.WriteHeader(out); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}

// sitePath returns the context path of a site tar entry, false for the directory itself and
// for a path out of it.
func sitePath(name string) (string, bool) {
	clean := path.Clean(name)
	if clean == "." || clean == ".." || path.IsAbs(clean) || strings.HasPrefix(clean, "../") {
		return "", false
	}
	return siteDir + "/" + clean, true
}
