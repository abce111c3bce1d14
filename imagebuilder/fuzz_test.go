package imagebuilder

import (
	"strings"
	"testing"
)

// FuzzValidateRequirements: whatever is accepted holds no pip option, URL, direct reference or
// path on any line pip would read.
func FuzzValidateRequirements(f *testing.F) {
	for _, seed := range []string{
		"Jinja2==2.7.2\n", "requests>=2,<3 # comment\n", "pkg[extra]~=1.0; python_version >= \"3.8\"\n",
		"-r other.txt\n", "--index-url http://evil/simple\n", "pkg @ https://x/y.whl\n", "git+https://x\n",
		"./local\n", "foo \\\n", "a==1\r\nb==2\r\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if ValidateRequirements(text) != nil {
			return
		}
		for _, raw := range strings.Split(text, "\n") {
			line := stripComment(raw)
			if strings.HasPrefix(line, "-") || hasOptionToken(line) || strings.Contains(line, "://") || strings.Contains(line, "@") ||
				strings.HasPrefix(line, ".") || strings.HasPrefix(line, "/") || strings.HasSuffix(line, "\\") {
				t.Fatalf("accepted a dangerous line %q", raw)
			}
		}
	})
}
