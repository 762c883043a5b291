package report

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits that keep report.html small whatever the fleet size.
const (
	// fleetListAll: fleets of at most this many devices are listed whole.
	fleetListAll = 2000
	// fleetPerOutcome: beyond fleetListAll, the page lists this many
	// devices (the first in fleet order) of each outcome but "updated".
	fleetPerOutcome = 200
	// maxTimelineSteps is how many steps of one device's timeline the
	// page shows.
	maxTimelineSteps = 100
	// maxProgressSamples is how many Progress samples the rollout chart
	// draws; longer series are thinned evenly, keeping first and last.
	maxProgressSamples = 500
	// maxBars is how many bars a horizontal bar chart draws (its table
	// lists every group).
	maxBars = 200
)

//go:embed report.html.tmpl
var pageSrc string

// pageTmpl is parsed once; it is never changed after.
var pageTmpl = template.Must(template.New("report.html.tmpl").Parse(pageSrc))

// WriteHTML writes report.html: one self-contained HTML5 page (inline CSS,
// inline SVG charts, no script, no external resource) that opens offline.
// It shows the run's header (scenario, clock, seed, MTP, devices, start,
// end, duration, wall time, interrupted and aborted banners, expectations
// with pass/fail), the fleet's outcome totals, the rollout over time by
// outcome (stacked step chart of Progress), outcomes by board and by wave
// (stacked bar charts and tables), the latency histogram with P50, P90,
// P99 and Max, messages and errors by name, and the fleet table with each
// device's timeline. Fleets of more than 2,000 devices list only the first
// 200 devices (in fleet order) of each outcome other than "updated", with
// a note of how many are omitted; a timeline shows at most 100 steps and
// the rollout chart at most 500 samples.
//
// The output is a pure function of r (no clock, no randomness, no map
// order), so equal reports give identical files. r is not modified; any
// Report value is accepted (nil slices, NaN, negative or huge numbers are
// drawn as sensibly as possible, never as NaN). WriteHTML fails only if r
// is nil or w fails; nothing is written to w unless rendering succeeded.
func WriteHTML(w io.Writer, r *Report) error {
	if r == nil {
		return errors.New("report: WriteHTML of a nil Report")
	}
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, newPage(r)); err != nil {
		return fmt.Errorf("report: rendering report.html: %w", err)
	}
	_, err := w.Write(clean(buf.Bytes()))
	return err
}

