package report

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Analysis is what a rollback study reads off a run, computed from the
// report's other fields by Analyze: faults against outcomes, what the
// controller concluded against what happened, how long each step took, the
// run's marks and every bricked device. docs/report.md defines each part.
type Analysis struct {
	// Faults: for each fault kind of the plan and each board, the devices
	// it was given to, those it acted on, and how those ended. Sorted by
	// fault kind (the plan's order of kinds), then board.
	Faults []FaultRow `json:"faults"`
	// CutPhases: the power cuts by the phase they landed in, per board;
	// CutOps: by the flash operation and partition they landed on ("erase
	// app"), per board. A device counts once per phase (or operation) it
	// was cut in. Sorted by phase (or operation), then board.
	CutPhases []FaultRow `json:"cut_phases"`
	CutOps    []FaultRow `json:"cut_ops"`
	// Seen is outcome × what the controller concluded; omitted when no
	// device has a Seen (a controller that is not brickyard's).
	Seen *SeenMatrix `json:"seen,omitempty"`
	// Durations: per measure and board, the distribution of how long it
	// took. Sorted by measure (Measures order), then board.
	Durations []DurationRow `json:"durations"`
	// Marks: wave starts, the abort, and fault injections, in time order.
	Marks []Mark `json:"marks"`
	// Bricked: every bricked device, in fleet order.
	Bricked []BrickRow `json:"bricked"`
}

// FaultRow is one fault (or cut phase, or flash operation) on one board.
type FaultRow struct {
	Fault    string  `json:"fault"`
	Board    string  `json:"board"`
	Assigned int     `json:"assigned"` // devices the plan gave the fault (= hit for cuts)
	Hit      int     `json:"hit"`      // devices it acted on
	Outcomes []Count `json:"outcomes"` // how the hit devices ended, by outcome
}

// SeenMatrix is the confusion matrix of a device's outcome (the truth)
// against what the controller concluded from USP alone.
type SeenMatrix struct {
	Cells    []SeenCell   `json:"cells"` // the non-empty cells: outcome order, then seen by name
	Agree    int          `json:"agree"`
	Disagree int          `json:"disagree"`
	Devices  []SeenDevice `json:"devices"` // every device where they disagree, in fleet order
}

// SeenCell is one cell of the matrix.
type SeenCell struct {
	Outcome string `json:"outcome"`
	Seen    string `json:"seen"`
	N       int    `json:"n"`
	Agree   bool   `json:"agree"`
}

// SeenDevice is a device whose controller got it wrong.
type SeenDevice struct {
	ID      string `json:"id"`
	Board   string `json:"board"`
	Outcome string `json:"outcome"`
	Seen    string `json:"seen"`
}

// DurationRow is the distribution of one measure on one board.
type DurationRow struct {
	Measure string  `json:"measure"`
	Board   string  `json:"board"`
	Count   int     `json:"count"`
	Min     Seconds `json:"min_s"`
	P50     Seconds `json:"p50_s"`
	P90     Seconds `json:"p90_s"`
	P99     Seconds `json:"p99_s"`
	Max     Seconds `json:"max_s"`
	Mean    Seconds `json:"mean_s"`
}

// Mark is one moment of the run worth drawing on its timeline.
type Mark struct {
	At    Seconds `json:"at_s"` // since the run's start
	Kind  string  `json:"kind"` // wave, abort or fault
	Label string  `json:"label"`
	N     int     `json:"n"` // fault marks: injections in the span starting at At; else 1
}

// BrickRow is one bricked device: the power cut that preceded the brick
// (its phase, flash operation, address and partition; empty when there
// was none) and the bootloader's reason.
type BrickRow struct {
	ID        string  `json:"id"`
	Board     string  `json:"board"`
	At        Seconds `json:"at_s"` // when it was found bricked; 0 when its timeline does not say
	Phase     string  `json:"phase,omitempty"`
	Op        string  `json:"op,omitempty"`
	Addr      string  `json:"addr,omitempty"`
	Partition string  `json:"partition,omitempty"`
	Reason    string  `json:"reason"`
}

// Measures are the durations Analysis measures, from each device's
// timeline: download (download-start to downloaded), install (install to
// installed), trial (trial to confirmed), update (the first download-start
// to the last updated, confirmed or rolled-back: how long until the device
// settled) and reconnect (reboot to the next connected).
var Measures = []string{"download", "install", "trial", "update", "reconnect"}

// faultKinds orders fault kinds as the fault plan lists them.
var faultKinds = []string{"power-during-download", "power-during-install", "power-during-trial", "power-at-uptime",
	"health-fail", "net-drop", "net-delay", "net-partition", "download-slow", "download-truncated", "download-corrupt"}

