package sandbox

import "testing"

func TestJudgeRunc(t *testing.T) {
	for _, tc := range []struct {
		name, version, build string
		vulnerable, known    bool
	}{
		{"current upstream", "1.2.5", "v1.2.5-0-g59923ef", false, true},
		{"first fixed 1.1", "1.1.12", "v1.1.12-0-g51d5e94", false, true},
		{"1.1 before the fix", "1.1.11", "v1.1.11-0-g4bccb38", true, true},
		{"debian bookworm patched", "1.1.5+ds1", "1.1.5+ds1-1+deb12u1", false, true},
		{"debian bookworm later revision", "1.1.5+ds1", "1.1.5+ds1-1+deb12u3", false, true},
		{"debian bookworm unpatched", "1.1.5+ds1", "1.1.5+ds1-1", true, true},
		{"release candidate before CVE-2019-5736", "1.0.0-rc6", "", true, true},
		{"1.0 final", "1.0.0", "", true, true},
		{"0.x", "0.1.1", "", true, true},
		{"vendor string", "custom-runtime", "", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := judgeRunc(tc.version, tc.build)
			if v.Vulnerable != tc.vulnerable || v.Known != tc.known || v.Reason == "" {
				t.Errorf("judgeRunc(%q, %q) = %+v", tc.version, tc.build, v)
			}
		})
	}
}