// clean replaces invalid UTF-8 and the control characters HTML forbids in
// text (all but tab, newline and carriage return) with U+FFFD.
func clean(b []byte) []byte {
	bad := func(r rune) bool {
		return r == utf8.RuneError || (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || (r >= 0x7F && r < 0xA0)
	}
	if bytes.IndexFunc(b, bad) < 0 {
		return b
	}
	return bytes.Map(func(r rune) rune {
		if bad(r) {
			return '\uFFFD'
		}
		return r
	}, bytes.ToValidUTF8(b, []byte("\uFFFD")))
}

// colour is an outcome's fill and the ink readable on it.
type colour struct{ Fill, Ink string }

// outcomeColours are the fixed colours of Outcomes, in that order.
var outcomeColours = [...]colour{
	{"#2ca02c", "#fff"}, // updated: green
	{"#f2b01e", "#000"}, // rolled_back: amber
	{"#d62728", "#fff"}, // bricked: red
	{"#8e44ad", "#fff"}, // download_failed: purple
	{"#ff7f0e", "#000"}, // install_failed: orange
	{"#8c8c8c", "#fff"}, // unreachable: grey
	{"#d4d4d4", "#000"}, // pending: light grey
	{"#404040", "#fff"}, // aborted: dark grey
}

// extraColours go, in turn, to outcomes not in Outcomes (sorted by name).
var extraColours = [...]colour{
	{"#1f77b4", "#fff"}, {"#17becf", "#000"}, {"#8c564b", "#fff"},
	{"#e377c2", "#000"}, {"#bcbd22", "#000"}, {"#393b79", "#fff"},
}

// palette gives every outcome name of one report its colour.
type palette struct{ extras []string }

// newPalette collects the unknown outcome names of r, sorted.
func newPalette(r *Report) palette {
	seen := map[string]bool{}
	add := func(cs []Count) {
		for _, c := range cs {
			if !isOutcome(c.Name) {
				seen[c.Name] = true
			}
		}
	}
	add(r.Outcomes)
	for _, g := range r.ByBoard {
		add(g.Outcomes)
	}
	for _, w := range r.ByWave {
		add(w.Outcomes)
	}
	for _, s := range r.Progress {
		add(s.Outcomes)
	}
	for i := range r.Fleet {
		if o := r.Fleet[i].Outcome; !isOutcome(o) {
			seen[o] = true
		}
	}
	p := palette{extras: make([]string, 0, len(seen))}
	for name := range seen {
		p.extras = append(p.extras, name)
	}
	slices.Sort(p.extras)
	return p
}

func (p palette) colour(name string) colour {
	if i := slices.Index(Outcomes, name); i >= 0 && i < len(outcomeColours) {
		return outcomeColours[i]
	}
	if i, ok := slices.BinarySearch(p.extras, name); ok {
		return extraColours[i%len(extraColours)]
	}
	return extraColours[0]
}

// outcomeNames is the union of the names in lists, ordered as reports
// order outcomes: Outcomes order first, then the others by name.
func outcomeNames(lists ...[]Count) []string {
	var names []string
	seen := map[string]bool{}
	for _, cs := range lists {
		for _, c := range cs {
			if !seen[c.Name] {
				seen[c.Name] = true
				names = append(names, c.Name)
			}
		}
	}
	slices.SortFunc(names, compareOutcomes)
	return names
}

func compareOutcomes(a, b string) int {
	if ra, rb := outcomeRank(a), outcomeRank(b); ra != rb {
		return ra - rb
	}
	return strings.Compare(a, b)
}

// page is what the template renders; every value is final text.
type page struct {
	Title                      string
	Scenario, Clock, MTP, Seed string
	Devices                    int
	Start, End                 string
	Duration, Wall             string
	Interrupted                bool
	Aborted                    string
	Expectations               []expRow
	ExpFailed                  int

	Outcomes []outcomeRow

	Progress     template.HTML
	ProgressNote string

	Cols      []outcomeCol
	BoardSVG  template.HTML
	BoardNote string
	Boards    []groupRow
	WaveSVG   template.HTML
	WaveNote  string
	Waves     []waveRow
	Kinds     []groupRow   // simulated devices and bench boards, side by side
	Bench     []BenchBoard // every bench board, with what its link did

	LatencySVG  template.HTML
	LatencyNote string
	Latency     latencyRow

	Messages []Count
	Errors   []Count
	Dropped  []Count
	Images   []Image

	Fleet     []deviceRow
	FleetNote string

	An *analysisPage
}

type expRow struct {
	Expr, Value string
	OK          bool
}

type outcomeRow struct {
	Name, Colour string
	N            int
	Pct          string
}

type outcomeCol struct {
	Name, Colour string
	Label        template.HTML // Name, breakable after its underscores
}

// breakable escapes s and lets it break after each underscore, so that a
// table header like download_failed wraps there rather than anywhere.
func breakable(s string) template.HTML {
	return template.HTML(strings.ReplaceAll(esc(s), "_", "_<wbr>")) // esc made it safe
}

type groupRow struct {
	Name    string
	Devices int
	Counts  []int // one per page.Cols
}

type waveRow struct {
	Wave                 int
	Name                 string
	Devices              int
	Started, Aborted     bool
	Start, End, Failures string
	Counts               []int
}

type latencyRow struct {
	Count              int
	P50, P90, P99, Max string
	Buckets            []bucketRow
}

type bucketRow struct {
	Le    string
	Count int
}

type deviceRow struct {
	Class                                             string // fo<k>: the fleet filter's class of its outcome
	ID, Board, Outcome, Colour, Seen, Version, Faults string
	Wave                                              string
	Boots                                             uint32
	Steps                                             []stepRow
	StepCount, MoreSteps                              int
}

type stepRow struct{ At, Kind, Detail string }

func newPage(r *Report) *page {
	pal := newPalette(r)
	p := &page{
		Title:       "brickyard report: " + r.Scenario,
		Scenario:    r.Scenario,
		Clock:       r.Clock,
		MTP:         r.MTP,
		Seed:        strconv.FormatUint(r.Seed, 10),
		Devices:     r.Devices,
		Start:       fmtTime(r.Start),
		End:         fmtTime(r.End),
		Duration:    fmtDuration(float64(r.Duration)),
		Interrupted: r.Interrupted,
		Aborted:     r.Aborted,
		Messages:    r.Messages,
		Errors:      r.Errors,
		Dropped:     r.Dropped,
		Images:      r.Images,
	}
	if r.Scenario == "" {
		p.Title = "brickyard report"
	}
	if finite(float64(r.Wall)) != 0 {
		p.Wall = fmtDuration(float64(r.Wall))
	}
	for _, e := range r.Expectations {
		p.Expectations = append(p.Expectations, expRow{Expr: e.Expr, Value: fmtValue(e.Value), OK: e.OK})
		if !e.OK {
			p.ExpFailed++
		}
	}
	for _, name := range outcomeNames(r.Outcomes) {
		n := countOf(r.Outcomes, name)
		p.Outcomes = append(p.Outcomes, outcomeRow{Name: name, Colour: pal.colour(name).Fill, N: n, Pct: pct(float64(n), float64(r.Devices))})
	}

	p.Progress, p.ProgressNote = progressChart(r, pal)

	var lists [][]Count
	for _, g := range r.ByBoard {
		lists = append(lists, g.Outcomes)
	}
	for _, w := range r.ByWave {
		lists = append(lists, w.Outcomes)
	}
	for _, g := range r.ByKind {
		lists = append(lists, g.Outcomes)
	}
	cols := outcomeNames(lists...)
	for _, name := range cols {
		p.Cols = append(p.Cols, outcomeCol{Name: name, Colour: pal.colour(name).Fill, Label: breakable(name)})
	}
	row := func(cs []Count) []int {
		out := make([]int, len(cols))
		for i, name := range cols {
			out[i] = countOf(cs, name)
		}
		return out
	}
	var boardBars, waveBars []bar
	for _, g := range r.ByBoard {
		p.Boards = append(p.Boards, groupRow{Name: g.Name, Devices: g.Devices, Counts: row(g.Outcomes)})
		boardBars = append(boardBars, bar{label: g.Name, devices: g.Devices, outcomes: g.Outcomes})
	}
	for _, w := range r.ByWave {
		wr := waveRow{
			Wave: w.Wave, Name: w.Name, Devices: w.Devices, Started: w.Started, Aborted: w.Aborted,
			Failures: pct(finite(w.Failures), 1), Counts: row(w.Outcomes),
		}
		if w.Started {
			wr.Start = fmtAt(float64(w.Start))
		}
		if finite(float64(w.End)) != 0 {
			wr.End = fmtAt(float64(w.End))
		}
		p.Waves = append(p.Waves, wr)
		label := "wave " + strconv.Itoa(w.Wave)
		if w.Name != "" {
			label += " " + w.Name
		}
		if w.Aborted {
			label += " (aborted)"
		}
		waveBars = append(waveBars, bar{label: label, devices: w.Devices, outcomes: w.Outcomes})
	}
	for _, g := range r.ByKind {
		p.Kinds = append(p.Kinds, groupRow{Name: g.Name, Devices: g.Devices, Counts: row(g.Outcomes)})
	}
	p.Bench = r.Bench
	p.BoardSVG, p.BoardNote = barChart("Outcomes by board", boardBars, cols, pal)
	p.WaveSVG, p.WaveNote = barChart("Outcomes by wave", waveBars, cols, pal)

	l := r.Latency
	p.Latency = latencyRow{Count: l.Count, P50: fmtLatency(float64(l.P50)), P90: fmtLatency(float64(l.P90)), P99: fmtLatency(float64(l.P99)), Max: fmtLatency(float64(l.Max))}
	for _, b := range l.Buckets {
		p.Latency.Buckets = append(p.Latency.Buckets, bucketRow{Le: bucketLabel(b), Count: b.Count})
	}
	p.LatencySVG, p.LatencyNote = latencyChart(l)

	p.Fleet, p.FleetNote = fleetRows(r.Fleet, pal)
	var listed []string
	for _, d := range p.Fleet {
		if !slices.Contains(listed, d.Outcome) {
			listed = append(listed, d.Outcome)
		}
	}
	slices.SortFunc(listed, compareOutcomes)
	for i := range p.Fleet {
		p.Fleet[i].Class = "fo" + strconv.Itoa(slices.Index(listed, p.Fleet[i].Outcome))
	}
	p.An = newAnalysisPage(r, pal, listed)
	return p
}

// fleetRows picks the devices the page lists (see WriteHTML) and a note
// saying what was left out ("" when every device is listed).
func fleetRows(fleet []Device, pal palette) ([]deviceRow, string) {
	pick := make([]int, 0, min(len(fleet), fleetListAll))
	note := ""
	if len(fleet) <= fleetListAll {
		for i := range fleet {
			pick = append(pick, i)
		}
	} else {
		byOutcome := map[string][]int{}
		total := map[string]int{}
		for i := range fleet {
			o := fleet[i].Outcome
			total[o]++
			if o != "updated" && len(byOutcome[o]) < fleetPerOutcome {
				byOutcome[o] = append(byOutcome[o], i)
			}
		}
		names := make([]string, 0, len(byOutcome))
		for o := range byOutcome {
			names = append(names, o)
		}
		slices.SortFunc(names, compareOutcomes)
		var parts []string
		for _, o := range names {
			pick = append(pick, byOutcome[o]...)
			parts = append(parts, fmt.Sprintf("%s %d of %d", outcomeLabel(o), len(byOutcome[o]), total[o]))
		}
		note = fmt.Sprintf("The fleet has %d devices; %d are listed and %d omitted (the %d updated devices, and beyond the first %d devices of each other outcome). report.json lists every device.",
			len(fleet), len(pick), len(fleet)-len(pick), total["updated"], fleetPerOutcome)
		if len(parts) > 0 {
			note += " Listed: " + strings.Join(parts, ", ") + "."
		}
	}
	rows := make([]deviceRow, 0, len(pick))
	for _, i := range pick {
		d := &fleet[i]
		dr := deviceRow{
			ID: d.ID, Board: d.Board, Outcome: d.Outcome, Colour: pal.colour(d.Outcome).Fill,
			Seen: d.Seen, Version: d.Version, Boots: d.Boots, Faults: d.Faults,
			StepCount: len(d.Timeline),
		}
		if d.Wave != 0 {
			dr.Wave = strconv.Itoa(d.Wave)
		}
		steps := d.Timeline
		if len(steps) > maxTimelineSteps {
			dr.MoreSteps = len(steps) - maxTimelineSteps
			steps = steps[:maxTimelineSteps]
		}
		for _, s := range steps {
			dr.Steps = append(dr.Steps, stepRow{At: fmtAt(float64(s.At)), Kind: s.Kind, Detail: s.Detail})
		}
		rows = append(rows, dr)
	}
	return rows, note
}

func outcomeLabel(o string) string {
	if o == "" {
		return "(none)"
	}
	return o
}

// Chart geometry, in SVG user units (pixels).
const (
	chartW   = 900.0
	padLeft  = 64.0
	padRight = 24.0
	padTop   = 20.0
)

// progressChart draws Progress as a stacked step chart: each sample's
// counts hold until the next sample (the last until the run's end).
func progressChart(r *Report, pal palette) (template.HTML, string) {
	if len(r.Progress) == 0 {
		return "", "No progress samples were recorded."
	}
	samples := slices.Clone(r.Progress)
	slices.SortStableFunc(samples, func(a, b Sample) int {
		x, y := finite(float64(a.At)), finite(float64(b.At))
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	})
	note := ""
	if n := len(samples); n > maxProgressSamples {
		thin := make([]Sample, maxProgressSamples)
		for k := range thin {
			thin[k] = samples[k*(n-1)/(maxProgressSamples-1)]
		}
		note = fmt.Sprintf("%d progress samples, drawn thinned to %d.", n, maxProgressSamples)
		samples = thin
	}
	lists := make([][]Count, len(samples))
	for i, s := range samples {
		lists[i] = s.Outcomes
	}
	names := outcomeNames(lists...)
	// vals[k][i]: series k at sample i, negative counts drawn as 0.
	vals := make([][]float64, len(names))
	var series []int // the series with something to draw
	for k, name := range names {
		vals[k] = make([]float64, len(samples))
		nonzero := false
		for i, s := range samples {
			vals[k][i] = max(float64(countOf(s.Outcomes, name)), 0)
			nonzero = nonzero || vals[k][i] > 0
		}
		if nonzero {
			series = append(series, k)
		}
	}
	ymax := 0.0
	for i := range samples {
		sum := 0.0
		for _, k := range series {
			sum += vals[k][i]
		}
		ymax = max(ymax, sum)
	}
	ystep := max(math.Round(niceStep(ymax, 5)), 1)
	ymax = max(math.Ceil(ymax/ystep)*ystep, ystep)

	xmin := min(0, finite(float64(samples[0].At)))
	xmax := max(finite(float64(samples[len(samples)-1].At)), finite(float64(r.Duration)))
	span := xmax - xmin
	if !(span > 0) || math.IsInf(span, 0) {
		xmax, span = xmin+1, 1
	}
	unit, unitName := 1.0, "s"
	switch {
	case span > 3*3600:
		unit, unitName = 3600, "h"
	case span > 3*60:
		unit, unitName = 60, "min"
	}

	items := make([]legendItem, 0, len(series))
	last := samples[len(samples)-1]
	for _, k := range series {
		items = append(items, legendItem{label: names[k] + " " + strconv.Itoa(countOf(last.Outcomes, names[k])), fill: pal.colour(names[k]).Fill})
	}
	plotW := chartW - padLeft - padRight
	plotH := 240.0
	legendY := padTop + plotH + 40 + marksHeight
	h := legendY + legendHeight(items, plotW) + 6
	px := func(t float64) float64 { return padLeft + (finite(t)-xmin)/span*plotW }
	py := func(v float64) float64 { return padTop + plotH - v/ymax*plotH }

	s := newSVG(chartW, h, "Rollout over time by outcome")
	for _, v := range ticks(0, ymax, ystep) {
		s.line(padLeft, py(v), padLeft+plotW, py(v), "#e3e3e3", "")
		s.text(padLeft-6, py(v)+4, "end", "", tickLabel(v, ystep))
	}
	xstep := niceStep(span/unit, 8)
	for _, v := range ticks(xmin/unit, xmax/unit, xstep) {
		x := px(v * unit)
		s.line(x, padTop, x, padTop+plotH, "#e3e3e3", "")
		s.text(x, padTop+plotH+16, "middle", "", tickLabel(v, xstep))
	}
	xs := make([]float64, len(samples))
	for i, smp := range samples {
		xs[i] = px(float64(smp.At))
	}
	xEnd := px(xmax)
	lower := make([]float64, len(samples))
	upper := make([]float64, len(samples))
	for _, k := range series {
		for i := range samples {
			upper[i] = lower[i] + vals[k][i]
		}
		s.path(stepArea(xs, xEnd, upper, lower, py), pal.colour(names[k]).Fill, names[k])
		copy(lower, upper)
	}
	s.line(padLeft, padTop+plotH, padLeft+plotW, padTop+plotH, "#333", "")
	s.line(padLeft, padTop, padLeft, padTop+plotH, "#333", "")
	a := r.Analysis
	if a == nil {
		a = Analyze(r)
	}
	drawMarks(s, a.Marks, px, padTop, plotH, padTop+plotH+36)
	s.text(padLeft+plotW/2, padTop+plotH+32, "middle", "", "time since start ("+unitName+")")
	s.text(padLeft, padTop-4, "start", "#555", "devices")
	s.legend(items, padLeft, legendY, plotW)
	return s.html(), note
}

// stepArea is the SVG path of the band between lower and upper (in data
// units, mapped by py), each value holding from xs[i] to xs[i+1] (the last
// to xEnd). Points where nothing changes are left out.
func stepArea(xs []float64, xEnd float64, upper, lower []float64, py func(float64) float64) string {
	var b strings.Builder
	n := len(xs)
	pt := func(cmd byte, x, y float64) {
		b.WriteByte(cmd)
		b.WriteString(f1(x))
		b.WriteByte(' ')
		b.WriteString(f1(y))
	}
	pt('M', xs[0], py(upper[0]))
	for i := 1; i < n; i++ {
		if upper[i] != upper[i-1] {
			pt('L', xs[i], py(upper[i-1]))
			pt('L', xs[i], py(upper[i]))
		}
	}
	pt('L', xEnd, py(upper[n-1]))
	pt('L', xEnd, py(lower[n-1]))
	for i := n - 1; i > 0; i-- {
		if lower[i] != lower[i-1] {
			pt('L', xs[i], py(lower[i]))
			pt('L', xs[i], py(lower[i-1]))
		}
	}
	pt('L', xs[0], py(lower[0]))
	b.WriteByte('Z')
	return b.String()
}

// bar is one bar of a horizontal stacked bar chart.
type bar struct {
	label    string
	devices  int
	outcomes []Count
}

// barChart draws one 100 % stacked horizontal bar per group: each bar is
// labelled with its name and device count and split by outcome (in cols
// order) in proportion to the outcome counts.
func barChart(title string, bars []bar, cols []string, pal palette) (template.HTML, string) {
	if len(bars) == 0 {
		return "", "No groups."
	}
	note := ""
	if len(bars) > maxBars {
		note = fmt.Sprintf("The chart shows the first %d of %d; the table lists all.", maxBars, len(bars))
		bars = bars[:maxBars]
	}
	const labelW, rowH, barH = 250.0, 24.0, 16.0
	left := labelW
	plotW := chartW - left - padRight
	var items []legendItem
	for _, c := range cols {
		items = append(items, legendItem{label: c, fill: pal.colour(c).Fill})
	}
	top := padTop + 12
	plotH := rowH * float64(len(bars))
	legendY := top + plotH + 12
	h := legendY + legendHeight(items, chartW-padLeft-padRight) + 6

	s := newSVG(chartW, h, title)
	for _, v := range []float64{0, 25, 50, 75, 100} {
		x := left + v/100*plotW
		s.line(x, top-4, x, top+plotH, "#e3e3e3", "")
		s.text(x, top-8, "middle", "#555", strconv.Itoa(int(v))+"%")
	}
	for i, b := range bars {
		y := top + float64(i)*rowH + (rowH-barH)/2
		s.text(left-8, y+12, "end", "", truncate(b.label, 28)+" · "+strconv.Itoa(b.devices))
		total := 0.0
		for _, c := range cols {
			total += max(float64(countOf(b.outcomes, c)), 0)
		}
		if total == 0 {
			s.rect(left, y, plotW, barH, "none", "#bbb", b.label+": no outcomes")
			continue
		}
		x := left
		for _, c := range cols {
			n := countOf(b.outcomes, c)
			if n <= 0 {
				continue
			}
			w := float64(n) / total * plotW
			col := pal.colour(c)
			s.rect(x, y, w, barH, col.Fill, "", b.label+": "+c+" "+strconv.Itoa(n)+" ("+pct(float64(n), total)+")")
			if label := strconv.Itoa(n); textWidth(label)+6 <= w {
				s.text(x+w/2, y+12, "middle", col.Ink, label)
			}
			x += w
		}
	}
	s.legend(items, padLeft, legendY, chartW-padLeft-padRight)
	return s.html(), note
}

// latencyChart draws the latency buckets as vertical bars, with markers at
// the buckets holding P50, P90, P99 and Max.
func latencyChart(l Latency) (template.HTML, string) {
	if len(l.Buckets) == 0 {
		return "", "No latency buckets."
	}
	note := ""
	if l.Count == 0 {
		note = "No request → response latencies were measured."
	}
	n := float64(len(l.Buckets))
	plotW := chartW - padLeft - padRight
	plotH := 200.0
	top := padTop + 30
	h := top + plotH + 44
	ymax := 0.0
	for _, b := range l.Buckets {
		ymax = max(ymax, float64(b.Count))
	}
	ystep := max(math.Round(niceStep(ymax, 5)), 1)
	ymax = max(math.Ceil(ymax/ystep)*ystep, ystep)
	slot := plotW / n
	py := func(v float64) float64 { return top + plotH - v/ymax*plotH }

	s := newSVG(chartW, h, "Request → response latency")
	for _, v := range ticks(0, ymax, ystep) {
		s.line(padLeft, py(v), padLeft+plotW, py(v), "#e3e3e3", "")
		s.text(padLeft-6, py(v)+4, "end", "", tickLabel(v, ystep))
	}
	if l.Count > 0 {
		marks := make([][]string, len(l.Buckets))
		for _, m := range []struct {
			name string
			v    Seconds
		}{{"P50", l.P50}, {"P90", l.P90}, {"P99", l.P99}, {"Max", l.Max}} {
			i := bucketOf(l.Buckets, float64(m.v))
			marks[i] = append(marks[i], m.name)
		}
		for i, names := range marks {
			if len(names) == 0 {
				continue
			}
			x := padLeft + (float64(i)+0.5)*slot
			if y := py(max(float64(l.Buckets[i].Count), 0)) - 14; y > top {
				s.line(x, top-4, x, y, "#c0392b", "4 3") // down to the bar's count
			}
			s.text(x, top-8, "middle", "#c0392b", strings.Join(names, " "))
		}
	}
	for i, b := range l.Buckets {
		x := padLeft + float64(i)*slot
		c := max(float64(b.Count), 0)
		label := bucketLabel(b)
		s.rect(x+slot*0.1, py(c), slot*0.8, top+plotH-py(c), "#4e79a7", "", label+": "+strconv.Itoa(b.Count))
		s.text(x+slot/2, top+plotH+16, "middle", "", label)
		if b.Count > 0 {
			s.text(x+slot/2, py(c)-3, "middle", "#555", strconv.Itoa(b.Count))
		}
	}
	s.line(padLeft, top+plotH, padLeft+plotW, top+plotH, "#333", "")
	s.line(padLeft, top, padLeft, top+plotH, "#333", "")
	s.text(padLeft+plotW/2, top+plotH+34, "middle", "", "latency (bucket upper bound, counts not cumulative)")
	s.text(padLeft, padTop+2, "start", "#555", "requests")
	return s.html(), note
}

// bucketOf is the index of the first bucket holding v: v ≤ Le, or +Inf;
// the last bucket when none does.
func bucketOf(bs []Bucket, v float64) int {
	for i, b := range bs {
		if b.Inf || finite(v) <= finite(float64(b.Le)) {
			return i
		}
	}
	return len(bs) - 1
}

// bucketLabel is a bucket's bound, short: "100µs", "2.5ms", "1s", "+∞".
func bucketLabel(b Bucket) string {
	if b.Inf {
		return "+∞"
	}
	v := finite(float64(b.Le))
	unit := "s"
	switch a := math.Abs(v); {
	case a == 0:
	case a < 1e-3:
		v, unit = v*1e6, "µs"
	case a < 1:
		v, unit = v*1e3, "ms"
	}
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64) + unit
}

