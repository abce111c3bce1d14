package sandbox

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/system"
)

// RuntimeVerdict says whether the engine's default runtime is a runc known to carry the fixes for
// the container escapes of runcAdvisories.
type RuntimeVerdict struct {
	Version string // as the engine reports it, e.g. "1.1.5+ds1" (build "1.1.5+ds1-1+deb12u1")
	// Vulnerable: known to lack a fix (Known is then true as well).
	Vulnerable bool
	// Known is false when the runtime was not judged: the default runtime is not runc, or its
	// version is not reported or cannot be parsed, or it is a distribution build that may carry
	// backports this package does not know of. Reason says which.
	Known  bool
	Reason string
}

// runtimeInspector is the two Engine calls the check needs; *client.Client satisfies it.
type runtimeInspector interface {
	Info(ctx context.Context) (system.Info, error)
	ServerVersion(ctx context.Context) (types.Version, error)
}

// CheckRuntime judges the engine's default runtime, the one that runs a container created
// without a runtime: a runc by its version (see judgeRunc); any other runtime is not judged
// (Known false). It returns an error wrapping ErrEngine when the engine does not answer.
func CheckRuntime(ctx context.Context, docker runtimeInspector) (RuntimeVerdict, error) {
	info, err := docker.Info(ctx)
	if err != nil {
		return RuntimeVerdict{}, fmt.Errorf("engine info: %w: %w", ErrEngine, err)
	}
	v, err := docker.ServerVersion(ctx)
	if err != nil {
		return RuntimeVerdict{}, fmt.Errorf("engine version: %w: %w", ErrEngine, err)
	}
	name := info.DefaultRuntime
	if name == "" {
		name = "runc" // engines older than the field ran runc only
	}
	return judgeDefaultRuntime(name, info.Runtimes, v.Components), nil
}

// judgeDefaultRuntime judges runtime name, as the engine lists it in runtimes, from the
// components of the engine's version: engines since 23.0 report the default runtime's version
// under its name; older ones report the runc on their PATH as "runc", which says nothing of a
// default runtime running another binary.
func judgeDefaultRuntime(name string, runtimes map[string]system.RuntimeWithStatus, components []types.ComponentVersion) RuntimeVerdict {
	rt := runtimes[name].Runtime
	bin := runtimeBinary(name, rt)
	if path.Base(bin) != "runc" {
		what := bin
		if what == "" {
			what = rt.Type
		}
		if what == "" {
			what = "not in the engine's list of runtimes"
		}
		return RuntimeVerdict{Reason: fmt.Sprintf("the engine's default runtime %q is not runc (%s): it is not judged for runc's container escapes", name, what)}
	}
	for _, c := range components {
		if strings.EqualFold(c.Name, name) || (bin == "runc" && strings.EqualFold(c.Name, "runc")) {
			return judgeRunc(c.Version, c.Details["GitCommit"])
		}
	}
	return RuntimeVerdict{Reason: fmt.Sprintf("the engine does not report the version of its default runtime %q (%s): it is not judged", name, bin)}
}

// runtimeBinary is the program an engine runtime runs: its path, the BinaryName of a runtime
// of containerd's runc shim (runc when unset, as for the engine's own "runc" and
// "io.containerd.runc.v2"), or "" for any other shim.
func runtimeBinary(name string, rt system.Runtime) string {
	if rt.Path != "" {
		return rt.Path
	}
	shim := rt.Type
	if shim == "" && (name == "runc" || name == "io.containerd.runc.v2") {
		shim = "io.containerd.runc.v2"
	}
	if shim != "io.containerd.runc.v2" {
		return ""
	}
	if b, ok := rt.Options["BinaryName"].(string); ok && b != "" {
		return b
	}
	return "runc"
}

// advisory is a runc container escape (or several disclosed together) and where it is fixed.
type advisory struct {
	cves string
	// fixed holds the first fixed release of each release line that got one, oldest first: a
	// version is fixed when it is at or after the entry of its line, or, on a line without an
	// entry, after every entry (so older lines, left without a fix, are not).
	fixed []string
	// backports are distribution builds of older releases known to carry the fix.
	backports []backport
	// unlistedBackports: a distribution build below the fix and not in backports may carry a
	// backport not listed here yet; it is not judged (Known false) rather than refused.
	unlistedBackports bool
}

// backport is a distribution's runc build carrying a fix on an older upstream version: the
// builds "<prefix><n>" of version with n >= firstFix carry it, those with a lower n do not.
type backport struct {
	version, prefix string
	firstFix        int
	source          string // the distribution's advisory
}

// runcAdvisories are the runc container escapes a worker checks for, oldest first.
var runcAdvisories = []advisory{
	{cves: "CVE-2019-5736", fixed: []string{"1.0.0-rc7"}},
	{cves: "CVE-2024-21626", fixed: []string{"1.1.12"},
		backports: []backport{{version: "1.1.5+ds1", prefix: "1.1.5+ds1-1+deb12u", firstFix: 1, source: "Debian DSA-5615-1"}}},
	// Disclosed on 2025-11-05 (GHSA-9493-h29p-rfm2, GHSA-qw9x-cqr3-wc7r, GHSA-cgrx-mc8f-2prm):
	// escapes through the /dev/null bind-mount of masked paths, the /dev/console bind-mount and
	// procfs write redirects; the 1.1 line and older got no fix. The fixed releases are those
	// named by the projects that shipped them (containerd, kops, buildah); the advisories
	// themselves were not read. No distribution backport is listed: Debian bookworm's
	// 1.1.5+ds1-1+deb12u1 (changelog of 2024-02-02, CVE-2024-21626 only) predates them, and
	// whether a later bookworm revision carries them is not known here.
	{cves: "CVE-2025-31133, CVE-2025-52565 and CVE-2025-52881", fixed: []string{"1.2.8", "1.3.3", "1.4.0-rc.3"},
		unlistedBackports: true},
}

