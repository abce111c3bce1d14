package faaspot

import "testing"

// TestExecUsageAdd: each attempt adds its time and CPU time, and its memory limit (GiB) × its
// time (s) in GB-seconds.
func TestExecUsageAdd(t *testing.T) {
	var u ExecUsage
	u.Add(1500, 250, 512<<20) // 0.5 GiB for 1.5 s
	u.Add(500, 100, 2<<30)    // 2 GiB for 0.5 s
	if want := (ExecUsage{WallMS: 2000, CPUMS: 350, GBSeconds: 1.75}); u != want {
		t.Errorf("usage = %+v, want %+v", u, want)
	}
}

// TestUsageDayPlus: every counter adds up; the sum has no date.
func TestUsageDayPlus(t *testing.T) {
	a := UsageDay{Date: "2025-03-01", Runs: UsageRuns{Completed: 1, Failed: 2, Timeout: 3}, WallSeconds: 1,
		GBSeconds: 2, CPUSeconds: 3, Builds: 4, BuildsFailed: 1, BuildSeconds: 5}
	want := UsageDay{Runs: UsageRuns{Completed: 2, Failed: 4, Timeout: 6}, WallSeconds: 2, GBSeconds: 4,
		CPUSeconds: 6, Builds: 8, BuildsFailed: 2, BuildSeconds: 10}
	if got := a.Plus(a); got != want {
		t.Errorf("sum = %+v, want %+v", got, want)
	}
}