// cutPhases orders the phases of a power cut.
var cutPhases = []string{"download", "install", "activate", "boot", "confirm", "power-switch"}

// seenAgrees says which controller conclusions agree with each outcome:
// a controller cannot tell a bricked device from an unreachable one, and
// an install that failed reaches it as a failed transfer, or as a reboot
// before the transfer's result (interrupted).
var seenAgrees = map[string][]string{
	"updated":         {"updated"},
	"rolled_back":     {"rolled_back", "activate_failed"},
	"bricked":         {"unreachable"},
	"download_failed": {"download_failed", "interrupted"},
	"install_failed":  {"download_failed", "interrupted"},
	"unreachable":     {"unreachable"},
	"aborted":         {"not_started"},
	"pending":         {""},
}

// SeenAgrees reports whether the controller's conclusion seen agrees with
// the outcome (see docs/report.md).
func SeenAgrees(outcome, seen string) bool { return slices.Contains(seenAgrees[outcome], seen) }

// maxFaultMarks bounds the fault marks: injections are counted in spans
// that double in length until at most this many spans hold some.
const maxFaultMarks = 400

// Complete finishes a report its filler has built: the last progress
// sample becomes the final outcome counts (the chart ends where the table
// does), and Analysis is computed. Fillers call it last.
func Complete(r *Report) {
	if r == nil {
		return
	}
	final := Sample{At: r.Duration, Outcomes: slices.Clone(r.Outcomes)}
	if n := len(r.Progress); n > 0 && r.Progress[n-1].At >= r.Duration {
		final.At = r.Progress[n-1].At
		r.Progress[n-1] = final
	} else {
		r.Progress = append(r.Progress, final)
	}
	r.Analysis = Analyze(r)
}

// Analyze computes the Analysis of r from its fleet, waves and abort. It
// depends only on r's contents.
func Analyze(r *Report) *Analysis {
	a := &Analysis{}
	a.Faults = faultRows(r)
	a.CutPhases, a.CutOps = cutRows(r.Fleet)
	a.Seen = seenMatrix(r.Fleet)
	a.Durations = durationRows(r.Fleet)
	a.Marks = marks(r)
	a.Bricked = brickRows(r.Fleet)
	return a
}

// tally accumulates one breakdown: key × board → devices, hit, outcomes.
type tally struct {
	rows  map[[2]string]*FaultRow
	order func(string) int
}

func newTally(order []string) *tally {
	return &tally{rows: map[[2]string]*FaultRow{}, order: func(k string) int {
		if i := slices.Index(order, k); i >= 0 {
			return i
		}
		return len(order)
	}}
}

func (t *tally) row(key, board string) *FaultRow {
	k := [2]string{key, board}
	if t.rows[k] == nil {
		t.rows[k] = &FaultRow{Fault: key, Board: board}
	}
	return t.rows[k]
}

func (t *tally) add(key string, d *Device, hit bool) {
	r := t.row(key, d.Board)
	r.Assigned++
	if !hit {
		return
	}
	r.Hit++
	i := slices.IndexFunc(r.Outcomes, func(c Count) bool { return c.Name == d.Outcome })
	if i < 0 {
		r.Outcomes = append(r.Outcomes, Count{Name: d.Outcome})
		i = len(r.Outcomes) - 1
	}
	r.Outcomes[i].N++
}

func (t *tally) list() []FaultRow {
	out := make([]FaultRow, 0, len(t.rows))
	for _, r := range t.rows {
		m := map[string]int{}
		for _, c := range r.Outcomes {
			m[c.Name] = c.N
		}
		r.Outcomes = OutcomeCounts(m)
		out = append(out, *r)
	}
	slices.SortFunc(out, func(x, y FaultRow) int {
		return cmp.Or(cmp.Compare(t.order(x.Fault), t.order(y.Fault)), cmp.Compare(x.Fault, y.Fault), cmp.Compare(x.Board, y.Board))
	})
	return out
}

// FaultKinds splits a device's Faults (the short form, "power-during-
// install@0.42/torn net-drop@1m0s+30s") into its kinds and, for network
// windows, their start.
func FaultKinds(s string) (kinds []string, starts []time.Duration) {
	for _, f := range strings.Fields(s) {
		kind, arg, _ := strings.Cut(f, "@")
		var at time.Duration
		if strings.HasPrefix(kind, "net-") {
			if start, _, ok := strings.Cut(arg, "+"); ok {
				at, _ = time.ParseDuration(start)
			}
		}
		kinds, starts = append(kinds, kind), append(starts, at)
	}
	return kinds, starts
}

