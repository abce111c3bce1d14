package cli

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/faaspot/faaspot"
)

// limitFlags are the resource flags of `fas deployments create`. A flag not given leaves its
// limit to the operator's default.
type limitFlags struct {
	memory  megabytes
	timeout seconds
	cpus    float64
}

func (l *limitFlags) register(fs *pflag.FlagSet) {
	fs.Var(&l.memory, "memory", `memory of a run in MiB: "256", or with a unit: "512M", "1G" (default: the server's)`)
	fs.Var(&l.timeout, "timeout", `time limit of a run: seconds ("30") or a duration ("90s", "5m") (default: the server's)`)
	fs.Float64Var(&l.cpus, "cpus", 0, "CPUs of a run, e.g. 0.5 or 2 (default: the server's)")
}

// limits returns the request's limits: nil when no flag was given (the operator's defaults).
func (l *limitFlags) limits(fs *pflag.FlagSet) (*faaspot.Limits, error) {
	if fs.Changed("cpus") && (!(l.cpus > 0) || math.IsInf(l.cpus, 0)) {
		return nil, usagef("--cpus must be more than 0, not %g", l.cpus)
	}
	if !fs.Changed("memory") && !fs.Changed("timeout") && !fs.Changed("cpus") {
		return nil, nil
	}
	return &faaspot.Limits{MemoryMB: int(l.memory), TimeoutS: int(l.timeout), CPUs: l.cpus}, nil
}

// megabytes is a pflag.Value of a memory size in MiB: a positive whole number, optionally with
// a unit M, MB, Mi, MiB, G, GB, Gi or GiB (all binary: 1G is 1024 MiB, as Docker counts).
type megabytes int

func (m *megabytes) String() string { return strconv.Itoa(int(*m)) }
func (m *megabytes) Type() string   { return "MiB" }

func (m *megabytes) Set(s string) error {
	v, err := parseMegabytes(s)
	if err != nil {
		return err
	}
	*m = megabytes(v)
	return nil
}

func parseMegabytes(s string) (int, error) {
	num := strings.TrimSpace(s)
	mult := 1
	upper := strings.ToUpper(num)
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"GIB", 1024}, {"GI", 1024}, {"GB", 1024}, {"G", 1024}, {"MIB", 1}, {"MI", 1}, {"MB", 1}, {"M", 1}} {
		if strings.HasSuffix(upper, u.suffix) {
			num, mult = strings.TrimSpace(num[:len(num)-len(u.suffix)]), u.mult
			break
		}
	}
	v, err := strconv.Atoi(num)
	if err != nil || v <= 0 || v > (1<<30)/mult {
		return 0, fmt.Errorf(`want a positive size in MiB such as "256", "512M" or "1G"`)
	}
	return v * mult, nil
}

// seconds is a pflag.Value of a time limit in whole seconds: "30" or a Go duration ("90s", "5m").
type seconds int

func (s *seconds) String() string { return strconv.Itoa(int(*s)) }
func (s *seconds) Type() string   { return "seconds" }

func (s *seconds) Set(text string) error {
	v, err := parseSeconds(text)
	if err != nil {
		return err
	}
	*s = seconds(v)
	return nil
}

func parseSeconds(text string) (int, error) {
	text = strings.TrimSpace(text)
	if n, err := strconv.Atoi(text); err == nil {
		if n <= 0 {
			return 0, fmt.Errorf("want a positive number of seconds")
		}
		return n, nil
	}
	d, err := time.ParseDuration(text)
	if err != nil || d < time.Second || d%time.Second != 0 || d > 1<<30*time.Second {
		return 0, fmt.Errorf(`want whole seconds, 1 or more: "30", "90s" or "5m"`)
	}
	return int(d / time.Second), nil
}
