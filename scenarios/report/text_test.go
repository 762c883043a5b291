package report

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestFitLine(t *testing.T) {
	parts := []LinePart{{0, "12m30s", ""}, {1, "62% 8s left", "62% ~8s"}, {3, "wave 2/3 880/900 done", "wave 2/3 880/900"},
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
		if got := FitLine(parts, c.width); got != c.want {
			t.Errorf("fit %d: %q, want %q", c.width, got, c.want)
		}
	}
	if got := FitLine([]LinePart{{0, strings.Repeat("é", 120), ""}}, 100); utf8.RuneCountInString(got) != 100 || !strings.HasSuffix(got, "…") {
		t.Errorf("a part that cannot go is cut: %d runes", utf8.RuneCountInString(got))
	}
}

func TestSummaryNumbers(t *testing.T) {
	if got := ExpectationValue(0.006666666666666667); got != "0.006667" {
		t.Errorf("ExpectationValue: %q", got)
	}
	for v, want := range map[float64]string{0.9464: "0.9464", 32: "32", 0: "0", 123456: "1.235e+05"} {
		if got := ExpectationValue(v); got != want {
			t.Errorf("ExpectationValue(%v) = %q, want %q", v, got, want)
		}
	}
	if got := LatencyLine(Latency{}, "requests"); got != "no requests measured" {
		t.Errorf("no requests: %q", got)
	}
	var h Histogram
	h.Observe(1500 * time.Microsecond)
	if got := LatencyLine(h.Latency(), "requests"); got != "1 requests, p50 1.5ms  p90 1.5ms  p99 1.5ms  max 1.5ms" {
		t.Errorf("one request: %q", got)
	}
}