// fixStatus is whether a runc build carries an advisory's fix.
type fixStatus int

const (
	fixUpstream   fixStatus = iota // its release has the fix
	fixBackported                  // a listed distribution build carries it
	fixMissing                     // known to lack it
	fixUnknown                     // a distribution build that may carry an unlisted backport
)

// status says whether runc v (reported as version, built as build; vendor when the version has
// a distribution suffix) carries a's fix, and for a backport, the advisory that shipped it.
func (a advisory) status(v runcVersion, vendor bool, version, build string) (fixStatus, string) {
	if a.fixedIn(v) {
		return fixUpstream, ""
	}
	for _, b := range a.backports {
		rev, ok := strings.CutPrefix(build, b.prefix)
		if n, err := strconv.Atoi(rev); version == b.version && ok && err == nil && n >= b.firstFix {
			return fixBackported, b.source
		}
	}
	if vendor && a.unlistedBackports {
		return fixUnknown, ""
	}
	return fixMissing, ""
}

// fixedIn says whether upstream release v carries a's fix (see advisory.fixed).
func (a advisory) fixedIn(v runcVersion) bool {
	for _, f := range a.fixed {
		if fv := mustParseRunc(f); fv.major == v.major && fv.minor == v.minor {
			return !v.less(fv)
		}
	}
	return !v.less(mustParseRunc(a.fixed[len(a.fixed)-1]))
}

// judgeRunc decides from the version and build strings the engine reports for runc. A version
// that cannot be parsed is not judged; one that lacks any fix of runcAdvisories is Vulnerable;
// a distribution build that may carry unlisted backports of a fix is not judged either.
func judgeRunc(version, build string) RuntimeVerdict {
	v, vendor, ok := parseRunc(version)
	if !ok {
		return RuntimeVerdict{Version: version, Reason: fmt.Sprintf("runc version %q cannot be parsed: it is not judged", version)}
	}
	var all, missing, unknown, backported []string
	for _, a := range runcAdvisories {
		fix := fmt.Sprintf("%s (fixed in %s)", a.cves, strings.Join(a.fixed, ", "))
		all = append(all, a.cves)
		switch status, source := a.status(v, vendor, version, build); status {
		case fixMissing:
			missing = append(missing, fix)
		case fixUnknown:
			unknown = append(unknown, fix)
		case fixBackported:
			backported = append(backported, fmt.Sprintf("the fix for %s backported by %s", a.cves, source))
		}
	}
	var notes []string
	if build != "" && build != version && !strings.HasPrefix(build, "v"+version) {
		notes = append(notes, "build "+build)
	}
	who := "runc " + version
	if notes = append(notes, backported...); len(notes) > 0 {
		who += " (" + strings.Join(notes, ", ") + ")"
	}
	switch {
	case len(missing) > 0:
		return RuntimeVerdict{Version: version, Vulnerable: true, Known: true,
			Reason: who + " lacks the fixes for " + strings.Join(missing, "; ")}
	case len(unknown) > 0:
		return RuntimeVerdict{Version: version, Reason: who + " is a distribution build not known to carry the fixes for " +
			strings.Join(unknown, "; ") + ": treat it as lacking them unless its distribution says otherwise"}
	}
	return RuntimeVerdict{Version: version, Known: true, Reason: who + " carries the fixes for " + strings.Join(all, ", ")}
}

// runcVersion is a runc release: major.minor.patch, rc > 0 for a release candidate.
type runcVersion struct{ major, minor, patch, rc int }

func (v runcVersion) less(w runcVersion) bool {
	if v.major != w.major || v.minor != w.minor || v.patch != w.patch {
		return v.major < w.major || (v.major == w.major && (v.minor < w.minor || (v.minor == w.minor && v.patch < w.patch)))
	}
	// A release candidate comes before its release.
	return v.rc != 0 && (w.rc == 0 || v.rc < w.rc)
}

// runcVersionRE matches the versions runc reports: 1.2.8, v1.1.12, 1.0.0-rc92, 1.4.0-rc.3, and
// distribution builds of them (1.1.5+ds1, 1.1.12-0ubuntu2~22.04.1).
var runcVersionRE = regexp.MustCompile(`^v?(\d{1,6})\.(\d{1,6})\.(\d{1,6})(?:-rc\.?(\d{1,6}))?([+~-].*)?$`)

// parseRunc parses a runc version; vendor is true when it carries a distribution's suffix.
func parseRunc(s string) (v runcVersion, vendor, ok bool) {
	m := runcVersionRE.FindStringSubmatch(s)
	if m == nil {
		return v, false, false
	}
	num := func(i int) int { n, _ := strconv.Atoi(m[i]); return n } // at most 6 digits
	return runcVersion{num(1), num(2), num(3), num(4)}, m[5] != "", true
}

// mustParseRunc parses a version of runcAdvisories.
func mustParseRunc(s string) runcVersion {
	v, _, ok := parseRunc(s)
	if !ok {
		panic("sandbox: bad runc version in runcAdvisories: " + s)
	}
	return v
}
