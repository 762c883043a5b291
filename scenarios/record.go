package scenarios

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"brickyard/scenarios/campaign"
	"brickyard/scenarios/report"
	"brickyard/sim/fleet"
	"brickyard/sim/index"
)

// maxSamples bounds the progress series of a report; longer series are
// thinned evenly (first and last kept).
const maxSamples = 240

// recorder collects the progress series while a run goes.
type recorder struct {
	start   time.Time
	ctrl    *campaign.Campaign
	devices int
	samples []report.Sample
}

func newRecorder(start time.Time, ctrl *campaign.Campaign, devices int) *recorder {
	return &recorder{start: start, ctrl: ctrl, devices: devices}
}

// sample takes the fleet's outcome counts now. Devices the index does not
// hold yet (not powered on) are pending; once the campaign is aborted, the
// pending devices of the waves that never opened are aborted, as the report
// will call them. The caller holds whatever guards the campaign.
func (r *recorder) sample(t time.Time, idx *index.Index) {
	at := report.Seconds(t.Sub(r.start).Seconds())
	if n := len(r.samples); n > 0 && r.samples[n-1].At == at {
		r.samples = r.samples[:n-1]
	}
	counts := idx.Counts(index.ByOutcome)
	if missing := r.devices - idx.Len(); missing > 0 {
		counts[fleet.Pending] += missing
	}
	if r.ctrl.Aborted() != "" {
		unopened := 0
		for _, w := range r.ctrl.Waves() {
			if !w.Opened {
				unopened += w.Size
			}
		}
		if n := min(unopened, counts[fleet.Pending]); n > 0 {
			counts[fleet.Pending] -= n
			counts["aborted"] += n
		}
	}
	r.samples = append(r.samples, report.Sample{At: at, Outcomes: report.OutcomeCounts(counts)})
}

func thin(s []report.Sample) []report.Sample {
	if len(s) <= maxSamples {
		return s
	}
	out := make([]report.Sample, 0, maxSamples)
	for i := range maxSamples - 1 {
		out = append(out, s[i*(len(s)-1)/(maxSamples-1)])
	}
	return append(out, s[len(s)-1])
}

