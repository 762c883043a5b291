package report

import (
	"math"
	"math/bits"
	"slices"
	"time"
)

// bucketBounds are the upper bounds (inclusive) of the latency histogram's
// buckets, ascending; a last bucket, +Inf, follows them.
var bucketBounds = [...]time.Duration{
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	1 * time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	1 * time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

// ExactCap is how many observations a Histogram keeps verbatim. Up to
// ExactCap observations its percentiles are exact; beyond, they are
// estimated (see Histogram).
const ExactCap = 100_000

// The fine log-bucketing used beyond ExactCap, HDR-like: values below
// 2·fineSub nanoseconds each have their own bucket; above, every power of
// two [2^k, 2^(k+1)) is split into fineSub equal buckets, so a bucket's
// width is at most 1/fineSub (0.78 %) of its lower bound.
const (
	fineBits = 7
	fineSub  = 1 << fineBits // sub-buckets per power of two
	// fineLen buckets cover every non-negative int64: 2·fineSub exact
	// ones, then fineSub per power of two from 2^(fineBits+1) to 2^62.
	fineLen = 2*fineSub + (63-fineBits-1)*fineSub
)

// Histogram accumulates request → response latencies and summarises them
// as a Latency. The zero value is empty and ready to use.
//
// Percentiles use the nearest-rank definition: the p-th percentile of N
// observations is the ⌈p·N/100⌉-th smallest (the smallest for N·p < 100).
// While the Histogram holds at most ExactCap observations it keeps them
// all and its percentiles are exact. When the count goes beyond ExactCap
// the observations are folded into a fixed log-bucketing (HDR-like, 128
// buckets per power of two) and the sample is dropped; from then on a
// percentile is the midpoint of the fine bucket holding the nearest-rank
// observation, clamped to the observed minimum and maximum: within 0.4 %
// of the exact value (and exact below 256 ns). Count, Max and the
// Buckets counts are always exact. Memory is bounded whatever the count:
// the sample (at most ExactCap durations, under 1 MiB with slice growth),
// then, instead of it, a fixed array of 7,296 counters (57 KiB).
//
// Negative durations count as 0. A Histogram is not safe for concurrent
// use; the caller serialises Observe, Merge and Latency.
type Histogram struct {
	n        uint64
	min, max time.Duration
	coarse   [len(bucketBounds) + 1]uint64 // the last is +Inf

	sample []time.Duration // every observation while n ≤ ExactCap
	sorted bool            // sample is sorted
	fine   []uint64        // fineLen counters once n > ExactCap; nil before
}

// Observe adds one latency. A negative d counts as 0.
func (h *Histogram) Observe(d time.Duration) {
	if d < 0 {
		d = 0
	}
	if h.n == 0 || d < h.min {
		h.min = d
	}
	if h.n == 0 || d > h.max {
		h.max = d
	}
	h.n++
	h.coarse[coarseIndex(d)]++
	if h.fine != nil {
		h.fine[fineIndex(d)]++
		return
	}
	h.sample = append(h.sample, d)
	h.sorted = false
	if h.n > ExactCap {
		h.spill()
	}
}

// Merge adds other's observations to h; other is not changed (merging h
// into itself doubles every count). A nil other is a no-op. The result is
// the same as observing both sets in one Histogram, except that once the
// combined count exceeds ExactCap the percentiles become estimates.
func (h *Histogram) Merge(other *Histogram) {
	if other == nil || other.n == 0 {
		return
	}
	if other == h {
		c := other.clone()
		other = &c
	}
	if h.n == 0 || other.min < h.min {
		h.min = other.min
	}
	if h.n == 0 || other.max > h.max {
		h.max = other.max
	}
	h.n += other.n
	for i, c := range other.coarse {
		h.coarse[i] += c
	}
	if h.fine == nil && other.fine == nil && h.n <= ExactCap {
		h.sample = append(h.sample, other.sample...)
		h.sorted = false
		return
	}
	if h.fine == nil {
		h.spill()
	}
	if other.fine != nil {
		for i, c := range other.fine {
			h.fine[i] += c
		}
	} else {
		for _, d := range other.sample {
			h.fine[fineIndex(d)]++
		}
	}
}

// Latency summarises the observations: Count, nearest-rank P50, P90, P99
// (see Histogram for exactness), Max, and 17 Buckets with the fixed upper
// bounds 100µs, 250µs, 500µs, 1ms, 2.5ms, 5ms, 10ms, 25ms, 50ms, 100ms,
// 250ms, 500ms, 1s, 2.5s, 5s, 10s and +Inf (Le 0, Inf true); a bucket
// counts the observations d with previous bound < d ≤ Le (not
// cumulative). With no observations every number is 0 and the 17 buckets
// are still present. The result is deterministic: it depends only on the
// multiset of observations, not on their order or on how they were split
// among merged Histograms.
func (h *Histogram) Latency() Latency {
	l := Latency{Buckets: make([]Bucket, len(h.coarse))}
	for i := range h.coarse {
		b := Bucket{Count: clampInt(h.coarse[i])}
		if i < len(bucketBounds) {
			b.Le = Seconds(bucketBounds[i].Seconds())
		} else {
			b.Inf = true
		}
		l.Buckets[i] = b
	}
	if h.n == 0 {
		return l
	}
	l.Count = clampInt(h.n)
	l.P50 = Seconds(h.percentile(50).Seconds())
	l.P90 = Seconds(h.percentile(90).Seconds())
	l.P99 = Seconds(h.percentile(99).Seconds())
	l.Max = Seconds(h.max.Seconds())
	return l
}

// Count is the number of observations so far.
func (h *Histogram) Count() int { return clampInt(h.n) }

// percentile returns the nearest-rank p-th percentile (0 < p ≤ 100); h.n > 0.
func (h *Histogram) percentile(p uint64) time.Duration {
	rank := nearestRank(h.n, p)
	if h.fine == nil {
		if !h.sorted {
			slices.Sort(h.sample)
			h.sorted = true
		}
		return h.sample[rank-1]
	}
	var seen uint64
	for i, c := range h.fine {
		seen += c
		if seen >= rank {
			lo, hi := fineRange(i)
			v := lo + (hi-lo)/2
			return min(max(v, h.min), h.max)
		}
	}
	return h.max // unreachable: the counters sum to n
}

// nearestRank is ⌈p·n/100⌉, at least 1, computed without overflow.
func nearestRank(n, p uint64) uint64 {
	r := n/100*p + (n%100*p+99)/100
	return max(r, 1)
}

// spill moves the sample into the fine counters and drops it.
func (h *Histogram) spill() {
	h.fine = make([]uint64, fineLen)
	for _, d := range h.sample {
		h.fine[fineIndex(d)]++
	}
	h.sample = nil
	h.sorted = false
}

func (h *Histogram) clone() Histogram {
	c := *h
	c.sample = slices.Clone(h.sample)
	c.fine = slices.Clone(h.fine)
	return c
}

// coarseIndex is the index of the bucketBounds bucket holding d (the last,
// +Inf, when d exceeds every bound).
func coarseIndex(d time.Duration) int {
	i, _ := slices.BinarySearch(bucketBounds[:], d)
	return i // the first bound ≥ d, or len(bucketBounds)
}

// fineIndex is the fine bucket of a non-negative d.
func fineIndex(d time.Duration) int {
	v := uint64(d)
	if v < 2*fineSub {
		return int(v)
	}
	shift := bits.Len64(v) - fineBits - 1 // ≥ 1; v>>shift is in [fineSub, 2·fineSub)
	return 2*fineSub + (shift-1)*fineSub + int(v>>shift) - fineSub
}

// fineRange is the smallest and largest value of fine bucket i.
func fineRange(i int) (lo, hi time.Duration) {
	if i < 2*fineSub {
		return time.Duration(i), time.Duration(i)
	}
	k := i - 2*fineSub
	shift := k/fineSub + 1
	mant := uint64(k%fineSub + fineSub)
	l := mant << shift
	h := l + (uint64(1) << shift) - 1
	if h > math.MaxInt64 {
		h = math.MaxInt64
	}
	return time.Duration(l), time.Duration(h)
}

// clampInt converts a count to int, saturating.
func clampInt(n uint64) int {
	if n > math.MaxInt {
		return math.MaxInt
	}
	return int(n)
}
