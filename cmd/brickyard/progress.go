package main

import (
	"fmt"
	"io"
	"time"

	"brickyard/scenarios"
	"brickyard/scenarios/report"
)

// How often a progress line is written, in wall time: a terminal's line is
// rewritten at most every ttyEvery, a log gets a line every logEvery. A
// virtual clock runs far faster than the wall, so the run's own time
// cannot pace the lines.
const (
	ttyEvery = 250 * time.Millisecond
	logEvery = 5 * time.Second
)

// fmtETA writes a wall-clock duration left for people: "4s", "2m05s",
// "1h03m".
func fmtETA(d time.Duration) string {
	switch d = d.Round(time.Second); {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// settled is the share of the campaign's devices the controller has
// concluded on, counting, once the campaign is aborted, the devices of the
// waves that will never open. It is what the run waits for: a virtual run
// ends when every opened wave is closed.
func settled(p scenarios.Progress) float64 {
	size, done := 0, 0
	for _, w := range p.Waves {
		size += w.Size
		switch {
		case w.Opened:
			done += min(w.Done, w.Size)
		case p.Aborted != "":
			done += w.Size
		}
	}
	if size <= 0 {
		return 0
	}
	return min(max(float64(done)/float64(size), 0), 1)
}

// progressPrinter shows a run's progress on w: one line rewritten in place
// on a terminal (tty), at most every ttyEvery of wall time; otherwise a
// line every logEvery of wall time; and always the last one. A line reads
//
//	1h07m51s  97% 8s left  wave 3/3 8977/9000 done  updated 9464  rolled back 40  bricked 32  failed 464
//	16m41s  50% ~10s  wave 2/2 49549/99000  updated 45045  rolled back 2502  bricked 1251  failed 1252
//
// the run's time (virtual or real), the share of the campaign's devices the
// controller has concluded on and the wall time left at the pace so far, the wave opened last with
// how many of its devices the controller has concluded on, the outcomes
// so far (failed: download or install), then connections and what the
// devices are doing, as much as fits 100 columns: the less important parts
// are shortened (the second line), then left out. now is the wall clock.
func progressPrinter(w io.Writer, tty bool, now func() time.Time) func(scenarios.Progress) {
	start := now()
	var last time.Time
	every := logEvery
	if tty {
		every = ttyEvery
	}
	return func(p scenarios.Progress) {
		t := now()
		if !p.Final && !last.IsZero() && t.Sub(last) < every {
			return
		}
		last = t
		parts := []report.LinePart{{Drop: 0, Text: p.Elapsed.Truncate(time.Second).String()}}
		f := settled(p)
		done := report.LinePart{Drop: 1, Text: fmt.Sprintf("%d%%", int(f*100))}
		if wall := t.Sub(start); !p.Final && f >= 0.01 && f < 1 && wall >= time.Second {
			left := fmtETA(time.Duration(float64(wall) * (1 - f) / f))
			done.Text, done.Short = done.Text+" "+left+" left", done.Text+" ~"+left
		}
		parts = append(parts, done)
		for i := len(p.Waves) - 1; i >= 0; i-- {
			if ws := p.Waves[i]; ws.Opened {
				counter := fmt.Sprintf("wave %d/%d %d/%d", i+1, len(p.Waves), ws.Done, ws.Size)
				parts = append(parts, report.LinePart{Drop: 3, Text: counter + " done", Short: counter})
				break
			}
		}
		o := p.Outcomes
		parts = append(parts, report.LinePart{Drop: 1, Text: fmt.Sprintf("updated %d", o["updated"])},
			report.LinePart{Drop: 2, Text: fmt.Sprintf("rolled back %d", o["rolled_back"])},
			report.LinePart{Drop: 1, Text: fmt.Sprintf("bricked %d", o["bricked"])},
			report.LinePart{Drop: 2, Text: fmt.Sprintf("failed %d", o["download_failed"]+o["install_failed"])})
		if p.Aborted != "" {
			parts = append(parts, report.LinePart{Drop: 1, Text: "ABORTED: " + p.Aborted, Short: "ABORTED"})
		}
		ph := p.Phases
		parts = append(parts, report.LinePart{Drop: 5, Text: fmt.Sprintf("connected %d", p.Conn["connected"])},
			report.LinePart{Drop: 6, Text: fmt.Sprintf("downloading %d  installing %d  rebooting %d  trial %d", ph["downloading"], ph["installing"],
				ph["rebooting"]+ph["off"]+ph["booting"], ph["trial"])})
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
