package bench

import (
	"sort"
	"time"
)

// summary is a latency distribution in milliseconds (nearest-rank percentiles).
type summary struct {
	N    int     `json:"n"`
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	Min  float64 `json:"min"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

func summarize(ds []time.Duration) summary {
	if len(ds) == 0 {
		return summary{}
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	pick := func(q float64) float64 {
		i := int(q*float64(len(s))+0.999999) - 1 // nearest rank: ceil(q*n)-1
		return ms(s[max(0, min(len(s)-1, i))])
	}
	return summary{N: len(s), P50: pick(0.50), P95: pick(0.95), P99: pick(0.99),
		Min: ms(s[0]), Max: ms(s[len(s)-1]), Mean: ms(sum / time.Duration(len(s)))}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// ratio is a/b, or 0 when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// medians returns the median usage, RSS and raw usage, and every usage sample.
func medians(ss []memSample) (usage, rss, raw float64, all []float64) {
	if len(ss) == 0 {
		return 0, 0, 0, nil
	}
	median := func(f func(memSample) float64) float64 {
		v := make([]float64, len(ss))
		for i, s := range ss {
			v[i] = f(s)
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	for _, s := range ss {
		all = append(all, s.usage)
	}
	return median(func(s memSample) float64 { return s.usage }), median(func(s memSample) float64 { return s.rss }),
		median(func(s memSample) float64 { return s.raw }), all
}