// faultRows is Analysis.Faults. A fault acted on a device when: a power
// cut landed in its phase (download; install; boot or confirm for
// power-during-trial; the switch at another moment, or during a download
// the plan did not cut, for power-at-uptime); for health-fail, the image on
// trial failed its check (a health-fail step); for download faults, the
// device downloaded; for network windows, the window opened before the run
// ended.
func faultRows(r *Report) []FaultRow {
	t := newTally(faultKinds)
	for i := range r.Fleet {
		d := &r.Fleet[i]
		kinds, starts := FaultKinds(d.Faults)
		for k, kind := range kinds {
			t.add(kind, d, faultHit(r, d, kinds, kind, starts[k]))
		}
	}
	return t.list()
}

func faultHit(r *Report, d *Device, kinds []string, kind string, start time.Duration) bool {
	cut := func(phases ...string) bool {
		return slices.ContainsFunc(d.Cuts, func(c Cut) bool { return slices.Contains(phases, c.Phase) })
	}
	step := func(k string) bool { return slices.ContainsFunc(d.Timeline, func(s Step) bool { return s.Kind == k }) }
	switch kind {
	case "power-during-download":
		return cut("download")
	case "power-during-install":
		return cut("install")
	case "power-during-trial":
		return cut("boot", "confirm")
	case "power-at-uptime":
		return cut("power-switch") || (cut("download") && !slices.Contains(kinds, "power-during-download"))
	case "health-fail":
		return step("health-fail")
	case "download-slow", "download-truncated", "download-corrupt":
		return step("download-start")
	case "net-drop", "net-delay", "net-partition":
		return start.Seconds() < finite(float64(r.Duration))
	}
	return false
}

// cutRows is Analysis.CutPhases and Analysis.CutOps.
func cutRows(fleet []Device) (phases, ops []FaultRow) {
	tp, to := newTally(cutPhases), newTally(nil)
	for i := range fleet {
		d := &fleet[i]
		var seenP, seenO []string
		for _, c := range d.Cuts {
			if !slices.Contains(seenP, c.Phase) {
				seenP = append(seenP, c.Phase)
				tp.add(c.Phase, d, true)
			}
			if op := cutOp(c); op != "" && !slices.Contains(seenO, op) {
				seenO = append(seenO, op)
				to.add(op, d, true)
			}
		}
	}
	return tp.list(), to.list()
}

// cutOp names a cut's flash operation: "erase app"; "" between operations.
func cutOp(c Cut) string {
	if c.Op == "" {
		return ""
	}
	if c.Partition == "" {
		return c.Op + " (no partition)"
	}
	return c.Op + " " + c.Partition
}

// seenMatrix is Analysis.Seen: nil when no device has a Seen.
func seenMatrix(fleet []Device) *SeenMatrix {
	if !slices.ContainsFunc(fleet, func(d Device) bool { return d.Seen != "" }) {
		return nil
	}
	m := &SeenMatrix{Devices: []SeenDevice{}}
	cells := map[[2]string]int{}
	for i := range fleet {
		d := &fleet[i]
		cells[[2]string{d.Outcome, d.Seen}]++
		if SeenAgrees(d.Outcome, d.Seen) {
			m.Agree++
		} else {
			m.Disagree++
			m.Devices = append(m.Devices, SeenDevice{ID: d.ID, Board: d.Board, Outcome: d.Outcome, Seen: d.Seen})
		}
	}
	for k, n := range cells {
		m.Cells = append(m.Cells, SeenCell{Outcome: k[0], Seen: k[1], N: n, Agree: SeenAgrees(k[0], k[1])})
	}
	slices.SortFunc(m.Cells, func(x, y SeenCell) int {
		return cmp.Or(compareOutcomes(x.Outcome, y.Outcome), cmp.Compare(x.Seen, y.Seen))
	})
	return m
}

