package faaspot

// Usage metering. Every terminal execution adds to its tenant's usage of the UTC day its
// terminal record was written: one run of its status, and the resources of all its attempts
// (ExecUsage). Every build that ran adds one build and its seconds on the day it ended.

// ExecUsage is the resources an execution used, summed over its attempts (a retried run's
// attempts all count): WallMS the function's own time, CPUMS its container's CPU time, GBSeconds
// its memory limit in GiB times its own time.
type ExecUsage struct {
	WallMS    float64 `json:"wall_ms"`
	CPUMS     float64 `json:"cpu_ms"`
	GBSeconds float64 `json:"gb_seconds"`
}

// Add counts one more attempt: its duration and CPU time (ms) and its memory limit (bytes).
func (u *ExecUsage) Add(durationMS, cpuMS float64, memoryBytes int64) {
	u.WallMS += durationMS
	u.CPUMS += cpuMS
	u.GBSeconds += float64(memoryBytes) / (1 << 30) * durationMS / 1000
}

// UsageRuns counts terminal runs by status.
type UsageRuns struct {
	Completed int64 `json:"completed"`
	Failed    int64 `json:"failed"`
	Timeout   int64 `json:"timeout"`
}

// UsageDay is a tenant's usage of one UTC day (Date, YYYY-MM-DD), or of a range (Usage.Total,
// without a date).
type UsageDay struct {
	Date         string    `json:"date,omitempty"`
	Runs         UsageRuns `json:"runs"`
	WallSeconds  float64   `json:"wall_seconds"`
	GBSeconds    float64   `json:"gb_seconds"`
	CPUSeconds   float64   `json:"cpu_seconds"`
	Builds       int64     `json:"builds"`
	BuildsFailed int64     `json:"builds_failed"`
	BuildSeconds float64   `json:"build_seconds"`
}

// Plus returns the sum of d and o, without a date.
func (d UsageDay) Plus(o UsageDay) UsageDay {
	return UsageDay{
		Runs: UsageRuns{Completed: d.Runs.Completed + o.Runs.Completed, Failed: d.Runs.Failed + o.Runs.Failed,
			Timeout: d.Runs.Timeout + o.Runs.Timeout},
		WallSeconds: d.WallSeconds + o.WallSeconds, GBSeconds: d.GBSeconds + o.GBSeconds,
		CPUSeconds: d.CPUSeconds + o.CPUSeconds, Builds: d.Builds + o.Builds,
		BuildsFailed: d.BuildsFailed + o.BuildsFailed, BuildSeconds: d.BuildSeconds + o.BuildSeconds,
	}
}

// Usage is a tenant's usage over the UTC days From to To (YYYY-MM-DD, both included): one entry
// per day, oldest first, days without use included, and their Total. BytesStored is measured
// when asked, not per day: the bytes of the tenant's execution records and summaries and its
// deployment and version records held in the store now (images on the engines not included).
type Usage struct {
	Tenant      string     `json:"tenant"`
	From        string     `json:"from"`
	To          string     `json:"to"`
	Days        []UsageDay `json:"days"`
	Total       UsageDay   `json:"total"`
	BytesStored int64      `json:"bytes_stored"`
}
