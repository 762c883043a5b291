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

func TestFitLine(t *testing.T) {
	parts := []part{{0, "12m30s", ""}, {1, "62% 8s left", "62% ~8s"}, {3, "wave 2/3 880/900 done", "wave 2/3 880/900"},
		{2, "updated 870", ""}, {5, strings.Repeat("x", 30), ""}}
	cases := []struct {
		width int
		want  string
	}{
		{100, "12m30s  62% 8s left  wave 2/3 880/900 done  updated 870  " + strings.Repeat("x", 30)}, // it all fits
		{80, "12m30s  62% 8s left  wave 2/3 880/900 done  updated 870"},                              // the extra goes first
		{55, "12m30s  62% 8s left  wave 2/3 880/900 done  updated 870"},
		{54, "12m30s  62% ~8s  wave 2/3 880/900  updated 870"}, // then the short forms
		{46, "12m30s  62% ~8s  wave 2/3 880/900  updated 870"},
		{45, "12m30s  62% ~8s  updated 870"}, // then rank 3
	}
	for _, c := range cases {
		if got := fitLine(parts, c.width); got != c.want {
			t.Errorf("fit %d: %q, want %q", c.width, got, c.want)
		}
	}
	if got := fitLine([]part{{0, strings.Repeat("é", 120), ""}}, 100); utf8.RuneCountInString(got) != 100 || !strings.HasSuffix(got, "…") {
		t.Errorf("a part that cannot go is cut: %d runes", utf8.RuneCountInString(got))
	}
}

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
			if n := utf8.RuneCountInString(l); n > progressWidth {
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

func TestSummaryNumbers(t *testing.T) {
	if got := expValue(0.006666666666666667); got != "0.006667" {
		t.Errorf("expValue: %q", got)
	}
	for v, want := range map[float64]string{0.9464: "0.9464", 32: "32", 0: "0", 123456: "1.235e+05"} {
		if got := expValue(v); got != want {
			t.Errorf("expValue(%v) = %q, want %q", v, got, want)
		}
	}
	if got := latencyLine(report.Latency{}, "requests"); got != "no requests measured" {
		t.Errorf("no requests: %q", got)
	}
	var h report.Histogram
	h.Observe(1500 * time.Microsecond)
	if got := latencyLine(h.Latency(), "requests"); got != "1 requests, p50 1.5ms  p90 1.5ms  p99 1.5ms  max 1.5ms" {
		t.Errorf("one request: %q", got)
	}
}
