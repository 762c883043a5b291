package report

import (
	"fmt"
	"html/template"
	"math"
	"slices"
	"strconv"
	"strings"
)

// foldRows: a table with more rows than this is shown folded (a closed
// <details> saying how many rows it holds).
const foldRows = 20

// maxListed bounds the devices the bricked and the controller's-view lists
// show; report.json has them all.
const maxListed = 500

// analysisPage is what report.html shows of the Analysis and the latency
// splits.
type analysisPage struct {
	Faults, CutPhases, CutOps faultTable

	Seen        bool
	SeenCols    []template.HTML
	SeenRows    []seenRow
	SeenAgree   int
	SeenDis     int
	SeenDevices []SeenDevice
	SeenFold    bool
	SeenMore    int // disagreeing devices not listed

	Durations     []durationChart
	DurationRows  []durationRow
	DurationsFold bool

	ByType      []typedRow
	OverTimeSVG template.HTML

	Bricked     []brickRow
	BrickedFold bool
	BrickedAll  int // every bricked device; Bricked lists at most maxListed

	// FleetFilter is the CSS of the fleet table's outcome filter; Filters
	// its buttons.
	FleetFilter template.CSS
	Filters     []filterButton
}

type faultTable struct {
	Cols     []outcomeCol
	Rows     []faultTableRow
	Fold     bool
	Assigned bool // show the Assigned column (faults; for cuts it is Hit)
}

type faultTableRow struct {
	Fault, Board  string
	Total         bool // the all-boards row of a fault
	Assigned, Hit int
	Counts        []int
}

type seenRow struct {
	Outcome, Colour string
	Cells           []seenCellView
	Total           int
}

type seenCellView struct {
	N     int
	Agree bool
	Empty bool
}

type durationChart struct {
	Measure string
	SVG     template.HTML
}

type durationRow struct {
	Measure, Board                string
	Count                         int
	Min, P50, P90, P99, Max, Mean string
}

type typedRow struct {
	Type               string
	Count              int
	P50, P90, P99, Max string
}

type brickRow struct {
	ID, Board, At, Phase, Op, Addr, Partition, Reason string
}

type filterButton struct {
	ID, Label, Colour string
	N                 int
	Checked           bool
}

// newAnalysisPage builds the analysis sections of r's page; r.Analysis,
// when nil (a report from an older brickyard), is computed.
func newAnalysisPage(r *Report, pal palette, fleetOutcomes []string) *analysisPage {
	a := r.Analysis
	if a == nil {
		a = Analyze(r)
	}
	p := &analysisPage{}
	p.Faults = newFaultTable(a.Faults, pal, true)
	p.CutPhases = newFaultTable(a.CutPhases, pal, false)
	p.CutOps = newFaultTable(a.CutOps, pal, false)

	if s := a.Seen; s != nil {
		p.Seen, p.SeenAgree, p.SeenDis, p.SeenDevices = true, s.Agree, s.Disagree, s.Devices
		if len(p.SeenDevices) > maxListed {
			p.SeenMore = len(p.SeenDevices) - maxListed
			p.SeenDevices = p.SeenDevices[:maxListed]
		}
		p.SeenFold = len(p.SeenDevices) > foldRows
		var outs, seens []string
		for _, c := range s.Cells {
			if !slices.Contains(outs, c.Outcome) {
				outs = append(outs, c.Outcome)
			}
			if !slices.Contains(seens, c.Seen) {
				seens = append(seens, c.Seen)
			}
		}
		slices.SortFunc(outs, compareOutcomes)
		slices.Sort(seens)
		for _, sn := range seens {
			p.SeenCols = append(p.SeenCols, breakable(seenLabel(sn)))
		}
		for _, o := range outs {
			row := seenRow{Outcome: o, Colour: pal.colour(o).Fill}
			for _, sn := range seens {
				v := seenCellView{Empty: true, Agree: SeenAgrees(o, sn)}
				for _, c := range s.Cells {
					if c.Outcome == o && c.Seen == sn {
						v.N, v.Empty = c.N, false
						row.Total += c.N
					}
				}
				row.Cells = append(row.Cells, v)
			}
			p.SeenRows = append(p.SeenRows, row)
		}
	}

	byMeasure := map[string][]DurationRow{}
	for _, d := range a.Durations {
		byMeasure[d.Measure] = append(byMeasure[d.Measure], d)
		p.DurationRows = append(p.DurationRows, durationRow{Measure: d.Measure, Board: d.Board, Count: d.Count,
			Min: fmtDuration(float64(d.Min)), P50: fmtDuration(float64(d.P50)), P90: fmtDuration(float64(d.P90)),
			P99: fmtDuration(float64(d.P99)), Max: fmtDuration(float64(d.Max)), Mean: fmtDuration(float64(d.Mean))})
	}
	p.DurationsFold = len(p.DurationRows) > foldRows
	measures := slices.Clone(Measures)
	for m := range byMeasure {
		if !slices.Contains(measures, m) {
			measures = append(measures, m)
		}
	}
	for _, m := range measures {
		if rows := byMeasure[m]; len(rows) > 0 {
			p.Durations = append(p.Durations, durationChart{Measure: m, SVG: boxChart(m, rows)})
		}
	}

	for _, t := range r.LatencyByType {
		l := t.Latency
		p.ByType = append(p.ByType, typedRow{Type: t.Type, Count: l.Count, P50: fmtLatency(float64(l.P50)),
			P90: fmtLatency(float64(l.P90)), P99: fmtLatency(float64(l.P99)), Max: fmtLatency(float64(l.Max))})
	}
	p.OverTimeSVG = overTimeChart(r.LatencyOverTime)

	p.BrickedAll = len(a.Bricked)
	for _, b := range a.Bricked[:min(len(a.Bricked), maxListed)] {
		row := brickRow{ID: b.ID, Board: b.Board, Phase: b.Phase, Op: b.Op, Addr: b.Addr, Partition: b.Partition, Reason: b.Reason}
		if finite(float64(b.At)) != 0 {
			row.At = fmtAt(float64(b.At))
		}
		p.Bricked = append(p.Bricked, row)
	}
	p.BrickedFold = len(p.Bricked) > foldRows

	// The fleet filter: radio buttons before the table; the CSS hides the
	// rows of other outcomes. IDs are numbers only.
	var css strings.Builder
	p.Filters = append(p.Filters, filterButton{ID: "ff-all", Label: "all", Checked: true})
	for i, o := range fleetOutcomes {
		id := "ff-" + strconv.Itoa(i)
		p.Filters = append(p.Filters, filterButton{ID: id, Label: outcomeLabel(o), Colour: pal.colour(o).Fill})
		fmt.Fprintf(&css, "#%s:checked~.scroll tr.dev:not(.fo%d){display:none}\n", id, i)
	}
	p.FleetFilter = template.CSS(css.String()) // built from integers and fixed text only
	return p
}

