package main

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"brickyard/scenarios/report"
)

// printSummary writes the end-of-run table: outcomes by board and by wave,
// latency, expectations.
func printSummary(out io.Writer, r *report.Report) error {
	state := "finished"
	switch {
	case r.Interrupted:
		state = "interrupted"
	case r.Aborted != "":
		state = "aborted: " + r.Aborted
	}
	fmt.Fprintf(out, "\nscenario %s (%s clock, seed %d, %s): %d devices, %.1f s, %s\n\n", r.Scenario, r.Clock, r.Seed, r.MTP, r.Devices, float64(r.Duration), state)
	rows := []outcomeRow{{"fleet", r.Devices, r.Outcomes}}
	for _, g := range r.ByBoard {
		rows = append(rows, outcomeRow{g.Name, g.Devices, g.Outcomes})
	}
	for _, wv := range r.ByWave {
		name := "wave " + strconv.Itoa(wv.Wave)
		if wv.Name != "" {
			name += " " + wv.Name
		}
		if !wv.Started {
			name += " (not started)"
		}
		rows = append(rows, outcomeRow{name, wv.Devices, wv.Outcomes})
	}
	if err := writeOutcomes(out, rows); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nUSP request latency: %s\n", latencyLine(r.Latency, "requests"))
	if len(r.Expectations) > 0 {
		fmt.Fprintln(out, "\nexpectations:")
		for _, e := range r.Expectations {
			mark := "ok  "
			if !e.OK {
				mark = "FAIL"
			}
			fmt.Fprintf(out, "  %s %s (was %s)\n", mark, e.Expr, expValue(e.Value))
		}
	}
	return nil
}

// outcomeRow is one line of an outcome table.
type outcomeRow struct {
	name     string
	devices  int
	outcomes []report.Count
}

// writeOutcomes writes a table of devices by outcome, one column per
// outcome in report.Outcomes order.
func writeOutcomes(out io.Writer, rows []outcomeRow) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := "\tdevices\t"
	for _, o := range report.Outcomes {
		header += o + "\t"
	}
	fmt.Fprintln(w, header)
	for _, r := range rows {
		n := map[string]int{}
		for _, c := range r.outcomes {
			n[c.Name] = c.N
		}
		line := r.name + "\t" + strconv.Itoa(r.devices) + "\t"
		for _, o := range report.Outcomes {
			line += strconv.Itoa(n[o]) + "\t"
		}
		fmt.Fprintln(w, line)
	}
	return w.Flush()
}

func secs(s report.Seconds) string {
	switch {
	case s < 0.001:
		return fmt.Sprintf("%.0fµs", float64(s)*1e6)
	case s < 1:
		return fmt.Sprintf("%.1fms", float64(s)*1e3)
	}
	return fmt.Sprintf("%.2fs", float64(s))
}

// latencyLine is a latency summary: "12 requests, p50 1.2ms  p90 …", or
// "no requests measured" (never percentiles of nothing).
func latencyLine(l report.Latency, what string) string {
	if l.Count == 0 {
		return "no " + what + " measured"
	}
	return fmt.Sprintf("%d %s, p50 %s  p90 %s  p99 %s  max %s", l.Count, what, secs(l.P50), secs(l.P90), secs(l.P99), secs(l.Max))
}

// expValue writes an expectation's value with four significant digits:
// 0.006667, 0.9464, 32, 1.235e+05.
func expValue(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }
