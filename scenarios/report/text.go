package report

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
)

// The text forms of a report: the summary brickyard prints at the end of a
// run, and the pieces other summaries (brickyard fleet's) are made of.

// WriteSummary writes the end-of-run table of a run: outcomes by board and
// by wave, latency, dropped Records, expectations.
func WriteSummary(out io.Writer, r *Report) error {
	state := "finished"
	switch {
	case r.Interrupted:
		state = "interrupted"
	case r.Aborted != "":
		state = "aborted: " + r.Aborted
	}
	fmt.Fprintf(out, "\nscenario %s (%s clock, seed %d, %s): %d devices, %.1f s, %s\n\n", r.Scenario, r.Clock, r.Seed, r.MTP, r.Devices, float64(r.Duration), state)
	rows := []OutcomeRow{{"fleet", r.Devices, r.Outcomes}}
	for _, g := range r.ByKind {
		rows = append(rows, OutcomeRow{g.Name, g.Devices, g.Outcomes})
	}
	for _, g := range r.ByBoard {
		rows = append(rows, OutcomeRow{g.Name, g.Devices, g.Outcomes})
	}
	for _, wv := range r.ByWave {
		name := "wave " + strconv.Itoa(wv.Wave)
		if wv.Name != "" {
			name += " " + wv.Name
		}
		if !wv.Started {
			name += " (not started)"
		}
		rows = append(rows, OutcomeRow{name, wv.Devices, wv.Outcomes})
	}
	if err := WriteOutcomes(out, rows); err != nil {
		return err
	}
	if len(r.Bench) > 0 {
		fmt.Fprintln(out, "\nbench boards:")
		w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, "  NAME\tDEVICE\tPROFILE\tPORT\tOUTCOME\tREQUESTS\tRETRIES\tBAD FRAMES\tOFFLINE")
		for _, b := range r.Bench {
			fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\n", b.Name, b.Device, b.Profile, b.Port, b.Outcome, b.Requests, b.Retries, b.BadFrames, b.Offline)
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "\nUSP request latency: %s\n", LatencyLine(r.Latency, "requests"))
	WriteDropped(out, r)
	if len(r.Expectations) > 0 {
		fmt.Fprintln(out, "\nexpectations:")
		for _, e := range r.Expectations {
			mark := "ok  "
			if !e.OK {
				mark = "FAIL"
			}
			fmt.Fprintf(out, "  %s %s (was %s)\n", mark, e.Expr, ExpectationValue(e.Value))
		}
	}
	return nil
}

// OutcomeRow is one line of an outcome table: a name (a board, a wave),
// its devices and their outcomes.
type OutcomeRow struct {
	Name     string
	Devices  int
	Outcomes []Count
}

// WriteOutcomes writes a table of devices by outcome, one column per
// outcome in Outcomes order.
func WriteOutcomes(out io.Writer, rows []OutcomeRow) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := "\tdevices\t"
	for _, o := range Outcomes {
		header += o + "\t"
	}
	fmt.Fprintln(w, header)
	for _, r := range rows {
		n := map[string]int{}
		for _, c := range r.Outcomes {
			n[c.Name] = c.N
		}
		line := r.Name + "\t" + strconv.Itoa(r.Devices) + "\t"
		for _, o := range Outcomes {
			line += strconv.Itoa(n[o]) + "\t"
		}
		fmt.Fprintln(w, line)
	}
	return w.Flush()
}

// FormatSeconds writes a duration of seconds for people: 850µs, 12.3ms, 1.25s.
func FormatSeconds(s Seconds) string {
	switch {
	case s < 0.001:
		return fmt.Sprintf("%.0fµs", float64(s)*1e6)
	case s < 1:
		return fmt.Sprintf("%.1fms", float64(s)*1e3)
	}
	return fmt.Sprintf("%.2fs", float64(s))
}

// WriteDropped names the Records the transports dropped, if any: a load
// test whose input was lost must say so.
func WriteDropped(out io.Writer, r *Report) {
	if len(r.Dropped) == 0 {
		return
	}
	total := 0
	for _, c := range r.Dropped {
		total += c.N
	}
	fmt.Fprintf(out, "\ndropped %d received Records:", total)
	for _, c := range r.Dropped {
		fmt.Fprintf(out, "  %s %d", c.Name, c.N)
	}
	fmt.Fprintln(out)
}

// LatencyLine is a latency summary: "12 requests, p50 1.2ms  p90 …", or
// "no requests measured" (never percentiles of nothing); what names the
// requests.
func LatencyLine(l Latency, what string) string {
	if l.Count == 0 {
		return "no " + what + " measured"
	}
	return fmt.Sprintf("%d %s, p50 %s  p90 %s  p99 %s  max %s", l.Count, what, FormatSeconds(l.P50), FormatSeconds(l.P90), FormatSeconds(l.P99), FormatSeconds(l.Max))
}

// ExpectationValue writes an expectation's value with four significant
// digits: 0.006667, 0.9464, 32, 1.235e+05.
func ExpectationValue(v float64) string { return strconv.FormatFloat(finite(v), 'g', 4, 64) }
