package imagebuilder

import (
	"fmt"
	"regexp"
	"strings"
)

// Requirement size limits.
const (
	maxRequirementLines = 200
	maxRequirementLine  = 256
)

// requirementLine matches a plain PEP 508 requirement without URL: a name, optional extras,
// optional version specifiers and an optional environment marker.
var requirementLine = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?` +
	`(?:\s*\[\s*[A-Za-z0-9._-]+(?:\s*,\s*[A-Za-z0-9._-]+)*\s*\])?` +
	`(?:\s*\(?\s*(?:===|==|!=|<=|>=|~=|<|>)\s*[A-Za-z0-9.*+!_-]+\s*(?:,\s*(?:===|==|!=|<=|>=|~=|<|>)\s*[A-Za-z0-9.*+!_-]+\s*)*\)?)?` +
	`(?:\s*;\s*[A-Za-z0-9_.'"<>=!~ ()-]+)?\s*$`)

// RequirementError says which line of a requirements text is refused and why.
type RequirementError struct {
	Line   int
	Reason string
}

func (e *RequirementError) Error() string {
	return fmt.Sprintf("requirements line %d: %s", e.Line, e.Reason)
}

// ValidateRequirements accepts only plain PEP 508 requirement lines (comments and blank lines
// allowed). pip options (-r, -e, --index-url…), URLs, direct references and paths are refused,
// because they would let a tenant reach arbitrary hosts or files at build time. It returns a
// *RequirementError naming the first refused line.
func ValidateRequirements(text string) error {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) > maxRequirementLines {
		return &RequirementError{Line: maxRequirementLines + 1, Reason: fmt.Sprintf("more than %d lines", maxRequirementLines)}
	}
	for i, raw := range lines {
		n := i + 1
		line := stripComment(raw)
		switch {
		case line == "":
			continue
		case len(line) > maxRequirementLine:
			return &RequirementError{n, fmt.Sprintf("longer than %d characters", maxRequirementLine)}
		case strings.HasPrefix(line, "-") || hasOptionToken(line):
			return &RequirementError{n, "pip options are not allowed"}
		case strings.Contains(line, "://") || strings.Contains(line, "@"):
			return &RequirementError{n, "URLs and direct references are not allowed"}
		case strings.ContainsAny(line[:1], "./~\\") || strings.HasSuffix(line, "\\"):
			return &RequirementError{n, "paths and line continuations are not allowed"}
		case !requirementLine.MatchString(line):
			return &RequirementError{n, fmt.Sprintf("%q is not a PEP 508 requirement", line)}
		}
	}
	return nil
}

// hasOptionToken reports a white-space separated token starting with "-": pip reads such a token
// after a requirement (even after its marker) as a per-requirement option.
func hasOptionToken(line string) bool {
	for _, tok := range strings.Fields(line) {
		if strings.HasPrefix(strings.TrimLeft(tok, "\"'("), "-") {
			return true
		}
	}
	return false
}

// stripComment removes a trailing "#" comment (pip's rule: "#" at line start or after white space).
func stripComment(line string) string {
	line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
	if strings.HasPrefix(line, "#") {
		return ""
	}
	if i := strings.Index(line, " #"); i >= 0 {
		line = line[:i]
	}
	if i := strings.Index(line, "\t#"); i >= 0 {
		line = line[:i]
	}
	return strings.TrimSpace(line)
}
