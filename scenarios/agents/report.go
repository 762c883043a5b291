package agents

import (
	"brickyard/mtp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"brickyard/scenarios"
	"brickyard/scenarios/dashboard"
	"brickyard/scenarios/report"
	"brickyard/sim/fleet"
	"brickyard/sim/index"
)

// Progress is the fleet at one moment.
type Progress struct {
	Elapsed  time.Duration
	Devices  int
	Conn     map[string]int
	Outcomes map[string]int
	Phases   map[string]int
	Traffic  trafficStats
	Final    bool
}

func progressOf(elapsed time.Duration, idx *index.Index, t *traffic, final bool) Progress {
	return Progress{Elapsed: elapsed, Devices: idx.Len(), Conn: idx.Counts(index.ByConn),
		Outcomes: idx.Counts(index.ByOutcome), Phases: idx.Counts(index.ByPhase), Traffic: t.stats(), Final: final}
}

// Sample is p as the dashboard takes it.
func (p Progress) Sample() dashboard.Sample {
	return dashboard.Sample{Elapsed: p.Elapsed, Devices: p.Devices, Outcomes: p.Outcomes, Phases: p.Phases, Conn: p.Conn, Final: p.Final}
}

// NewProgressPrinter shows the fleet: one line rewritten in place on a
// terminal, a line every 5 s otherwise (as run's progressPrinter).
func NewProgressPrinter(w io.Writer, tty bool) func(Progress) {
	var last time.Duration = -1
	return func(p Progress) {
		if !tty && !p.Final && last >= 0 && p.Elapsed-last < 5*time.Second {
			return
		}
		last = p.Elapsed
		tr := p.Traffic
		parts := []report.LinePart{{Drop: 0, Text: p.Elapsed.Truncate(time.Second).String()}, {Drop: 0, Text: fmt.Sprintf("connected %d/%d", p.Conn[fleet.ConnConnected], p.Devices)},
			{Drop: 2, Text: fmt.Sprintf("connecting %d", p.Conn[fleet.ConnConnecting])},
			{Drop: 3, Text: fmt.Sprintf("reconnects %d", tr.reconnects)}, {Drop: 1, Text: fmt.Sprintf("requests %d", tr.requests)},
			{Drop: 2, Text: fmt.Sprintf("unanswered %d", tr.noResponse)}, {Drop: 5, Text: fmt.Sprintf("records in %d out %d", tr.in, tr.out)}}
		// The firmware part only once something happened to firmware
		// (devices not powered on yet are "off": not counted there).
		fw := []int{p.Outcomes[fleet.Updated], p.Outcomes[fleet.RolledBack], p.Outcomes[fleet.Bricked], p.Outcomes[fleet.DownloadFailed] + p.Outcomes[fleet.InstallFailed],
			p.Phases["downloading"], p.Phases["installing"], p.Phases["rebooting"] + p.Phases["booting"], p.Phases["trial"]}
		if slices.ContainsFunc(fw, func(n int) bool { return n > 0 }) {
			parts = append(parts, report.LinePart{Drop: 1, Text: fmt.Sprintf("updated %d", fw[0])}, report.LinePart{Drop: 2, Text: fmt.Sprintf("rolled back %d", fw[1])},
				report.LinePart{Drop: 1, Text: fmt.Sprintf("bricked %d", fw[2])}, report.LinePart{Drop: 2, Text: fmt.Sprintf("failed %d", fw[3])},
				report.LinePart{Drop: 4, Text: fmt.Sprintf("downloading %d  installing %d  rebooting %d  trial %d", fw[4], fw[5], fw[6], fw[7])})
		}
		line := report.FitLine(parts, report.LineWidth)
		if tty {
			fmt.Fprintf(w, "\r\033[K%s", line)
			if p.Final {
				fmt.Fprintln(w)
			}
			return
		}
		fmt.Fprintln(w, line)
	}
}

// sampleAt is the outcome counts at one moment, for the report's chart.
type sampleAt struct {
	at  time.Time
	out map[string]int
}

// maxSamples bounds the report's progress series (as run's).
const maxSamples = 240

