package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"brickyard/scenarios"
	"brickyard/scenarios/campaign"
	"brickyard/scenarios/report"
)

// A virtual run reports every second of its time, far faster than the
// wall clock: the printer writes a line per 5 s of wall time (250 ms on a
// terminal) and the last one, each within 100 columns, with the share done
// and the time left, and a labelled wave counter.
func TestProgressPrinterPacing(t *testing.T) {
	wall := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return wall }
	for _, tty := range []bool{false, true} {
		var out bytes.Buffer
		show := progressPrinter(&out, tty, now)
		const steps = 2000
		for i := 1; i <= steps; i++ {
			wall = wall.Add(10 * time.Millisecond) // 20 s of wall time in all
			done := i * 100_000 / steps
			show(scenarios.Progress{Elapsed: time.Duration(i) * time.Second, Devices: 100_000,
				Outcomes: map[string]int{"pending": 100_000 - done, "updated": done * 9 / 10, "rolled_back": done / 20,
					"bricked": done / 40, "install_failed": done - done*9/10 - done/20 - done/40},
				Conn:  map[string]int{"connected": 99_000},
				Waves: []campaign.WaveStatus{{Name: "canary", Size: 1000, Done: 1000, Opened: true, Closed: true}, {Name: "everyone", Size: 99_000, Done: done, Opened: true}},
				Final: i == steps})
		}
		text := strings.ReplaceAll(out.String(), "\r\033[K", "\n")
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
			if l != "" {
				lines = append(lines, l)
			}
		}
		want := 5 // at 0 s, then every 5 s of wall time, and the final one
		if tty {
			want = 81 // every 250 ms, and the final one
		}
		if len(lines) != want {
			t.Errorf("tty %v: %d lines, want %d:\n%s", tty, len(lines), want, strings.Join(lines, "\n"))
		}
		for _, l := range lines {
			if n := utf8.RuneCountInString(l); n > report.LineWidth {
				t.Errorf("tty %v: %d columns: %q", tty, n, l)
			}
			if !strings.Contains(l, "% ") && !strings.HasSuffix(l, "%") && !strings.Contains(l, "%  ") {
				t.Errorf("no share done: %q", l)
			}
		}
		mid := lines[len(lines)/2]
		if !strings.Contains(mid, "~") || !strings.Contains(mid, "wave 2/2 ") {
			t.Errorf("tty %v: mid-run line %q lacks the time left or the wave counter", tty, mid)
		}
		if last := lines[len(lines)-1]; !strings.Contains(last, "100%") || strings.Contains(last, "left") {
			t.Errorf("tty %v: last line %q", tty, last)
		}
	}
}
