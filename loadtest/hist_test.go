package loadtest

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestBucketRoundTrip(t *testing.T) {
	vals := []int64{0, 1, 127, 128, 129, 255, 256, 257, 1000, 1 << 20, 123456789, 1<<40 + 12345, math.MaxInt64}
	for _, v := range vals {
		i := bucketOf(v)
		if i < 0 || i >= bucketCount {
			t.Fatalf("bucketOf(%d) = %d out of range", v, i)
		}
		lo, hi := bucketRange(i)
		if v < lo || v > hi {
			t.Errorf("value %d in bucket %d [%d,%d]", v, i, lo, hi)
		}
		if v >= subCount && float64(hi-lo) > float64(lo)/subCount {
			t.Errorf("bucket %d [%d,%d] wider than 1/%d", i, lo, hi, subCount)
		}
	}
	// Buckets tile the value range without gaps.
	for i := 1; i < bucketOf(math.MaxInt64); i++ {
		_, prevHi := bucketRange(i - 1)
		lo, _ := bucketRange(i)
		if lo != prevHi+1 {
			t.Fatalf("gap between bucket %d (hi %d) and %d (lo %d)", i-1, prevHi, i, lo)
		}
	}
}

func TestQuantilesWithinPrecision(t *testing.T) {
	tests := []struct {
		name string
		gen  func(r *rand.Rand) int64
	}{
		{"uniform-ms", func(r *rand.Rand) int64 { return r.Int64N(10_000_000) }},
		{"exp-latency", func(r *rand.Rand) int64 { return int64(r.ExpFloat64() * 2e6) }},
		{"small", func(r *rand.Rand) int64 { return r.Int64N(200) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			h := NewHistogram()
			var vals []int64
			for range 100_000 {
				v := tc.gen(r)
				vals = append(vals, v)
				h.Record(v)
			}
			slices.Sort(vals)
			for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
				exact := vals[int(math.Ceil(q*float64(len(vals))))-1]
				got := h.Quantile(q)
				if d := math.Abs(float64(got - exact)); d > float64(exact)/subCount+1 {
					t.Errorf("q%.3f: got %d, exact %d", q, got, exact)
				}
			}
			if h.Min() != vals[0] || h.Max() != vals[len(vals)-1] {
				t.Errorf("min/max %d/%d, want %d/%d", h.Min(), h.Max(), vals[0], vals[len(vals)-1])
			}
			if h.Count() != uint64(len(vals)) {
				t.Errorf("count %d", h.Count())
			}
		})
	}
}

func TestMergeAndEmpty(t *testing.T) {
	a, b := NewHistogram(), NewHistogram()
	if a.Quantile(0.5) != 0 || a.Min() != 0 || a.Mean() != 0 {
		t.Fatal("empty histogram must report zeros")
	}
	for i := int64(1); i <= 100; i++ {
		a.Record(i * 1000)
		b.Record(i * 1000_000)
	}
	a.Record(-5) // clamps to 0
	a.Merge(b)
	a.Merge(nil)
	if a.Count() != 201 || a.Min() != 0 || a.Max() != 100_000_000 {
		t.Fatalf("merged count/min/max = %d/%d/%d", a.Count(), a.Min(), a.Max())
	}
	s := a.Summary()
	if s.MaxMs != 100 || s.P50Ms < 0.09 || s.P50Ms > 1.1 {
		t.Fatalf("summary %+v", s)
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	h := NewHistogram()
	for i := 0; b.Loop(); i++ {
		h.Record(int64(i) * 7919)
	}
}
