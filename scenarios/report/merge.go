package report

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Part is one shard given to Merge: its report, or, for a shard whose
// process ended without one, the shard, why it was lost and its devices.
type Part struct {
	Source string  // names the part in errors: its file, "worker 2"
	Report *Report // the shard's report (Report.Shard set); nil for a lost shard

	// A lost shard: Shard, Lost (why, e.g. "killed by signal 9") and its
	// Devices (ID and Board of each; their outcome becomes Lost).
	Shard   *Shard
	Lost    string
	Devices []Device
}

// maxMergedDevices bounds a merged fleet (as brickyard's fleets are).
const maxMergedDevices = 10_000_000

// Merge combines the reports of the shards of one fleet into the report
// one process running the whole fleet would have written: every shard of
// the fleet exactly once, from the same scenario, clock, seed and MTP. It
// refuses, with an error naming the part, reports without a shard field,
// of another run (scenario, clock, seed, MTP, shard count or fleet size),
// with a shard given twice, a shard missing, a device row in two shards,
// a device count that is not its shard's, or bench boards or expectations
// (a shard has neither).
//
// The merged report: the earliest start and the latest end; every device
// row, its times moved to count from the merged start, sorted by ID; the
// outcome counts by board and wave recomputed from the rows; messages,
// errors and drops summed by name; the latency (all, by type, over time)
// from the shards' LatencyState, as one Histogram of every request
// (exact while the fleet's requests stay within ExactCap); the progress
// series as the sum of the shards' at every moment one of them sampled;
// the images of every shard once; Shards listing each shard and its
// status; and the analysis recomputed (Complete). A lost shard's devices
// are rows of outcome Lost, and the errors count the lost shards.
func Merge(parts []Part) (*Report, error) {
	if len(parts) == 0 {
		return nil, errors.New("report: merge: no shard reports")
	}
	var first *Report
	for _, p := range parts {
		if p.Report != nil {
			first = p.Report
			break
		}
	}
	if first == nil {
		return nil, errors.New("report: merge: every shard was lost: there is nothing to merge")
	}
	if first.Shard == nil {
		return nil, fmt.Errorf("report: merge: %s: %w", sourceOf(parts, 0, first), errNoShard)
	}
	count, total := first.Shard.Count, first.Shard.Total
	if total > maxMergedDevices {
		return nil, fmt.Errorf("report: merge: a fleet of %d devices: at most %d", total, maxMergedDevices)
	}
	byIndex := make(map[int]int, len(parts)) // shard index → part
	for i, p := range parts {
		src := sourceOf(parts, i, p.Report)
		sh := p.Shard
		if p.Report != nil {
			if sh = p.Report.Shard; sh == nil {
				return nil, fmt.Errorf("report: merge: %s: %w", src, errNoShard)
			}
			if err := sameRun(first, p.Report); err != nil {
				return nil, fmt.Errorf("report: merge: %s: %w", src, err)
			}
			if p.Report.Devices != len(p.Report.Fleet) {
				return nil, fmt.Errorf("report: merge: %s: %d devices but %d device rows", src, p.Report.Devices, len(p.Report.Fleet))
			}
			if len(p.Report.Bench) > 0 || len(p.Report.ByKind) > 0 {
				return nil, fmt.Errorf("report: merge: %s: has bench boards, which join an unsharded fleet only", src)
			}
			if len(p.Report.Expectations) > 0 {
				return nil, fmt.Errorf("report: merge: %s: has expectations, which a shard cannot check alone", src)
			}
		} else if sh == nil {
			return nil, fmt.Errorf("report: merge: %s: neither a report nor a lost shard", src)
		}
		if err := sh.Check(); err != nil {
			return nil, fmt.Errorf("report: merge: %s: %w", src, err)
		}
		if sh.Count != count || sh.Total != total {
			return nil, fmt.Errorf("report: merge: %s: shard %s of %d devices, but %s is shard %s of %d: not the same fleet",
				src, sh, sh.Total, sourceOf(parts, 0, first), first.Shard, total)
		}
		if j, dup := byIndex[sh.Index]; dup {
			return nil, fmt.Errorf("report: merge: %s and %s are both shard %s: shards overlap", sourceOf(parts, j, parts[j].Report), src, sh)
		}
		byIndex[sh.Index] = i
		if n := sh.Devices(); p.Report != nil && p.Report.Devices != n {
			return nil, fmt.Errorf("report: merge: %s: %d devices, but shard %s holds %d (devices %d–%d)", src, p.Report.Devices, sh, n, sh.First, sh.Last)
		} else if p.Report == nil && len(p.Devices) != n {
			return nil, fmt.Errorf("report: merge: %s: a lost shard %s of %d devices with %d given", src, sh, n, len(p.Devices))
		}
	}
	if len(byIndex) < count { // name the first few missing
		var missing []string
		for k := 1; k <= count && len(missing) < 4; k++ {
			if _, ok := byIndex[k]; !ok {
				f, l := ShardRange(k, count, total)
				missing = append(missing, fmt.Sprintf("%d/%d (devices %d–%d)", k, count, f, l))
			}
		}
		more := ""
		if n := count - len(byIndex) - len(missing); n > 0 {
			more = fmt.Sprintf(" and %d more", n)
		}
		return nil, fmt.Errorf("report: merge: shard %s%s missing: give every shard's report", strings.Join(missing, ", "), more)
	}

	// In shard order from here on.
	order := slices.Sorted(maps.Keys(byIndex))
	m := &Report{Scenario: first.Scenario, Clock: first.Clock, Seed: first.Seed, MTP: first.MTP}
	for _, k := range order {
		if r := parts[byIndex[k]].Report; r != nil {
			if m.Start.IsZero() || r.Start.Before(m.Start) {
				m.Start = r.Start
			}
			if r.End.After(m.End) {
				m.End = r.End
			}
		}
	}
	m.Duration = Seconds(m.End.Sub(m.Start).Seconds())
	lat := NewLatencySplit(m.Start)
	msgs, errs, drops := map[string]int{}, map[string]int{}, map[string]int{}
	var series [][]Sample // each shard's progress, times from the merged start
	var devs []int        // each shard's devices, for its part of the series before its first sample
	seenImage := map[Image]bool{}
	lost := 0
	for _, k := range order {
		p := parts[byIndex[k]]
		src := sourceOf(parts, byIndex[k], p.Report)
		r := p.Report
		if r == nil {
			sh := p.Shard
			lost++
			m.Shards = append(m.Shards, ShardStatus{Index: sh.Index, Count: sh.Count, First: sh.First, Last: sh.Last,
				Devices: sh.Devices(), Status: ShardLost, Detail: p.Lost})
			for _, d := range p.Devices {
				m.Fleet = append(m.Fleet, Device{ID: d.ID, Board: d.Board, Wave: d.Wave, Outcome: Lost, Target: d.Target, Timeline: []Step{}})
			}
			series = append(series, nil)
			devs = append(devs, len(p.Devices))
			continue
		}
		sh := r.Shard
		m.Shards = append(m.Shards, ShardStatus{Index: sh.Index, Count: sh.Count, First: sh.First, Last: sh.Last,
			Devices: sh.Devices(), Status: ShardOK})
		off := r.Start.Sub(m.Start)
		shift := func(s Seconds) Seconds {
			if off == 0 {
				return s
			}
			return Seconds(float64(s) + off.Seconds())
		}
		if r.Latency.Count > 0 && r.LatencyState == nil {
			return nil, fmt.Errorf("report: merge: %s: %d requests measured but no latency_state (a shard's report keeps it)", src, r.Latency.Count)
		}
		if r.LatencyState != nil && r.LatencyState.All.N != uint64(r.Latency.Count) {
			return nil, fmt.Errorf("report: merge: %s: latency_state holds %d requests, latency %d", src, r.LatencyState.All.N, r.Latency.Count)
		}
		if err := lat.MergeState(r.LatencyState, off); err != nil {
			return nil, fmt.Errorf("report: merge: %s: %w", src, err)
		}
		if r.Wall > 0 {
			m.Wall = max(m.Wall, shift(r.Wall))
		}
		m.Interrupted = m.Interrupted || r.Interrupted
		if m.Aborted == "" && r.Aborted != "" {
			m.Aborted, m.AbortedAt = r.Aborted, shift(r.AbortedAt)
		}
		for _, c := range r.Messages {
			msgs[c.Name] += c.N
		}
		for _, c := range r.Errors {
			errs[c.Name] += c.N
		}
		for _, c := range r.Dropped {
			drops[c.Name] += c.N
		}
		for _, im := range r.Images {
			if !seenImage[im] {
				seenImage[im] = true
				m.Images = append(m.Images, im)
			}
		}
		s := make([]Sample, len(r.Progress))
		for i, x := range r.Progress {
			s[i] = Sample{At: shift(x.At), Outcomes: x.Outcomes}
		}
		slices.SortStableFunc(s, func(a, b Sample) int { return cmp.Compare(a.At, b.At) })
		series = append(series, s)
		devs = append(devs, r.Devices)
		for _, d := range r.Fleet {
			if off != 0 {
				d.Timeline = slices.Clone(d.Timeline)
				for j := range d.Timeline {
					d.Timeline[j].At = shift(d.Timeline[j].At)
				}
				d.Cuts = slices.Clone(d.Cuts)
				for j := range d.Cuts {
					d.Cuts[j].At = shift(d.Cuts[j].At)
				}
			}
			m.Fleet = append(m.Fleet, d)
		}
	}
	slices.SortStableFunc(m.Fleet, func(a, b Device) int { return strings.Compare(a.ID, b.ID) })
	for i := 1; i < len(m.Fleet); i++ {
		if m.Fleet[i].ID == m.Fleet[i-1].ID {
			return nil, fmt.Errorf("report: merge: device %s is in two shards: shards overlap", m.Fleet[i].ID)
		}
	}
	if lost > 0 {
		errs["shards lost"] += lost
	}
	m.Devices = len(m.Fleet)
	m.Latency, m.LatencyByType, m.LatencyOverTime = lat.Latency(), lat.ByType(), lat.OverTime()
	m.Messages = SortedCounts(msgs)
	if len(errs) > 0 {
		m.Errors = SortedCounts(errs)
	}
	if len(drops) > 0 {
		m.Dropped = SortedCounts(drops)
	}
	m.Progress = mergeSeries(series, devs)
	fillCounts(m, parts, byIndex, order)
	Complete(m)
	return m, nil
}

