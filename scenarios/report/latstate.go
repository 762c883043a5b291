package report

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// HistogramState is a Histogram as data, exactly: merging the Histograms
// restored from the states of several shards gives what one Histogram
// that observed every shard's latencies gives (the same Latency, byte for
// byte, while the total stays within ExactCap; the same estimates beyond).
type HistogramState struct {
	N      uint64   `json:"n"`
	Min    int64    `json:"min_ns"`
	Max    int64    `json:"max_ns"`
	Coarse []uint64 `json:"coarse"` // the 17 Latency bucket counts
	// Sample is every observation in nanoseconds, ascending, while N ≤
	// ExactCap; Fine, beyond, the non-zero fine buckets by index.
	Sample []int64      `json:"sample_ns,omitempty"`
	Fine   []FineBucket `json:"fine,omitempty"`
}

// FineBucket is the count of one fine bucket of a Histogram beyond
// ExactCap (docs/report.md, latency).
type FineBucket struct {
	I int    `json:"i"`
	N uint64 `json:"n"`
}

// LatencyState is a LatencySplit as data: every request, each type's and
// each span's Histogram. A shard's report carries it (Report.LatencyState)
// so that Merge can compute the merged fleet's latency, by type and over
// time, from the observations rather than from percentiles.
type LatencyState struct {
	All    HistogramState `json:"all"`
	ByType []TypedState   `json:"by_type,omitempty"` // sorted by type
	Width  int64          `json:"span_ns"`           // the length of a span
	Spans  []SpanState    `json:"spans,omitempty"`   // the spans with requests, ascending K
}

// TypedState is one request type's Histogram.
type TypedState struct {
	Type  string         `json:"type"`
	State HistogramState `json:"state"`
}

// SpanState is span K's Histogram: the requests sent K·Width to
// (K+1)·Width after the run's start.
type SpanState struct {
	K     int            `json:"k"`
	State HistogramState `json:"state"`
}

// State is h as data.
func (h *Histogram) State() HistogramState {
	st := HistogramState{N: h.n, Min: int64(h.min), Max: int64(h.max), Coarse: slices.Clone(h.coarse[:])}
	if h.fine != nil {
		for i, c := range h.fine {
			if c > 0 {
				st.Fine = append(st.Fine, FineBucket{I: i, N: c})
			}
		}
		return st
	}
	st.Sample = make([]int64, len(h.sample))
	for i, d := range h.sample {
		st.Sample[i] = int64(d)
	}
	slices.Sort(st.Sample)
	return st
}

// restoreHistogram checks st and makes the Histogram it describes.
func restoreHistogram(st HistogramState) (Histogram, error) {
	var h Histogram
	if len(st.Coarse) != len(h.coarse) {
		return h, fmt.Errorf("%d coarse buckets, want %d", len(st.Coarse), len(h.coarse))
	}
	var sum uint64
	for _, c := range st.Coarse {
		if sum+c < sum {
			return h, errors.New("coarse bucket counts overflow")
		}
		sum += c
	}
	if sum != st.N {
		return h, fmt.Errorf("coarse buckets count %d observations, n says %d", sum, st.N)
	}
	if st.N > 0 && (st.Min < 0 || st.Max < st.Min) {
		return h, fmt.Errorf("min %d ns, max %d ns: want 0 ≤ min ≤ max", st.Min, st.Max)
	}
	if len(st.Sample) > 0 && len(st.Fine) > 0 {
		return h, errors.New("both a sample and fine buckets")
	}
	copy(h.coarse[:], st.Coarse)
	h.n = st.N
	if st.N > 0 {
		h.min, h.max = time.Duration(st.Min), time.Duration(st.Max)
	}
	if st.N <= ExactCap {
		if uint64(len(st.Sample)) != st.N {
			return h, fmt.Errorf("%d observations in the sample, n says %d (at most %d are kept as a sample)", len(st.Sample), st.N, ExactCap)
		}
		h.sample = make([]time.Duration, len(st.Sample))
		var coarse [len(bucketBounds) + 1]uint64
		for i, v := range st.Sample {
			if v < st.Min || v > st.Max {
				return h, fmt.Errorf("observation %d ns outside min %d, max %d", v, st.Min, st.Max)
			}
			h.sample[i] = time.Duration(v)
			coarse[coarseIndex(time.Duration(v))]++
		}
		if coarse != h.coarse {
			return h, errors.New("the coarse buckets do not count the sample")
		}
		return h, nil
	}
	if len(st.Sample) > 0 {
		return h, fmt.Errorf("a sample of %d with n %d beyond %d: want fine buckets", len(st.Sample), st.N, ExactCap)
	}
	h.fine = make([]uint64, fineLen)
	last := -1
	var total uint64
	for _, b := range st.Fine {
		if b.I <= last || b.I >= fineLen {
			return h, fmt.Errorf("fine bucket %d: want ascending indexes below %d", b.I, fineLen)
		}
		if b.N == 0 || total+b.N < total {
			return h, fmt.Errorf("fine bucket %d: count %d", b.I, b.N)
		}
		last, total = b.I, total+b.N
		h.fine[b.I] = b.N
	}
	if total != st.N {
		return h, fmt.Errorf("fine buckets count %d observations, n says %d", total, st.N)
	}
	return h, nil
}

