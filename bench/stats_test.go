package bench

import (
	"slices"
	"testing"
	"time"
)

// millis returns n durations of 1, 2, ... n milliseconds, in the order given by perm (or
// ascending when perm is nil).
func millis(n int, perm func(int) int) []time.Duration {
	ds := make([]time.Duration, n)
	for i := range n {
		j := i
		if perm != nil {
			j = perm(i)
		}
		ds[j] = time.Duration(i+1) * time.Millisecond
	}
	return ds
}

func TestSummarize(t *testing.T) {
	reversed := func(n int) func(int) int { return func(i int) int { return n - 1 - i } }
	tests := []struct {
		name string
		in   []time.Duration
		want summary
	}{
		{name: "empty", in: nil, want: summary{}},
		{name: "one sample", in: []time.Duration{3 * time.Millisecond},
			want: summary{N: 1, P50: 3, P95: 3, P99: 3, Min: 3, Max: 3, Mean: 3}},
		{name: "ten samples: nearest rank rounds up", in: millis(10, nil),
			want: summary{N: 10, P50: 5, P95: 10, P99: 10, Min: 1, Max: 10, Mean: 5.5}},
		{name: "hundred samples, reversed", in: millis(100, reversed(100)),
			want: summary{N: 100, P50: 50, P95: 95, P99: 99, Min: 1, Max: 100, Mean: 50.5}},
		{name: "two samples: p50 is the lower", in: []time.Duration{4 * time.Millisecond, 2 * time.Millisecond},
			want: summary{N: 2, P50: 2, P95: 4, P99: 4, Min: 2, Max: 4, Mean: 3}},
		{name: "microseconds kept, nanoseconds dropped", in: []time.Duration{1500 * time.Microsecond, 999 * time.Nanosecond},
			want: summary{N: 2, P50: 0, P95: 1.5, P99: 1.5, Min: 0, Max: 1.5, Mean: 0.75}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.in)
			if got := summarize(in); got != tt.want {
				t.Errorf("summarize = %+v, want %+v", got, tt.want)
			}
			if !slices.Equal(in, tt.in) {
				t.Errorf("summarize reordered its input: %v, was %v", in, tt.in)
			}
		})
	}
}

func TestRatio(t *testing.T) {
	tests := []struct {
		name string
		a, b float64
		want float64
	}{
		{name: "plain", a: 3, b: 2, want: 1.5},
		{name: "zero numerator", a: 0, b: 2, want: 0},
		{name: "zero denominator is 0, not Inf", a: 3, b: 0, want: 0},
		{name: "both zero is 0, not NaN", a: 0, b: 0, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ratio(tt.a, tt.b); got != tt.want {
				t.Errorf("ratio(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func TestMedians(t *testing.T) {
	tests := []struct {
		name            string
		in              []memSample
		usage, rss, raw float64
		all             []float64
	}{
		{name: "none", in: nil},
		{name: "one", in: []memSample{{usage: 5, rss: 4, raw: 9}}, usage: 5, rss: 4, raw: 9, all: []float64{5}},
		{name: "odd count: the middle of each figure on its own",
			in:    []memSample{{usage: 30, rss: 1, raw: 200}, {usage: 10, rss: 3, raw: 100}, {usage: 20, rss: 2, raw: 300}},
			usage: 20, rss: 2, raw: 200, all: []float64{30, 10, 20}},
		{name: "even count: the upper middle",
			in:    []memSample{{usage: 4}, {usage: 1}, {usage: 3}, {usage: 2}},
			usage: 3, all: []float64{4, 1, 3, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			usage, rss, raw, all := medians(tt.in)
			if usage != tt.usage || rss != tt.rss || raw != tt.raw {
				t.Errorf("medians = usage %v, rss %v, raw %v; want %v, %v, %v", usage, rss, raw, tt.usage, tt.rss, tt.raw)
			}
			if !slices.Equal(all, tt.all) {
				t.Errorf("samples = %v, want %v (in the order read)", all, tt.all)
			}
		})
	}
}
