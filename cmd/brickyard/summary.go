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
	l := r.Latency
	fmt.Fprintf(out, "\nUSP request latency (%d requests): p50 %s  p90 %s  p99 %s  max %s\n", l.Count, secs(l.P50), secs(l.P90), secs(l.P99), secs(l.Max))
	printDropped(out, r)
	if len(r.Expectations) > 0 {
		fmt.Fprintln(out, "\nexpectations:")
		for _, e := range r.Expectations {
			mark := "ok  "
			if !e.OK {
				mark = "FAIL"
			}
			fmt.Fprintf(out, "  %s %s (was %g)\n", mark, e.Expr, e.Value)
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

// printDropped names the Records the transports dropped, if any: a load
// test whose input was lost must say so.
func printDropped(out io.Writer, r *report.Report) {
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
