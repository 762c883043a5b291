package report

import (
	"bytes"
	"io"
	"math"
	"strings"
	"testing"
	"time"
)

// FuzzReadJSON reads arbitrary bytes as report.json: ReadJSON returns a
// report or an error, never panics; whatever it accepts, every consumer of
// a read report (Analyze, both writers, the JUnit and CSV exports, a diff
// with itself) takes without failing, and writes back to bytes that read
// again.
func FuzzReadJSON(f *testing.F) {
	small := sampleReport()
	small.Fleet, small.Progress, small.LatencyOverTime, small.LatencyByType = small.Fleet[:2], small.Progress[:2], nil, nil
	small.Analysis = Analyze(small)
	f.Add(writeJSON(f, small)) // small: the fuzzer minimises what it finds, and a big seed makes that slow
	f.Add([]byte(`{"scenario":"x","fleet":[{"id":"a","outcome":"bricked","cuts":[{"at_s":1e308,"phase":"install"}]}]}`))
	f.Add([]byte(`{"devices":-1,"outcomes":[{"name":"updated","n":-5}],"by_board":[{"name":"b","devices":3,"outcomes":[{"name":"updated","n":9}]}]}`))
	f.Add([]byte(`{"analysis":{"faults":null,"seen":{"cells":[{"outcome":"x"}]}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ReadJSON(bytes.NewReader(data))
		if err != nil {
			return
		}
		Analyze(r)
		for name, w := range map[string]func(io.Writer, *Report) error{"json": WriteJSON, "html": WriteHTML, "junit": WriteJUnit, "csv": WriteCSV} {
			if err := w(io.Discard, r); err != nil && !strings.Contains(err.Error(), "year") {
				t.Errorf("%s: %v", name, err)
			}
		}
		if d, err := Compare(r, r, "a", "a", 0.05); err != nil || d.Flagged != 0 {
			t.Errorf("a report against itself: %v, %+v", err, d)
		}
		var b bytes.Buffer
		if err := WriteJSON(&b, r); err != nil {
			return // a time outside RFC 3339's years
		}
		if _, err := ReadJSON(&b); err != nil {
			t.Errorf("written back, it does not read: %v", err)
		}
	})
}

// FuzzAnalyze builds fleets from arbitrary faults strings, cuts and
// timelines: Analyze and Complete never panic, and the page stays free of
// NaN.
func FuzzAnalyze(f *testing.F) {
	f.Add("power-during-install@0.42/torn net-drop@1m0s+30s", "install", "erase", "download-start", 1.5, 2.5, 3)
	f.Add("net-delay@-5s+x health-fail", "", "", "", math.NaN(), math.Inf(1), -1)
	f.Add("@@@ +", "boot", "program", "reboot", 1e300, -1e300, math.MaxInt)
	f.Fuzz(func(t *testing.T, faults, phase, op, kind string, x, y float64, n int) {
		r := &Report{Duration: Seconds(x), Devices: n, AbortedAt: Seconds(y), Aborted: phase,
			ByWave: []Wave{{Wave: n, Started: true, Start: Seconds(y)}},
			Fleet: []Device{
				{ID: "a", Outcome: "bricked", Seen: phase, Faults: faults, Cuts: []Cut{{At: Seconds(x), Phase: phase, Op: op}, {At: Seconds(y), Phase: op}},
					Timeline: []Step{{At: Seconds(x), Kind: kind}, {At: Seconds(y), Kind: "connected"}, {At: Seconds(x), Kind: "health-fail"}}},
				{ID: "b", Outcome: kind, Faults: faults, Timeline: []Step{{At: Seconds(y), Kind: "reboot"}, {At: Seconds(x), Kind: kind}}},
			}}
		Complete(r)
		page := writeHTML(t, r)
		if bytes.Contains(page, []byte("NaN")) && !strings.Contains(faults+phase+op+kind, "NaN") {
			t.Error("page holds NaN")
		}
		var h Histogram
		h.Observe(time.Duration(n))
		_ = writeJSON(t, r)
	})
}