// fmtLatency writes a latency with three significant digits: "850 µs",
// "1.23 ms", "12.3 s".
func fmtLatency(x float64) string {
	v := finite(x)
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	unit := "s"
	switch {
	case v == 0:
		return "0 s"
	case v < 1e-6:
		v, unit = v*1e9, "ns"
	case v < 1e-3:
		v, unit = v*1e6, "µs"
	case v < 1:
		v, unit = v*1e3, "ms"
	case v >= 1e6:
		return sign + strconv.FormatFloat(v, 'g', 3, 64) + " s"
	}
	dec := 0
	switch {
	case v < 10:
		dec = 2
	case v < 100:
		dec = 1
	}
	return sign + strconv.FormatFloat(v, 'f', dec, 64) + " " + unit
}

// fmtDuration writes a run duration for people: "0 s", "850 ms",
// "12.35 s", "4 min 05 s", "2 h 03 min 09 s".
func fmtDuration(x float64) string {
	v := finite(x)
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	switch {
	case v == 0:
		return "0 s"
	case v < 1:
		return sign + fmtLatency(v)
	case v < 60:
		return sign + strconv.FormatFloat(v, 'f', 2, 64) + " s"
	case v < 1e12:
		t := int64(math.Round(v))
		if t >= 3600 {
			return fmt.Sprintf("%s%d h %02d min %02d s", sign, t/3600, t/60%60, t%60)
		}
		return fmt.Sprintf("%s%d min %02d s", sign, t/60, t%60)
	}
	return sign + strconv.FormatFloat(v, 'g', 6, 64) + " s"
}

// fmtAt writes a time since the run's start as h:mm:ss.mmm.
func fmtAt(x float64) string {
	v := finite(x)
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	if v >= 1e12 {
		return sign + strconv.FormatFloat(v, 'g', 6, 64) + " s"
	}
	ms := int64(math.Round(v * 1000))
	return fmt.Sprintf("%s%d:%02d:%02d.%03d", sign, ms/3600000, ms/60000%60, ms/1000%60, ms%1000)
}

// fmtTime writes a run time as RFC 3339 in UTC, "—" for the zero time.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// fmtValue writes an expectation's value with up to six significant digits.
func fmtValue(x float64) string {
	return strconv.FormatFloat(finite(x), 'g', 6, 64)
}

// pct writes n/of as a percentage with one decimal; "—" when of is not
// positive.
func pct(n, of float64) string {
	if !(of > 0) || math.IsInf(of, 0) {
		return "—"
	}
	return strconv.FormatFloat(finite(100*n/of), 'f', 1, 64) + "%"
}
