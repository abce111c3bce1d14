package sandbox

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types"
)

// RuntimeVerdict says whether the engine's runc is known to carry the fixes for the container
// escapes CVE-2019-5736 (runc 1.0.0-rc7) and CVE-2024-21626 (runc 1.1.12).
type RuntimeVerdict struct {
	Version    string // as the engine reports it, e.g. "1.1.5+ds1" (build "1.1.5+ds1-1+deb12u1")
	Vulnerable bool   // known to lack a fix
	Known      bool   // false: the version could not be judged (an unknown vendor build)
	Reason     string
}

// versionLister is the one Engine call the check needs; *client.Client satisfies it.
type versionLister interface {
	ServerVersion(ctx context.Context) (types.Version, error)
}

// CheckRuntime judges the runc of the engine.
func CheckRuntime(ctx context.Context, docker versionLister) (RuntimeVerdict, error) {
	v, err := docker.ServerVersion(ctx)
	if err != nil {
		return RuntimeVerdict{}, fmt.Errorf("engine version: %w: %w", ErrEngine, err)
	}
	for _, c := range v.Components {
		if strings.EqualFold(c.Name, "runc") {
			return judgeRunc(c.Version, c.Details["GitCommit"]), nil
		}
	}
	return RuntimeVerdict{Reason: "the engine does not report its runc version"}, nil
}

// patchedBuilds are distribution builds that backport the CVE-2024-21626 fix to an older
// upstream version: the build string's prefix and the first fixed revision.
var patchedBuilds = []struct {
	prefix   string // e.g. Debian bookworm "1.1.5+ds1-1+deb12u"
	firstFix int
}{
	{"1.1.5+ds1-1+deb12u", 1}, // DSA-5615-1
}

var semverRE = regexp.MustCompile(`^v?(\d+)\.(\d+)\.(\d+)(-rc(\d+))?`)

// judgeRunc decides from the version and build strings the engine reports.
func judgeRunc(version, build string) RuntimeVerdict {
	out := RuntimeVerdict{Version: version, Known: true}
	for _, p := range patchedBuilds {
		if rev, ok := strings.CutPrefix(build, p.prefix); ok {
			if n, err := strconv.Atoi(rev); err == nil && n >= p.firstFix {
				out.Reason = fmt.Sprintf("distribution build %s carries the fix for CVE-2024-21626", build)
				return out
			}
		}
	}
	m := semverRE.FindStringSubmatch(version)
	if m == nil {
		return RuntimeVerdict{Version: version, Reason: fmt.Sprintf("runc version %q cannot be judged", version)}
	}
	num := func(i int) int { n, _ := strconv.Atoi(m[i]); return n }
	maj, min, patch := num(1), num(2), num(3)
	switch {
	case maj == 0 || (maj == 1 && min == 0 && patch == 0 && m[4] != "" && num(5) < 7):
		out.Vulnerable, out.Reason = true, "runc "+version+" predates the fix for CVE-2019-5736 (1.0.0-rc7)"
	case maj == 1 && (min < 1 || (min == 1 && patch < 12)):
		out.Vulnerable, out.Reason = true, "runc "+version+" predates the fix for CVE-2024-21626 (1.1.12)"
	default:
		out.Reason = "runc " + version + " carries the fixes for CVE-2019-5736 and CVE-2024-21626"
	}
	return out
}
