package report

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// exactLatency is the reference: nearest-rank percentiles of the sorted
// observations (the ⌈p·N/100⌉-th smallest) and buckets by a linear scan.
func exactLatency(ds []time.Duration) Latency {
	s := slices.Clone(ds)
	for i := range s {
		s[i] = max(s[i], 0)
	}
	slices.Sort(s)
	l := Latency{Count: len(s)}
	for _, b := range bucketBounds {
		l.Buckets = append(l.Buckets, Bucket{Le: Seconds(b.Seconds())})
	}
	l.Buckets = append(l.Buckets, Bucket{Inf: true})
	for _, d := range s {
		i := len(bucketBounds)
		for j, b := range bucketBounds {
			if d <= b {
				i = j
				break
			}
		}
		l.Buckets[i].Count++
	}
	if len(s) == 0 {
		return l
	}
	rank := func(p float64) time.Duration {
		k := int(math.Ceil(p / 100 * float64(len(s))))
		return s[max(k, 1)-1]
	}
	l.P50 = Seconds(rank(50).Seconds())
	l.P90 = Seconds(rank(90).Seconds())
	l.P99 = Seconds(rank(99).Seconds())
	l.Max = Seconds(s[len(s)-1].Seconds())
	return l
}

func equalLatency(a, b Latency) bool {
	return a.Count == b.Count && a.P50 == b.P50 && a.P90 == b.P90 && a.P99 == b.P99 && a.Max == b.Max && slices.Equal(a.Buckets, b.Buckets)
}

func observe(ds []time.Duration) *Histogram {
	var h Histogram
	for _, d := range ds {
		h.Observe(d)
	}
	return &h
}

func seq(n int, f func(i int) time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

func TestHistogramExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	ms := time.Millisecond
	for _, tc := range []struct {
		name string
		ds   []time.Duration
	}{
		{"none", nil},
		{"one", []time.Duration{3 * ms}},
		{"two", []time.Duration{5 * ms, 1 * ms}},
		{"negative", []time.Duration{-time.Second, 2 * ms}},
		{"zero", []time.Duration{0, 0, 0}},
		{"on the bounds", []time.Duration{100 * time.Microsecond, 250 * time.Microsecond, time.Second, 10 * time.Second, 10*time.Second + 1}},
		{"1..100", seq(100, func(i int) time.Duration { return time.Duration(i+1) * ms })},
		{"101 reversed", seq(101, func(i int) time.Duration { return time.Duration(101-i) * ms })},
		{"duplicates", seq(1000, func(i int) time.Duration { return time.Duration(i%7) * ms })},
		{"huge", []time.Duration{math.MaxInt64, 1, math.MaxInt64}},
		{"random", seq(10_000, func(int) time.Duration { return time.Duration(rng.ExpFloat64() * float64(30*ms)) })},
		{"at the cap", seq(ExactCap, func(int) time.Duration { return time.Duration(rng.Int64N(int64(time.Second))) })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := observe(tc.ds)
			got, want := h.Latency(), exactLatency(tc.ds)
			if !equalLatency(got, want) {
				t.Errorf("Latency() = %+v\nwant %+v", got, want)
			}
			if len(got.Buckets) != len(bucketBounds)+1 || !got.Buckets[len(got.Buckets)-1].Inf {
				t.Errorf("buckets %+v", got.Buckets)
			}
			if h.fine != nil {
				t.Error("spilled at or below the cap")
			}
			// Asking again, or in another order, changes nothing.
			if again := h.Latency(); !equalLatency(got, again) {
				t.Error("second Latency() differs")
			}
			shuffled := slices.Clone(tc.ds)
			rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			if other := observe(shuffled).Latency(); !equalLatency(got, other) {
				t.Error("order of observations changes the result")
			}
		})
	}
}

func TestNearestRank(t *testing.T) {
	for _, tc := range []struct{ n, p, want uint64 }{
		{1, 50, 1}, {1, 99, 1}, {2, 50, 1}, {3, 50, 2}, {10, 90, 9}, {11, 90, 10},
		{100, 99, 99}, {101, 99, 100}, {1000, 50, 500}, {1001, 50, 501},
		{math.MaxUint64, 100, math.MaxUint64}, {math.MaxUint64, 50, math.MaxUint64/2 + 1},
	} {
		if got := nearestRank(tc.n, tc.p); got != tc.want {
			t.Errorf("nearestRank(%d, %d) = %d, want %d", tc.n, tc.p, got, tc.want)
		}
	}
}

func TestFineBuckets(t *testing.T) {
	// Every value falls in the bucket whose range holds it, indices are
	// monotonic and in range, and the width is within 1/128 of the value.
	prev := -1
	for _, v := range []int64{0, 1, 255, 256, 257, 511, 512, 1000, 1 << 20, 123456789, math.MaxInt64 - 1, math.MaxInt64} {
		i := fineIndex(time.Duration(v))
		if i < 0 || i >= fineLen || i < prev {
			t.Fatalf("fineIndex(%d) = %d (prev %d, len %d)", v, i, prev, fineLen)
		}
		prev = i
		lo, hi := fineRange(i)
		if int64(lo) > v || int64(hi) < v {
			t.Errorf("value %d in bucket %d [%d, %d]", v, i, lo, hi)
		}
		if float64(hi-lo) > float64(lo)/128 {
			t.Errorf("bucket %d [%d, %d] too wide", i, lo, hi)
		}
	}
	if lo, hi := fineRange(fineLen - 1); hi != math.MaxInt64 || lo <= 0 {
		t.Errorf("last bucket [%d, %d]", lo, hi)
	}
}