func seenLabel(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// newFaultTable lays out rows (sorted by fault, then board) with, for
// faults on more than one board, an all-boards row first.
func newFaultTable(rows []FaultRow, pal palette, assigned bool) faultTable {
	var lists [][]Count
	for _, r := range rows {
		lists = append(lists, r.Outcomes)
	}
	names := outcomeNames(lists...)
	// Keep only outcomes some hit device ended in.
	var cols []string
	for _, n := range names {
		for _, r := range rows {
			if countOf(r.Outcomes, n) != 0 {
				cols = append(cols, n)
				break
			}
		}
	}
	t := faultTable{}
	for _, c := range cols {
		t.Cols = append(t.Cols, outcomeCol{Name: c, Colour: pal.colour(c).Fill, Label: breakable(c)})
	}
	counts := func(cs []Count) []int {
		out := make([]int, len(cols))
		for i, c := range cols {
			out[i] = countOf(cs, c)
		}
		return out
	}
	for i := 0; i < len(rows); {
		j := i
		for j < len(rows) && rows[j].Fault == rows[i].Fault {
			j++
		}
		if j-i > 1 {
			tot := faultTableRow{Fault: rows[i].Fault, Board: "all boards", Total: true}
			sum := make([]int, len(cols))
			for _, r := range rows[i:j] {
				tot.Assigned += r.Assigned
				tot.Hit += r.Hit
				for k, n := range counts(r.Outcomes) {
					sum[k] += n
				}
			}
			tot.Counts = sum
			t.Rows = append(t.Rows, tot)
		}
		for _, r := range rows[i:j] {
			t.Rows = append(t.Rows, faultTableRow{Fault: r.Fault, Board: r.Board, Assigned: r.Assigned, Hit: r.Hit, Counts: counts(r.Outcomes)})
		}
		i = j
	}
	t.Assigned = assigned
	t.Fold = len(t.Rows) > foldRows
	return t
}

// boxChart draws one measure's distribution per board: a line from min to
// max, a box from P50 to P90, a tick at P99.
func boxChart(measure string, rows []DurationRow) template.HTML {
	const labelW, rowH = 180.0, 26.0
	top := padTop + 8
	plotW := chartW - labelW - padRight
	h := top + rowH*float64(len(rows)) + 40
	xmax := 0.0
	for _, r := range rows {
		xmax = max(xmax, finite(float64(r.Max)))
	}
	unit, unitName := 1.0, "s"
	switch {
	case xmax > 3*3600:
		unit, unitName = 3600, "h"
	case xmax > 3*60:
		unit, unitName = 60, "min"
	case xmax < 1:
		unit, unitName = 1e-3, "ms"
	}
	step := niceStep(xmax/unit, 6)
	xtop := max(math.Ceil(xmax/unit/step)*step, step) * unit
	px := func(v float64) float64 { return labelW + finite(v)/xtop*plotW }
	s := newSVG(chartW, h, "Durations: "+measure)
	for _, v := range ticks(0, xtop/unit, step) {
		x := px(v * unit)
		s.line(x, top, x, top+rowH*float64(len(rows)), "#e3e3e3", "")
		s.text(x, top+rowH*float64(len(rows))+14, "middle", "", tickLabel(v, step))
	}
	for i, r := range rows {
		y := top + float64(i)*rowH + rowH/2
		s.text(labelW-8, y+4, "end", "", truncate(r.Board, 22)+" · "+strconv.Itoa(r.Count))
		title := fmt.Sprintf("%s on %s, %d: min %s, P50 %s, P90 %s, P99 %s, max %s", measure, r.Board, r.Count,
			fmtDuration(float64(r.Min)), fmtDuration(float64(r.P50)), fmtDuration(float64(r.P90)), fmtDuration(float64(r.P99)), fmtDuration(float64(r.Max)))
		s.line(px(float64(r.Min)), y, px(float64(r.Max)), y, "#555", "")
		s.rect(px(float64(r.P50)), y-7, px(float64(r.P90))-px(float64(r.P50)), 14, "#4e79a7", "#2d4b6b", title)
		s.line(px(float64(r.P50)), y-9, px(float64(r.P50)), y+9, "#000", "")
		s.line(px(float64(r.P99)), y-6, px(float64(r.P99)), y+6, "#c0392b", "")
	}
	s.text(labelW+plotW/2, h-8, "middle", "", measure+" ("+unitName+"): line min–max, box P50–P90, red tick P99")
	return s.html()
}

// overTimeChart draws P50, P90 and P99 of each span of LatencyOverTime.
func overTimeChart(sl []LatencySlice) template.HTML {
	if len(sl) == 0 {
		return ""
	}
	plotW := chartW - padLeft - padRight
	plotH := 180.0
	top := padTop + 10
	h := top + plotH + 60
	xmax, ymax := 0.0, 0.0
	for _, x := range sl {
		xmax = max(xmax, finite(float64(x.At+x.Width)))
		ymax = max(ymax, finite(float64(x.P99)))
	}
	if xmax <= 0 {
		xmax = 1
	}
	yunit, yname := 1e-3, "ms"
	if ymax >= 2 {
		yunit, yname = 1, "s"
	}
	ystep := niceStep(ymax/yunit, 5)
	ytop := max(math.Ceil(ymax/yunit/ystep)*ystep, ystep) * yunit
	xunit, xname := 1.0, "s"
	switch {
	case xmax > 3*3600:
		xunit, xname = 3600, "h"
	case xmax > 3*60:
		xunit, xname = 60, "min"
	}
	px := func(t float64) float64 { return padLeft + finite(t)/xmax*plotW }
	py := func(v float64) float64 { return top + plotH - finite(v)/ytop*plotH }
	s := newSVG(chartW, h, "Request latency over time")
	for _, v := range ticks(0, ytop/yunit, ystep) {
		s.line(padLeft, py(v*yunit), padLeft+plotW, py(v*yunit), "#e3e3e3", "")
		s.text(padLeft-6, py(v*yunit)+4, "end", "", tickLabel(v, ystep))
	}
	xstep := niceStep(xmax/xunit, 8)
	for _, v := range ticks(0, xmax/xunit, xstep) {
		s.text(px(v*xunit), top+plotH+16, "middle", "", tickLabel(v, xstep))
	}
	series := []struct {
		name, colour string
		get          func(LatencySlice) Seconds
	}{{"P50", "#2c7fb8", func(x LatencySlice) Seconds { return x.P50 }},
		{"P90", "#f28e2b", func(x LatencySlice) Seconds { return x.P90 }},
		{"P99", "#c0392b", func(x LatencySlice) Seconds { return x.P99 }}}
	var items []legendItem
	for _, se := range series {
		var d strings.Builder
		for i, x := range sl {
			cmd := "L"
			if i == 0 {
				cmd = "M"
			}
			d.WriteString(cmd + f1(px(float64(x.At+x.Width/2))) + " " + f1(py(float64(se.get(x)))))
		}
		s.b.WriteString(`<path d="` + d.String() + `" fill="none" stroke="` + se.colour + `" stroke-width="1.5"><title>` + se.name + `</title></path>`)
		items = append(items, legendItem{label: se.name, fill: se.colour})
	}
	s.line(padLeft, top+plotH, padLeft+plotW, top+plotH, "#333", "")
	s.line(padLeft, top, padLeft, top+plotH, "#333", "")
	s.text(padLeft+plotW/2, top+plotH+32, "middle", "", "request sent, time since start ("+xname+"); spans of "+fmtDuration(float64(sl[0].Width)))
	s.text(padLeft, top-4, "start", "#555", "latency ("+yname+")")
	s.legend(items, padLeft, top+plotH+40, plotW)
	return s.html()
}

// marksHeight is the strip below the rollout chart's axis that holds the
// fault marks.
const marksHeight = 16.0

// drawMarks draws marks on the rollout chart: a dashed vertical line for
// each wave start (blue, labelled) and the abort (red, labelled); fault
// injections as ticks in the strip at y0 (their height grows with the
// count), each with a tooltip.
func drawMarks(s *svg, marks []Mark, px func(float64) float64, top, plotH, y0 float64) {
	maxN := 1
	for _, m := range marks {
		if m.Kind == "fault" {
			maxN = max(maxN, m.N)
		}
	}
	lastLabel := math.Inf(-1)
	for _, m := range marks {
		x := px(float64(m.At))
		switch m.Kind {
		case "wave", "abort":
			colour := "#1f5fa8"
			if m.Kind == "abort" {
				colour = "#c0392b"
			}
			s.line(x, top, x, top+plotH, colour, "5 3")
			if x-lastLabel > 60 { // labels that would overlap are left to the tooltip
				s.text(x+3, top+10, "start", colour, truncate(m.Label, 24))
				lastLabel = x
			}
			s.rect(x-3, top, 6, plotH, "transparent", "", m.Label+" at "+fmtAt(float64(m.At)))
		case "fault":
			hgt := 4 + (marksHeight-6)*math.Log1p(float64(m.N))/math.Log1p(float64(maxN))
			colour := "#d62728"
			if !strings.HasPrefix(m.Label, "power cut") {
				colour = "#ff7f0e"
			}
			s.rect(x-1, y0+marksHeight-hgt, 2, hgt, colour, "", strconv.Itoa(m.N)+" × "+m.Label+" from "+fmtAt(float64(m.At)))
		}
	}
}
