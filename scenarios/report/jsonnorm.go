package report

// normalizedMore does normalized's work for the fields of the analysis,
// the latency splits and the devices' cuts: times and floats finite,
// strings valid UTF-8, arrays without omitempty never nil.
func normalizedMore(n, r *Report) {
	n.AbortedAt = Seconds(finite(float64(r.AbortedAt)))
	n.LatencyByType = nil
	if len(r.LatencyByType) > 0 {
		n.LatencyByType = make([]TypedLatency, len(r.LatencyByType))
		for i, t := range r.LatencyByType {
			n.LatencyByType[i] = TypedLatency{Type: valid(t.Type), Latency: normLatency(t.Latency)}
		}
	}
	n.LatencyOverTime = nil
	if len(r.LatencyOverTime) > 0 {
		n.LatencyOverTime = make([]LatencySlice, len(r.LatencyOverTime))
		for i, s := range r.LatencyOverTime {
			s.At, s.Width = sec(s.At), sec(s.Width)
			s.P50, s.P90, s.P99, s.Max = sec(s.P50), sec(s.P90), sec(s.P99), sec(s.Max)
			n.LatencyOverTime[i] = s
		}
	}
	if r.Analysis != nil {
		n.Analysis = normAnalysis(r.Analysis)
	}
	for i := range n.Fleet {
		d := &n.Fleet[i]
		d.Target, d.Brick = valid(d.Target), valid(d.Brick)
		if len(d.Cuts) == 0 {
			d.Cuts = nil
			continue
		}
		cs := make([]Cut, len(d.Cuts))
		for j, c := range d.Cuts {
			cs[j] = Cut{At: sec(c.At), Phase: valid(c.Phase), Op: valid(c.Op), Addr: valid(c.Addr), Partition: valid(c.Partition)}
		}
		d.Cuts = cs
	}
}

func sec(s Seconds) Seconds { return Seconds(finite(float64(s))) }

func normLatency(l Latency) Latency {
	l.P50, l.P90, l.P99, l.Max = sec(l.P50), sec(l.P90), sec(l.P99), sec(l.Max)
	bs := make([]Bucket, len(l.Buckets))
	for i, b := range l.Buckets {
		b.Le = sec(b.Le)
		bs[i] = b
	}
	l.Buckets = bs
	return l
}

func normRows(rs []FaultRow) []FaultRow {
	out := make([]FaultRow, len(rs))
	for i, r := range rs {
		r.Fault, r.Board, r.Outcomes = valid(r.Fault), valid(r.Board), counts(r.Outcomes)
		out[i] = r
	}
	return out
}

func normAnalysis(a *Analysis) *Analysis {
	n := &Analysis{Faults: normRows(a.Faults), CutPhases: normRows(a.CutPhases), CutOps: normRows(a.CutOps)}
	if a.Seen != nil {
		s := &SeenMatrix{Agree: a.Seen.Agree, Disagree: a.Seen.Disagree,
			Cells: make([]SeenCell, len(a.Seen.Cells)), Devices: make([]SeenDevice, len(a.Seen.Devices))}
		for i, c := range a.Seen.Cells {
			c.Outcome, c.Seen = valid(c.Outcome), valid(c.Seen)
			s.Cells[i] = c
		}
		for i, d := range a.Seen.Devices {
			s.Devices[i] = SeenDevice{ID: valid(d.ID), Board: valid(d.Board), Outcome: valid(d.Outcome), Seen: valid(d.Seen)}
		}
		n.Seen = s
	}
	n.Durations = make([]DurationRow, len(a.Durations))
	for i, d := range a.Durations {
		d.Measure, d.Board = valid(d.Measure), valid(d.Board)
		d.Min, d.P50, d.P90, d.P99, d.Max, d.Mean = sec(d.Min), sec(d.P50), sec(d.P90), sec(d.P99), sec(d.Max), sec(d.Mean)
		n.Durations[i] = d
	}
	n.Marks = make([]Mark, len(a.Marks))
	for i, m := range a.Marks {
		m.At, m.Kind, m.Label = sec(m.At), valid(m.Kind), valid(m.Label)
		n.Marks[i] = m
	}
	n.Bricked = make([]BrickRow, len(a.Bricked))
	for i, b := range a.Bricked {
		n.Bricked[i] = BrickRow{ID: valid(b.ID), Board: valid(b.Board), At: sec(b.At), Phase: valid(b.Phase), Op: valid(b.Op),
			Addr: valid(b.Addr), Partition: valid(b.Partition), Reason: valid(b.Reason)}
	}
	return n
}