// buildReport fills the report of a fleet run: what the devices saw.
func buildReport(sp *Spec, tr *transport, rf *fleet.Real, t *traffic, start, end time.Time, samples []sampleAt, interrupted bool) *report.Report {
	t.mu.Lock()
	msgs, errs := report.SortedCounts(t.messages()), report.SortedCounts(t.errs)
	lat, byType, overTime := t.lat.Latency(), t.lat.ByType(), t.lat.OverTime()
	var state *report.LatencyState
	if sp.f.Shard != "" {
		state = t.lat.State()
	}
	reconnects := t.reconnects
	t.mu.Unlock()
	if reconnects > 0 {
		errs = append(errs, report.Count{Name: "reconnects", N: reconnects})
		slices.SortFunc(errs, func(a, b report.Count) int { return strings.Compare(a.Name, b.Name) })
	}
	dur := report.Seconds(end.Sub(start).Seconds())
	r := &report.Report{
		Scenario: sp.name, Clock: "real", Seed: sp.seed, MTP: tr.protocol, Start: start, End: end,
		Duration: dur, Wall: dur, Interrupted: interrupted, Devices: rf.Len(),
		Latency: lat, LatencyByType: byType, LatencyOverTime: overTime, Messages: msgs, Errors: errs, Images: sp.reportImages,
		LatencyState: state,
	}
	if sp.f.Shard != "" {
		r.Shard = report.NewShard(sp.shardK, sp.shardN, sp.total())
	}
	if len(r.Errors) == 0 {
		r.Errors = nil
	}
	for _, c := range mtp.DropCauses() {
		if n := tr.drops.Count(c); n > 0 {
			r.Dropped = append(r.Dropped, report.Count{Name: "agents " + c.String(), N: int(n)})
		}
	}
	slices.SortFunc(r.Dropped, func(a, b report.Count) int { return strings.Compare(a.Name, b.Name) })
	for _, s := range thinSamples(samples) {
		out := maps.Clone(s.out)
		if missing := rf.Len() - sum(out); missing > 0 {
			out[fleet.Pending] += missing // not in the index yet: nothing happened to them
		}
		r.Progress = append(r.Progress, report.Sample{At: report.Seconds(s.at.Sub(start).Seconds()), Outcomes: report.OutcomeCounts(out)})
	}
	total := map[string]int{}
	byBoard := map[string]map[string]int{}
	boardN := map[string]int{}
	r.Fleet = make([]report.Device, rf.Len())
	for n := range rf.Len() {
		rec := rf.Record(n)
		out := rec.Outcome
		if out == fleet.Pending && !t.everUp(rec.ID) {
			out = fleet.Unreachable // never had a session with the controller
		}
		total[out]++
		if byBoard[rec.Board] == nil {
			byBoard[rec.Board] = map[string]int{}
		}
		byBoard[rec.Board][out]++
		boardN[rec.Board]++
		d := report.Device{ID: rec.ID, Board: rec.Board, Outcome: out, Version: rec.Version, Boots: rec.Boots,
			Faults: rf.Faults(n).String(), Target: rf.Target(n), Brick: rf.Brick(n), Offline: rf.Offline(n),
			Cuts: scenarios.ReportCuts(rf.Cuts(n), start), Timeline: []report.Step{}}
		for _, s := range rf.Timeline(n) {
			d.Timeline = append(d.Timeline, report.Step{At: report.Seconds(s.At.Sub(start).Seconds()), Kind: string(s.Kind)})
		}
		r.Fleet[n] = d
	}
	slices.SortFunc(r.Fleet, func(a, b report.Device) int { return strings.Compare(a.ID, b.ID) })
	r.Outcomes = report.OutcomeCounts(total)
	names := make([]string, 0, len(byBoard))
	for b := range byBoard {
		names = append(names, b)
	}
	slices.Sort(names)
	for _, b := range names {
		r.ByBoard = append(r.ByBoard, report.Group{Name: b, Devices: boardN[b], Outcomes: report.OutcomeCounts(byBoard[b])})
	}
	report.Complete(r)
	return r
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// appendSample adds s to the series, halving the series (every other
// sample, the first kept) when it reaches 4·maxSamples, so that a run of
// days keeps a bounded series that thinSamples then spreads evenly.
func appendSample(series []sampleAt, s sampleAt) []sampleAt {
	if len(series) >= 4*maxSamples {
		half := series[:0]
		for i := 0; i < len(series); i += 2 {
			half = append(half, series[i])
		}
		series = half
	}
	return append(series, s)
}

func thinSamples(s []sampleAt) []sampleAt {
	if len(s) <= maxSamples {
		return s
	}
	out := make([]sampleAt, 0, maxSamples)
	for i := range maxSamples - 1 {
		out = append(out, s[i*(len(s)-1)/(maxSamples-1)])
	}
	return append(out, s[len(s)-1])
}

// writeSummary writes the end-of-run summary: outcomes by board,
// messages as the devices saw them, sessions and the controller's
// response latency.
func writeSummary(out io.Writer, r *report.Report, st trafficStats, where, ctrlID string) error {
	state := "stopped at --duration"
	if r.Interrupted {
		state = "interrupted"
	}
	name := ""
	if r.Scenario != "fleet" {
		name = " (scenario " + r.Scenario + ")"
	}
	fmt.Fprintf(out, "\nfleet%s: %d devices against %s over %s (controller %s), seed %d, %.1f s, %s\n\n",
		name, r.Devices, where, r.MTP, ctrlID, r.Seed, float64(r.Duration), state)
	rows := []report.OutcomeRow{{Name: "fleet", Devices: r.Devices, Outcomes: r.Outcomes}}
	for _, g := range r.ByBoard {
		rows = append(rows, report.OutcomeRow{Name: g.Name, Devices: g.Devices, Outcomes: g.Outcomes})
	}
	if err := report.WriteOutcomes(out, rows); err != nil {
		return err
	}
	var rx, tx []string
	for _, c := range r.Messages {
		if typ, ok := strings.CutPrefix(c.Name, "received "); ok {
			rx = append(rx, fmt.Sprintf("%s %d", typ, c.N))
		} else if typ, ok := strings.CutPrefix(c.Name, "sent "); ok {
			tx = append(tx, fmt.Sprintf("%s %d", typ, c.N))
		}
	}
	none := func(s []string) string {
		if len(s) == 0 {
			return "none"
		}
		return strings.Join(s, "  ")
	}
	fmt.Fprintf(out, "\nmessages the devices received (%d requests): %s\n", st.requests, none(rx))
	fmt.Fprintf(out, "messages the devices sent: %s\n", none(tx))
	fmt.Fprintf(out, "sessions: %d reconnects, %d lost, %d failed dials\n", st.reconnects, st.lost, st.dialFails)
	fmt.Fprintf(out, "controller response latency, as the devices measured it (%d unanswered): %s\n",
		st.noResponse+st.pending, report.LatencyLine(r.Latency, "answered requests"))
	var probs []string
	for _, c := range r.Errors {
		if c.Name != "reconnects" {
			probs = append(probs, fmt.Sprintf("%s %d", c.Name, c.N))
		}
	}
	if len(probs) > 0 {
		fmt.Fprintf(out, "problems: %s\n", strings.Join(probs, ", "))
	}
	report.WriteDropped(out, r)
	report.WriteShards(out, r)
	return nil
}