// State is l as data.
func (l *LatencySplit) State() *LatencyState {
	st := &LatencyState{All: l.all.State(), Width: int64(l.width)}
	types := make([]string, 0, len(l.byType))
	for t := range l.byType {
		types = append(types, t)
	}
	slices.Sort(types)
	for _, t := range types {
		st.ByType = append(st.ByType, TypedState{Type: t, State: l.byType[t].State()})
	}
	for k, h := range l.spans {
		if h != nil {
			st.Spans = append(st.Spans, SpanState{K: k, State: h.State()})
		}
	}
	return st
}

// maxSpanWidth bounds a LatencyState's span length (about 208 days: a
// run of 137 years in maxSlices spans), maxOffset how long after the
// merged run's start a shard's may be (73 years): their sums stay far
// from overflowing.
const (
	maxSpanWidth = int64(1) << 54
	maxOffset    = time.Duration(1) << 61
)

// MergeState adds the latencies of st, measured by a run that started
// offset (≥ 0) after l's start, to l. Every request counts in the total and
// its type's as if l had observed it. A span of st lands in the span of l
// that holds its start (offset + K·Width): exactly the same span when
// offset is 0 and the widths are equal, as they are for the shards of one
// fleet started together; l's spans double in length first if st's are
// longer. st is checked first: l is unchanged when it is refused.
func (l *LatencySplit) MergeState(st *LatencyState, offset time.Duration) error {
	if st == nil {
		return nil
	}
	if offset < 0 || offset > maxOffset {
		return fmt.Errorf("report: latency state: a shard started %s after the merged run: want 0 to 73 years", offset)
	}
	all, err := restoreHistogram(st.All)
	if err != nil {
		return fmt.Errorf("report: latency state: all: %w", err)
	}
	if st.Width < int64(time.Second) || st.Width > maxSpanWidth || st.Width%int64(time.Second) != 0 {
		return fmt.Errorf("report: latency state: span of %d ns: want whole seconds, 1 s to about 208 days", st.Width)
	}
	types := make([]Histogram, len(st.ByType))
	var byType uint64
	for i, t := range st.ByType {
		if i > 0 && t.Type <= st.ByType[i-1].Type {
			return fmt.Errorf("report: latency state: type %q: want sorted, distinct types", t.Type)
		}
		if types[i], err = restoreHistogram(t.State); err != nil {
			return fmt.Errorf("report: latency state: type %q: %w", t.Type, err)
		}
		byType += t.State.N
	}
	spans := make([]Histogram, len(st.Spans))
	var inSpans uint64
	for i, s := range st.Spans {
		if s.K < 0 || s.K >= maxSlices || (i > 0 && s.K <= st.Spans[i-1].K) {
			return fmt.Errorf("report: latency state: span %d: want ascending spans below %d", s.K, maxSlices)
		}
		if spans[i], err = restoreHistogram(s.State); err != nil {
			return fmt.Errorf("report: latency state: span %d: %w", s.K, err)
		}
		inSpans += s.State.N
	}
	if byType != st.All.N || inSpans != st.All.N {
		return fmt.Errorf("report: latency state: %d requests, %d by type, %d over time", st.All.N, byType, inSpans)
	}
	l.all.Merge(&all)
	for i, t := range st.ByType {
		h := l.byType[t.Type]
		if h == nil {
			h = &Histogram{}
			l.byType[t.Type] = h
		}
		h.Merge(&types[i])
	}
	for l.width < time.Duration(st.Width) {
		l.coarsen()
	}
	for i, s := range st.Spans {
		at := offset + time.Duration(s.K)*time.Duration(st.Width)
		k := int(at / l.width)
		for k >= maxSlices {
			l.coarsen()
			k = int(at / l.width)
		}
		for len(l.spans) <= k {
			l.spans = append(l.spans, nil)
		}
		if l.spans[k] == nil {
			l.spans[k] = &Histogram{}
		}
		l.spans[k].Merge(&spans[i])
	}
	return nil
}