// report builds the run's report. Device outcomes are the runner's truth:
// a device still pending at the end of a finished campaign is unreachable,
// or aborted when its wave never opened; an interrupted run keeps pending.
func (r *recorder) report(sc *Scenario, v view, ctrl *campaign.Campaign, b *built, lat *report.LatencySplit,
	msgs map[string]int, end time.Time, interrupted bool) *report.Report {
	rep := &report.Report{
		Scenario: sc.Name, Clock: sc.Clock, Seed: sc.Seed, Start: r.start, End: end,
		Duration: report.Seconds(end.Sub(r.start).Seconds()), Interrupted: interrupted,
		Aborted: ctrl.Aborted(), Devices: v.Len(), Latency: lat.Latency(), LatencyByType: lat.ByType(),
		LatencyOverTime: lat.OverTime(), Messages: report.SortedCounts(msgs), Progress: thin(r.samples), Images: b.images,
	}
	if at := ctrl.AbortedAt(); !at.IsZero() {
		rep.AbortedAt = report.Seconds(at.Sub(r.start).Seconds())
	}
	if e := ctrl.Errors(); e > 0 {
		rep.Errors = []report.Count{{Name: "controller", N: e}}
	}
	total := map[string]int{}
	byBoard := map[string]map[string]int{}
	boardN := map[string]int{}
	byKind := map[string]map[string]int{} // simulated and bench, when the fleet has bench boards
	kindN := map[string]int{}
	waves := ctrl.Waves()
	byWave := make([]map[string]int, len(waves))
	for i := range byWave {
		byWave[i] = map[string]int{}
	}
	rep.Fleet = make([]report.Device, v.Len())
	for n := range v.Len() {
		rec := v.Record(n)
		cd := b.devices[n]
		seen := ctrl.Seen(rec.ID)
		out := rec.Outcome
		if out == fleet.Pending && !interrupted {
			out = fleet.Unreachable
			if seen == campaign.NotStarted {
				out = "aborted"
			}
		}
		total[out]++
		if byBoard[rec.Board] == nil {
			byBoard[rec.Board] = map[string]int{}
		}
		byBoard[rec.Board][out]++
		boardN[rec.Board]++
		if cd.Wave > 0 {
			byWave[cd.Wave-1][out]++
		}
		d := report.Device{ID: rec.ID, Board: rec.Board, Wave: cd.Wave, Outcome: out, Seen: seen,
			Version: rec.Version, Boots: rec.Boots, Faults: v.Faults(n).String(), Brick: v.Brick(n)}
		if cd.Wave > 0 {
			d.Target = sc.Campaign.Waves[cd.Wave-1].Image
		}
		d.Cuts = ReportCuts(v.Cuts(n), r.start)
		if o, ok := v.(interface{ Offline(int) string }); ok {
			d.Offline = o.Offline(n)
		}
		if len(sc.Bench) > 0 {
			kind := "simulated"
			if strings.HasPrefix(rec.Board, "bench/") {
				kind = "bench"
			}
			if byKind[kind] == nil {
				byKind[kind] = map[string]int{}
			}
			byKind[kind][out]++
			kindN[kind]++
		}
		for _, s := range v.Timeline(n) {
			d.Timeline = append(d.Timeline, report.Step{At: report.Seconds(s.At.Sub(r.start).Seconds()), Kind: string(s.Kind)})
		}
		if d.Timeline == nil {
			d.Timeline = []report.Step{}
		}
		rep.Fleet[n] = d
	}
	slices.SortFunc(rep.Fleet, func(a, b report.Device) int { return strings.Compare(a.ID, b.ID) })
	rep.Outcomes = report.OutcomeCounts(total)
	for _, name := range sortedKeys(byBoard) {
		rep.ByBoard = append(rep.ByBoard, report.Group{Name: name, Devices: boardN[name], Outcomes: report.OutcomeCounts(byBoard[name])})
	}
	for _, name := range []string{"simulated", "bench"} {
		if kindN[name] > 0 {
			rep.ByKind = append(rep.ByKind, report.Group{Name: name, Devices: kindN[name], Outcomes: report.OutcomeCounts(byKind[name])})
		}
	}
	for i, w := range waves {
		rw := report.Wave{Wave: i + 1, Name: w.Name, Devices: w.Size, Started: w.Opened, Aborted: w.Aborted,
			Outcomes: report.OutcomeCounts(byWave[i])}
		if w.Opened {
			rw.Start = report.Seconds(w.OpenedAt.Sub(r.start).Seconds())
		}
		if w.Closed {
			rw.End = report.Seconds(w.ClosedAt.Sub(r.start).Seconds())
		}
		if w.Size > 0 {
			rw.Failures = float64(w.Fail) / float64(w.Size)
		}
		rep.ByWave = append(rep.ByWave, rw)
	}
	for _, x := range sc.expect {
		rep.Expectations = append(rep.Expectations, x.check(rep))
	}
	report.Complete(rep)
	return rep
}

// ReportCuts turns a runner's power cuts into the report's, times since
// start.
func ReportCuts(cs []fleet.Cut, start time.Time) []report.Cut {
	var out []report.Cut
	for _, c := range cs {
		rc := report.Cut{At: report.Seconds(c.At.Sub(start).Seconds()), Phase: c.Phase, Op: c.Kind, Partition: c.Partition}
		if c.Kind != "" {
			rc.Addr = "0x" + strconv.FormatInt(int64(c.Addr), 16)
		}
		out = append(out, rc)
	}
	return out
}

// Failed lists the expectations of r that did not hold.
func Failed(r *report.Report) []report.Expectation {
	var out []report.Expectation
	for _, e := range r.Expectations {
		if !e.OK {
			out = append(out, e)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
