package imagebuilder

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateRequirements(t *testing.T) {
	tests := []struct {
		name     string
		text     string
		wantLine int    // 0: accepted
		reason   string // part of the reason when refused
	}{
		{name: "empty", text: ""},
		{name: "pinned", text: "Jinja2==2.7.2"},
		{name: "range", text: "requests>=2,<3"},
		{name: "extras and compatible release", text: "pkg[extra1,extra2]~=1.0"},
		{name: "environment marker", text: `foo; python_version >= "3.8"`},
		{name: "version and marker", text: `foo==1.0 ; sys_platform == 'linux'`},
		{name: "parenthesised specifier", text: "foo (>=1.0,<2)"},
		{name: "bare name", text: "six"},
		{name: "comment lines", text: "# pinned for the report\nsix==1.16.0\n   # indented comment"},
		{name: "trailing comment", text: "six==1.16.0  # why\nidna\t# tab comment"},
		{name: "blank lines", text: "\n\nsix\n\n\nidna\n"},
		{name: "CRLF", text: "six==1.16.0\r\nidna>=3\r\n# c\r\n\r\n"},
		{name: "several lines", text: "Jinja2==2.7.2\nrequests>=2,<3\npkg[extra1,extra2]~=1.0\n"},

		{name: "nested requirements file", text: "-r other.txt", wantLine: 1, reason: "pip options"},
		{name: "index url", text: "six\n--index-url http://x", wantLine: 2, reason: "pip options"},
		{name: "extra index url with equals", text: "--extra-index-url=http://x", wantLine: 1, reason: "pip options"},
		{name: "editable", text: "six\n\n-e .", wantLine: 3, reason: "pip options"},
		{name: "vcs url", text: "git+https://github.com/x/y.git", wantLine: 1, reason: "URLs"},
		{name: "direct reference", text: "six\npkg @ https://x/y.whl", wantLine: 2, reason: "URLs"},
		{name: "direct reference to a file", text: "pkg@file:///etc/passwd", wantLine: 1, reason: "URLs"},
		{name: "relative path", text: "./local", wantLine: 1, reason: "paths"},
		{name: "parent path", text: "../up", wantLine: 1, reason: "paths"},
		{name: "absolute path", text: "# c\n/abs/path", wantLine: 2, reason: "paths"},
		{name: "home path", text: "~/pkg", wantLine: 1, reason: "paths"},
		{name: "line continuation", text: "foo \\\n--index-url=x", wantLine: 1, reason: "continuations"},
		{name: "continuation after CRLF line", text: "six\r\nfoo \\\r\n", wantLine: 2, reason: "continuations"},
		{name: "garbage", text: "six\nidna\nfoo bar", wantLine: 3, reason: "not a PEP 508 requirement"},
		{name: "environment variable", text: "foo==${VERSION}", wantLine: 1, reason: "not a PEP 508"},
		{name: "per-requirement option", text: "foo==1.0 --hash=sha256:abc", wantLine: 1, reason: "pip options"},
		{name: "too long", text: strings.Repeat("a", maxRequirementLine+1), wantLine: 1, reason: "longer than"},
		{name: "too many lines", text: strings.Repeat("six\n", maxRequirementLines+1), wantLine: maxRequirementLines + 1, reason: "more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateRequirements(tt.text)
			if tt.wantLine == 0 {
				if err != nil {
					t.Fatalf("ValidateRequirements(%q) = %v, want nil", tt.text, err)
				}
				return
			}
			var re *RequirementError
			if !errors.As(err, &re) {
				t.Fatalf("ValidateRequirements(%q) = %v, want a *RequirementError", tt.text, err)
			}
			if re.Line != tt.wantLine {
				t.Errorf("line = %d, want %d (%v)", re.Line, tt.wantLine, err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q does not mention %q", err, tt.reason)
			}
		})
	}
}

// TestValidateRequirementsLineCount checks the boundary of the line limit: a file of exactly
// maxRequirementLines lines must be accepted, whether or not it ends with a newline.
func TestValidateRequirementsLineCount(t *testing.T) {
	tests := []struct {
		name string
		text string
		ok   bool
	}{
		{name: "limit without final newline", text: strings.TrimSuffix(strings.Repeat("six\n", maxRequirementLines), "\n"), ok: true},
		{name: "limit with final newline", text: strings.Repeat("six\n", maxRequirementLines), ok: true},
		{name: "over the limit", text: strings.Repeat("six\n", maxRequirementLines+1), ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateRequirements(tt.text)
			if (err == nil) != tt.ok {
				t.Errorf("ValidateRequirements(%d lines) = %v, want ok=%v", strings.Count(tt.text, "\n")+1, err, tt.ok)
			}
		})
	}
}

// TestOptionsAfterMarkers: pip parses options after a requirement's marker; they are refused.
func TestOptionsAfterMarkers(t *testing.T) {
	for _, line := range []string{
		`requests ; python_version>"3" --config-settings="--build-option=--foo"`,
		`six ; os_name=="posix" --global-option=build_ext`,
		`six==1.16 --hash=sha256:abc`,
		`six ; os_name=="posix" --index-url=http://evil/simple`,
	} {
		if err := ValidateRequirements(line + "\n"); err == nil {
			t.Errorf("accepted %q", line)
		}
	}
	if err := ValidateRequirements(`foo; platform_machine != "x86-64"` + "\n"); err != nil {
		t.Errorf("a hyphen inside a marker value was refused: %v", err)
	}
}