// durationRows is Analysis.Durations.
func durationRows(fleet []Device) []DurationRow {
	obs := map[[2]string][]float64{}
	add := func(measure, board string, from, to Seconds) {
		if d := finite(float64(to - from)); d >= 0 {
			k := [2]string{measure, board}
			obs[k] = append(obs[k], d)
		}
	}
	for i := range fleet {
		d := &fleet[i]
		open := map[string]Seconds{} // measure → its start, while open
		first, settled := Seconds(-1), Seconds(-1)
		for _, s := range d.Timeline {
			switch s.Kind {
			case "download-start":
				open["download"] = s.At
				if first < 0 {
					first = s.At
				}
			case "downloaded":
				if at, ok := open["download"]; ok {
					add("download", d.Board, at, s.At)
					delete(open, "download")
				}
			case "install":
				open["install"] = s.At
			case "installed":
				if at, ok := open["install"]; ok {
					add("install", d.Board, at, s.At)
					delete(open, "install")
				}
			case "trial":
				open["trial"] = s.At
			case "confirmed":
				if at, ok := open["trial"]; ok {
					add("trial", d.Board, at, s.At)
					delete(open, "trial")
				}
				settled = s.At
			case "updated", "rolled-back":
				settled = s.At
			case "reboot":
				open["reconnect"] = s.At
			case "connected":
				if at, ok := open["reconnect"]; ok {
					add("reconnect", d.Board, at, s.At)
					delete(open, "reconnect")
				}
			case "power-cut":
				delete(open, "download")
				delete(open, "install")
				delete(open, "trial")
			}
		}
		if first >= 0 && settled >= first {
			add("update", d.Board, first, settled)
		}
	}
	out := make([]DurationRow, 0, len(obs))
	for k, v := range obs {
		slices.Sort(v)
		sum := 0.0
		for _, x := range v {
			sum += x
		}
		out = append(out, DurationRow{Measure: k[0], Board: k[1], Count: len(v), Min: Seconds(v[0]),
			P50: Seconds(rank(v, 50)), P90: Seconds(rank(v, 90)), P99: Seconds(rank(v, 99)), Max: Seconds(v[len(v)-1]),
			Mean: Seconds(sum / float64(len(v)))})
	}
	slices.SortFunc(out, func(x, y DurationRow) int {
		return cmp.Or(cmp.Compare(slices.Index(Measures, x.Measure), slices.Index(Measures, y.Measure)), cmp.Compare(x.Board, y.Board))
	})
	return out
}

// rank is the nearest-rank p-th percentile of sorted v (not empty).
func rank(v []float64, p int) float64 {
	k := (p*len(v) + 99) / 100
	return v[max(k, 1)-1]
}

// marks is Analysis.Marks.
func marks(r *Report) []Mark {
	var out []Mark
	for _, w := range r.ByWave {
		if w.Started {
			label := "wave " + strconv.Itoa(w.Wave)
			if w.Name != "" {
				label += " " + w.Name
			}
			out = append(out, Mark{At: Seconds(finite(float64(w.Start))), Kind: "wave", Label: label, N: 1})
		}
	}
	if r.Aborted != "" {
		out = append(out, Mark{At: Seconds(finite(float64(r.AbortedAt))), Kind: "abort", Label: "aborted: " + r.Aborted, N: 1})
	}
	// Fault injections: power cuts by phase, failed health checks.
	type inj struct {
		at    float64
		label string
	}
	var injs []inj
	for i := range r.Fleet {
		d := &r.Fleet[i]
		for _, c := range d.Cuts {
			injs = append(injs, inj{finite(float64(c.At)), "power cut (" + c.Phase + ")"})
		}
		for _, s := range d.Timeline {
			if s.Kind == "health-fail" {
				injs = append(injs, inj{finite(float64(s.At)), "health check failed"})
			}
		}
	}
	width := 1.0
	for {
		bins := map[[2]string]bool{}
		for _, x := range injs {
			bins[[2]string{strconv.FormatFloat(math.Floor(x.at/width), 'f', 0, 64), x.label}] = true
		}
		if len(bins) <= maxFaultMarks {
			break
		}
		width *= 2
	}
	counts := map[Mark]int{}
	for _, x := range injs {
		m := Mark{At: Seconds(math.Floor(x.at/width) * width), Kind: "fault", Label: x.label}
		counts[m]++
	}
	for m, n := range counts {
		m.N = n
		out = append(out, m)
	}
	kindRank := map[string]int{"wave": 0, "abort": 1, "fault": 2}
	slices.SortFunc(out, func(x, y Mark) int {
		return cmp.Or(cmp.Compare(x.At, y.At), cmp.Compare(kindRank[x.Kind], kindRank[y.Kind]), cmp.Compare(x.Label, y.Label))
	})
	return out
}

// brickRows is Analysis.Bricked.
func brickRows(fleet []Device) []BrickRow {
	out := []BrickRow{}
	for i := range fleet {
		d := &fleet[i]
		if d.Outcome != "bricked" {
			continue
		}
		b := BrickRow{ID: d.ID, Board: d.Board, Reason: d.Brick}
		for _, s := range d.Timeline {
			if s.Kind == "bricked" {
				b.At = s.At
				break
			}
		}
		// The last cut before the brick (or the last one at all).
		for _, c := range d.Cuts {
			if b.At > 0 && c.At > b.At {
				break
			}
			b.Phase, b.Op, b.Addr, b.Partition = c.Phase, c.Op, c.Addr, c.Partition
		}
		out = append(out, b)
	}
	return out
}