// sameRun reports why r is not a shard of the same run as first.
func sameRun(first, r *Report) error {
	switch {
	case r.Scenario != first.Scenario:
		return fmt.Errorf("scenario %q, not %q: shards of another run", r.Scenario, first.Scenario)
	case r.Clock != first.Clock:
		return fmt.Errorf("%s clock, not %s: shards of another run", r.Clock, first.Clock)
	case r.Seed != first.Seed:
		return fmt.Errorf("seed %d, not %d: shards of another run", r.Seed, first.Seed)
	case r.MTP != first.MTP:
		return fmt.Errorf("MTP %s, not %s: shards of another run", r.MTP, first.MTP)
	}
	if d := r.Start.Sub(first.Start); d > maxOffset || -d > maxOffset {
		return fmt.Errorf("started %s, %s apart from the others: shards of another run", r.Start.UTC().Format(time.RFC3339), d)
	}
	return nil
}

func sourceOf(parts []Part, i int, r *Report) string {
	if s := parts[i].Source; s != "" {
		return s
	}
	if r != nil && r.Shard != nil {
		return "shard " + r.Shard.String()
	}
	return fmt.Sprintf("part %d", i+1)
}

// fillCounts recomputes the outcome counts of the fleet, by board and by
// wave from the device rows; a wave's times and failure rate come from the
// shards (the earliest start, the latest end, the failure rate weighted by
// devices).
func fillCounts(m *Report, parts []Part, byIndex map[int]int, order []int) {
	total, byBoard, boardN := map[string]int{}, map[string]map[string]int{}, map[string]int{}
	byWave, waveN := map[int]map[string]int{}, map[int]int{}
	for _, d := range m.Fleet {
		total[d.Outcome]++
		if byBoard[d.Board] == nil {
			byBoard[d.Board] = map[string]int{}
		}
		byBoard[d.Board][d.Outcome]++
		boardN[d.Board]++
		if d.Wave > 0 {
			if byWave[d.Wave] == nil {
				byWave[d.Wave] = map[string]int{}
			}
			byWave[d.Wave][d.Outcome]++
			waveN[d.Wave]++
		}
	}
	m.Outcomes = OutcomeCounts(total)
	for _, b := range slices.Sorted(maps.Keys(byBoard)) {
		m.ByBoard = append(m.ByBoard, Group{Name: b, Devices: boardN[b], Outcomes: OutcomeCounts(byBoard[b])})
	}
	waves := map[int]*Wave{}
	fails := map[int]float64{}
	for _, k := range order {
		r := parts[byIndex[k]].Report
		if r == nil {
			continue
		}
		off := r.Start.Sub(m.Start).Seconds()
		for _, w := range r.ByWave {
			mw := waves[w.Wave]
			if mw == nil {
				mw = &Wave{Wave: w.Wave, Name: w.Name}
				waves[w.Wave] = mw
			}
			if w.Started {
				if s := Seconds(float64(w.Start) + off); !mw.Started || s < mw.Start {
					mw.Start = s
				}
				mw.Started = true
			}
			if w.End > 0 {
				mw.End = max(mw.End, Seconds(float64(w.End)+off))
			}
			mw.Aborted = mw.Aborted || w.Aborted
			fails[w.Wave] += w.Failures * float64(w.Devices)
		}
	}
	for _, n := range slices.Sorted(maps.Keys(waves)) {
		w := waves[n]
		w.Devices = waveN[n]
		w.Outcomes = OutcomeCounts(byWave[n])
		if w.Devices > 0 {
			w.Failures = fails[n] / float64(w.Devices)
		}
		m.ByWave = append(m.ByWave, *w)
	}
}

