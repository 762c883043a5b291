package report

import (
	"slices"
	"time"
)

// maxSlices bounds LatencySplit's time series: past it, spans double in
// length (neighbours merged), so a run of any length keeps at most this
// many.
const maxSlices = 240

// LatencySplit measures request → response latencies three ways: all of
// them (Report.Latency), by request type (Report.LatencyByType) and by
// when the request was sent (Report.LatencyOverTime, spans of 1 s that
// double in length whenever the run outgrows maxSlices of them). The result
// depends only on the set of (type, send time, latency) observed. Not safe
// for concurrent use; the caller serialises.
type LatencySplit struct {
	all    Histogram
	byType map[string]*Histogram
	start  time.Time
	width  time.Duration
	spans  []*Histogram // nil entries: no request in that span
}

// NewLatencySplit measures a run that started at start.
func NewLatencySplit(start time.Time) *LatencySplit {
	return &LatencySplit{byType: map[string]*Histogram{}, start: start, width: time.Second}
}

// Observe adds one request of type typ sent at sent that took d. A request
// sent before the start counts in the first span.
func (l *LatencySplit) Observe(typ string, sent time.Time, d time.Duration) {
	l.all.Observe(d)
	h := l.byType[typ]
	if h == nil {
		h = &Histogram{}
		l.byType[typ] = h
	}
	h.Observe(d)
	k := max(int(sent.Sub(l.start)/l.width), 0)
	for k >= maxSlices {
		l.coarsen()
		k = max(int(sent.Sub(l.start)/l.width), 0)
	}
	for len(l.spans) <= k {
		l.spans = append(l.spans, nil)
	}
	if l.spans[k] == nil {
		l.spans[k] = &Histogram{}
	}
	l.spans[k].Observe(d)
}

// coarsen doubles the span length, merging neighbours.
func (l *LatencySplit) coarsen() {
	l.width *= 2
	out := make([]*Histogram, (len(l.spans)+1)/2)
	for i, h := range l.spans {
		if h == nil {
			continue
		}
		if out[i/2] == nil {
			out[i/2] = &Histogram{}
		}
		out[i/2].Merge(h)
	}
	l.spans = out
}

// Latency is every request's.
func (l *LatencySplit) Latency() Latency { return l.all.Latency() }

// Count is the number of requests measured.
func (l *LatencySplit) Count() int { return l.all.Count() }

// ByType is the latency of each request type, sorted by type.
func (l *LatencySplit) ByType() []TypedLatency {
	types := make([]string, 0, len(l.byType))
	for t := range l.byType {
		types = append(types, t)
	}
	slices.Sort(types)
	out := make([]TypedLatency, 0, len(types))
	for _, t := range types {
		out = append(out, TypedLatency{Type: t, Latency: l.byType[t].Latency()})
	}
	return out
}

// OverTime is the latency of the requests sent in each span, in time
// order; spans without a request are left out.
func (l *LatencySplit) OverTime() []LatencySlice {
	var out []LatencySlice
	for k, h := range l.spans {
		if h == nil {
			continue
		}
		lt := h.Latency()
		out = append(out, LatencySlice{At: Seconds((time.Duration(k) * l.width).Seconds()), Width: Seconds(l.width.Seconds()),
			Count: lt.Count, P50: lt.P50, P90: lt.P90, P99: lt.P99, Max: lt.Max})
	}
	return out
}