func TestHistogramBeyondCap(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	// Log-uniform from 1 µs to 10 s, plus a spike.
	ds := seq(3*ExactCap, func(i int) time.Duration {
		if i%10 == 0 {
			return 42 * time.Millisecond
		}
		return time.Duration(math.Exp(rng.Float64()*math.Log(1e7)) * float64(time.Microsecond))
	})
	var h Histogram
	for i, d := range ds {
		h.Observe(d)
		if i == ExactCap && (h.sample != nil || len(h.fine) != fineLen) {
			t.Fatalf("after %d observations: sample %d, fine %d", i+1, len(h.sample), len(h.fine))
		}
	}
	got, want := h.Latency(), exactLatency(ds)
	if got.Count != want.Count || got.Max != want.Max || !slices.Equal(got.Buckets, want.Buckets) {
		t.Errorf("count, max or buckets inexact: %+v\nwant %+v", got, want)
	}
	for _, p := range []struct {
		name      string
		got, want Seconds
	}{{"P50", got.P50, want.P50}, {"P90", got.P90, want.P90}, {"P99", got.P99, want.P99}} {
		if e := math.Abs(float64(p.got-p.want)) / float64(p.want); e > 0.004 {
			t.Errorf("%s = %v, exact %v: relative error %.4f > 0.4%%", p.name, p.got, p.want, e)
		}
	}
	// Memory stays bounded: no sample, one fixed array.
	if h.sample != nil || len(h.fine) != fineLen || cap(h.fine) != fineLen {
		t.Errorf("sample %d, fine %d/%d", len(h.sample), len(h.fine), cap(h.fine))
	}
	if h.Count() != len(ds) {
		t.Errorf("Count() = %d", h.Count())
	}
}

func TestHistogramMerge(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	gen := func(n int) []time.Duration {
		return seq(n, func(int) time.Duration { return time.Duration(rng.Int64N(int64(3 * time.Second))) })
	}
	for _, tc := range []struct {
		name string
		a, b int
	}{
		{"empty into empty", 0, 0},
		{"into empty", 0, 100},
		{"empty into", 100, 0},
		{"small", 1000, 2000},
		{"to exactly the cap", ExactCap - 10, 10},
		{"across the cap", ExactCap - 10, 11},
		{"spilled into small", 10, ExactCap + 5},
		{"small into spilled", ExactCap + 5, 10},
		{"both spilled", ExactCap + 1, ExactCap + 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			da, db := gen(tc.a), gen(tc.b)
			ha, hb := observe(da), observe(db)
			bBefore := hb.Latency()
			ha.Merge(hb)
			all := observe(append(slices.Clone(da), db...))
			if got, want := ha.Latency(), all.Latency(); !equalLatency(got, want) {
				t.Errorf("merged %+v\nwant  %+v", got, want)
			}
			if tc.a+tc.b <= ExactCap {
				if got, want := ha.Latency(), exactLatency(append(da, db...)); !equalLatency(got, want) {
					t.Errorf("merged below the cap is not exact: %+v\nwant %+v", got, want)
				}
			}
			if after := hb.Latency(); !equalLatency(bBefore, after) {
				t.Error("Merge changed its argument")
			}
		})
	}

	h := observe([]time.Duration{time.Millisecond, 3 * time.Millisecond})
	h.Merge(nil)
	h.Merge(h)
	want := exactLatency([]time.Duration{time.Millisecond, 3 * time.Millisecond, time.Millisecond, 3 * time.Millisecond})
	if got := h.Latency(); !equalLatency(got, want) {
		t.Errorf("self-merge: %+v\nwant %+v", got, want)
	}
}

func TestHistogramZero(t *testing.T) {
	var h Histogram
	l := h.Latency()
	if l.Count != 0 || l.P50 != 0 || l.P90 != 0 || l.P99 != 0 || l.Max != 0 || len(l.Buckets) != 17 {
		t.Errorf("empty Latency() = %+v", l)
	}
	if l.Buckets[0].Le != 0.0001 || l.Buckets[15].Le != 10 || !l.Buckets[16].Inf || l.Buckets[16].Le != 0 {
		t.Errorf("bounds %+v", l.Buckets)
	}
}

func BenchmarkHistogramObserve(b *testing.B) {
	ds := seq(1<<16, func(i int) time.Duration { return time.Duration(i*7919%100000) * time.Microsecond })
	b.Run("exact", func(b *testing.B) { // below ExactCap: the sample grows
		var h Histogram
		i := 0
		for b.Loop() {
			if h.n == ExactCap {
				h = Histogram{}
			}
			h.Observe(ds[i&(len(ds)-1)])
			i++
		}
	})
	b.Run("spilled", func(b *testing.B) { // beyond ExactCap: fine counters
		var h Histogram
		for _, d := range seq(ExactCap+1, func(i int) time.Duration { return ds[i&(len(ds)-1)] }) {
			h.Observe(d)
		}
		i := 0
		for b.Loop() {
			h.Observe(ds[i&(len(ds)-1)])
			i++
		}
	})
}