// maxSamples bounds a merged progress series, as a run's.
const maxSamples = 240

// mergeSeries sums the shards' progress series: at every moment one shard
// sampled, each shard counts as its latest sample then (as all its devices
// pending before its first). The result is thinned to maxSamples evenly,
// the first and the last kept.
func mergeSeries(series [][]Sample, devs []int) []Sample {
	var times []Seconds
	for _, s := range series {
		for _, x := range s {
			times = append(times, x.At)
		}
	}
	slices.Sort(times)
	times = slices.Compact(times)
	at := make([]int, len(series)) // each shard's next sample
	out := make([]Sample, 0, len(times))
	for _, t := range times {
		sum := map[string]int{}
		for i, s := range series {
			for at[i] < len(s) && s[at[i]].At <= t {
				at[i]++
			}
			if at[i] == 0 {
				sum["pending"] += devs[i]
				continue
			}
			for _, c := range s[at[i]-1].Outcomes {
				sum[c.Name] += c.N
			}
		}
		out = append(out, Sample{At: t, Outcomes: OutcomeCounts(sum)})
	}
	if len(out) <= maxSamples {
		return out
	}
	thin := make([]Sample, 0, maxSamples)
	for i := range maxSamples - 1 {
		thin = append(thin, out[i*(len(out)-1)/(maxSamples-1)])
	}
	return append(thin, out[len(out)-1])
}
