package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// bigReport is a synthetic fleet of n devices over a 6-hour rollout with a
// progress sample every 10 seconds, 24 boards and 10 waves.
func bigReport(n int) *Report {
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	r := &Report{
		Scenario: "big", Clock: "virtual", Seed: 1, MTP: "WebSocket",
		Start: start, End: start.Add(6 * time.Hour), Duration: 6 * 3600, Devices: n,
	}
	weights := []struct {
		name string
		p    float64
	}{{"updated", 0.95}, {"rolled_back", 0.02}, {"bricked", 0.005}, {"download_failed", 0.01}, {"install_failed", 0.005}, {"unreachable", 0.01}}
	total := map[string]int{}
	boards := map[string]map[string]int{}
	waves := make([]map[string]int, 10)
	for i := range waves {
		waves[i] = map[string]int{}
	}
	var boardNames []string
	for b := 0; b < 24; b++ {
		boardNames = append(boardNames, fmt.Sprintf("board-%02d", b))
	}
	var timelines [][]Step
	for w := 0; w < 10; w++ {
		at := Seconds(w * 2000)
		timelines = append(timelines, []Step{{At: at, Kind: "download-start"}, {At: at + 20, Kind: "downloaded"}, {At: at + 20, Kind: "install"},
			{At: at + 30, Kind: "installed"}, {At: at + 60, Kind: "reboot"}, {At: at + 75, Kind: "boot"}, {At: at + 75, Kind: "trial"},
			{At: at + 76, Kind: "connected"}, {At: at + 90, Kind: "confirmed"}})
	}
	var h Histogram
	r.Fleet = make([]Device, n)
	for i := range r.Fleet {
		x, o := rng.Float64(), "updated"
		for _, w := range weights {
			if x < w.p {
				o = w.name
				break
			}
			x -= w.p
		}
		board := boardNames[i%24]
		wave := 1 + i*10/n
		r.Fleet[i] = Device{
			ID: "os::00AABB-" + strconv.Itoa(10_000_000+i), Board: board, Wave: wave, Outcome: o, Seen: o, Version: "3.0.0", Boots: 2,
			Timeline: timelines[wave-1], // shared: the writers only read
		}
		total[o]++
		if boards[board] == nil {
			boards[board] = map[string]int{}
		}
		boards[board][o]++
		waves[wave-1][o]++
		h.Observe(time.Duration(rng.ExpFloat64() * float64(20*time.Millisecond)))
	}
	r.Outcomes = OutcomeCounts(total)
	for b := 0; b < 24; b++ {
		name := fmt.Sprintf("board-%02d", b)
		c := 0
		for _, v := range boards[name] {
			c += v
		}
		r.ByBoard = append(r.ByBoard, Group{Name: name, Devices: c, Outcomes: OutcomeCounts(boards[name])})
	}
	for i, w := range waves {
		c := 0
		for _, v := range w {
			c += v
		}
		r.ByWave = append(r.ByWave, Wave{Wave: i + 1, Devices: c, Start: Seconds(i * 2000), End: Seconds(i*2000 + 1900), Started: true, Outcomes: OutcomeCounts(w)})
	}
	r.Latency = h.Latency()
	r.Messages = SortedCounts(map[string]int{"sent Get": 4 * n, "received GetResp": 4 * n, "received Notify": 5 * n})
	for t := 0; t <= 6*3600; t += 10 {
		done := min(n, n*t/(6*3600-1000))
		m := map[string]int{"pending": n - done}
		for _, w := range weights {
			m[w.name] = int(float64(done) * w.p)
		}
		r.Progress = append(r.Progress, Sample{At: Seconds(t), Outcomes: OutcomeCounts(m)})
	}
	return r
}

func writeHTML(t testing.TB, r *Report) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteHTML(&b, r); err != nil {
		t.Fatalf("WriteHTML: %v", err)
	}
	return b.Bytes()
}

func TestWriteHTMLGolden(t *testing.T) {
	golden(t, "sample.html", writeHTML(t, sampleReport()))
}

var svgRE = regexp.MustCompile(`(?s)<svg\b.*?</svg>`)

// checkHTML applies the page's invariants: well-formed SVG, no NaN or
// infinity, nothing fetched from elsewhere, no script.
func checkHTML(t *testing.T, page []byte) {
	t.Helper()
	s := string(page)
	if !strings.HasPrefix(s, "<!DOCTYPE html>\n") || !strings.HasSuffix(s, "</html>\n") {
		t.Error("not a complete HTML5 document")
	}
	for _, bad := range []string{"NaN", "Inf", "<script", "<link", "<img", "@import", "url(", "src="} {
		if strings.Contains(s, bad) {
			t.Errorf("page holds %q", bad)
		}
	}
	rest := strings.ReplaceAll(s, `xmlns="http://www.w3.org/2000/svg"`, "")
	if strings.Contains(rest, "http://") || strings.Contains(rest, "https://") {
		t.Error("page refers to another resource")
	}
	svgs := svgRE.FindAllString(s, -1)
	if strings.Count(s, "<svg") != len(svgs) {
		t.Errorf("%d <svg but %d complete elements", strings.Count(s, "<svg"), len(svgs))
	}
	for i, el := range svgs {
		d := xml.NewDecoder(strings.NewReader(el))
		d.Strict = true
		for {
			_, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Errorf("svg %d is not well-formed XML: %v\n%.400s", i, err, el)
				break
			}
		}
	}
}

func TestWriteHTML(t *testing.T) {
	for name, r := range map[string]*Report{
		"sample":  sampleReport(),
		"empty":   {},
		"hostile": hostileReport(),
		"zeros": {
			Outcomes: OutcomeCounts(nil),
			ByBoard:  []Group{{Name: "a"}},
			ByWave:   []Wave{{Wave: 1}},
			Latency:  new(Histogram).Latency(),
			Progress: []Sample{{At: 0, Outcomes: OutcomeCounts(nil)}},
			Fleet:    []Device{{ID: "d"}},
		},
		"one sample": {Progress: []Sample{{At: 5, Outcomes: OutcomeCounts(map[string]int{"pending": 3})}}},
	} {
		t.Run(name, func(t *testing.T) {
			page := writeHTML(t, r)
			checkHTML(t, page)
			if again := writeHTML(t, r); !bytes.Equal(page, again) {
				t.Error("two WriteHTML of the same report differ")
			}
		})
	}
	if err := WriteHTML(io.Discard, nil); err == nil {
		t.Error("WriteHTML(nil) succeeded")
	}
}

func TestWriteHTMLContent(t *testing.T) {
	page := string(writeHTML(t, sampleReport()))
	for _, want := range []string{
		"staged-rollout &lt;canary&gt; &amp; &#34;friends&#34;", // escaped in text
		"Campaign aborted: wave 2 failure rate 0.25 &gt; 0.2",
		"1 of 2 expectations failed",
		`<span class="fail">fail</span>`, `<span class="pass">pass</span>`,
		"12 min 35 s", // duration 754.5 s
		"Rollout over time by outcome", "Outcomes by board", "Outcomes by wave", "Request → response latency",
		"time since start (min)",
		"imx8-uboot · 3", "wave 1 canary · 2", "wave 2 (aborted) · 4",
		"quarantined", "&lt;bad&gt; reply &amp; such", "received GetResp",
		"os::012345-SIM0007", "power-during-install@0.37/torn", "<details><summary>4 steps</summary>",
		"0:01:52.125 install: slot B",
		`fill="#d62728"`, `fill="#2ca02c"`, `fill="#f2b01e"`, // bricked, updated, rolled_back
		"P50", "P90", "P99", "Max", "+∞",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "<canary>") || strings.Contains(page, "<bad>") {
		t.Error("text not escaped")
	}
	if strings.Contains(page, "Interrupted") {
		t.Error("interrupted banner on a run that was not")
	}
	r := sampleReport()
	r.Interrupted, r.Wall = true, 12.5
	page = string(writeHTML(t, r))
	if !strings.Contains(page, "Interrupted:") || !strings.Contains(page, "<dt>Wall time</dt><dd>12.50 s</dd>") {
		t.Error("interrupted banner or wall time missing")
	}
}

func TestWriteHTMLLargeFleet(t *testing.T) {
	r := bigReport(100_000)
	start := time.Now()
	page := writeHTML(t, r)
	t.Logf("100,000 devices: %d bytes in %v", len(page), time.Since(start))
	if len(page) > 3<<20 {
		t.Errorf("report.html of 100,000 devices is %d bytes, want ≤ 3 MiB", len(page))
	}
	checkHTML(t, page)
	s := string(page)
	rows := strings.Count(s, "<tr class=\"dev ")
	var notUpdated, listed int
	perOutcome := map[string]int{}
	for _, d := range r.Fleet {
		if d.Outcome != "updated" {
			notUpdated++
			perOutcome[d.Outcome]++
		}
	}
	for _, c := range perOutcome {
		listed += min(c, fleetPerOutcome)
	}
	if rows != listed {
		t.Errorf("listed %d devices, want %d", rows, listed)
	}
	if want := fmt.Sprintf("%d are listed and %d omitted", listed, len(r.Fleet)-listed); !strings.Contains(s, want) {
		t.Errorf("page lacks the note %q", want)
	}
	if !strings.Contains(s, "drawn thinned to 500") || !strings.Contains(s, "time since start (h)") {
		t.Error("progress chart not thinned or not in hours")
	}

	// At the threshold every device is listed, in fleet order.
	small := bigReport(fleetListAll)
	s = string(writeHTML(t, small))
	if rows := strings.Count(s, "<tr class=\"dev "); rows != fleetListAll {
		t.Errorf("fleet of %d: listed %d", fleetListAll, rows)
	}
	if strings.Contains(s, "omitted") {
		t.Error("note of omitted devices for a small fleet")
	}
}

func TestFleetRowsOrder(t *testing.T) {
	var fleet []Device
	for i := 0; i < fleetListAll+500; i++ {
		o := "updated"
		switch i % 5 {
		case 1:
			o = "zzz"
		case 2:
			o = "bricked"
		case 3:
			o = "pending"
		}
		fleet = append(fleet, Device{ID: fmt.Sprint(i), Outcome: o})
	}
	rows, _ := fleetRows(fleet, palette{extras: []string{"zzz"}})
	var got []string
	for _, r := range rows {
		if len(got) == 0 || got[len(got)-1] != r.Outcome {
			got = append(got, r.Outcome)
		}
	}
	if want := []string{"bricked", "pending", "zzz"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("groups %v, want %v", got, want)
	}
	if len(rows) != 3*fleetPerOutcome || rows[0].ID != "2" || rows[1].ID != "7" {
		t.Errorf("%d rows, first %q %q", len(rows), rows[0].ID, rows[1].ID)
	}
}

func TestFormatters(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{fmtDuration(0), "0 s"},
		{fmtDuration(0.25), "250 ms"},
		{fmtDuration(12.345), "12.35 s"},
		{fmtDuration(245), "4 min 05 s"},
		{fmtDuration(7389), "2 h 03 min 09 s"},
		{fmtDuration(-61), "-1 min 01 s"},
		{fmtDuration(1e13), "1e+13 s"},
		{fmtLatency(0.000850), "850 µs"},
		{fmtLatency(0.00123), "1.23 ms"},
		{fmtLatency(0.0123), "12.3 ms"},
		{fmtLatency(2e-7), "200 ns"},
		{fmtLatency(1.5), "1.50 s"},
		{fmtAt(65.25), "0:01:05.250"},
		{fmtAt(3723.5), "1:02:03.500"},
		{bucketLabel(Bucket{Le: 0.00025}), "250µs"},
		{bucketLabel(Bucket{Le: 0.0025}), "2.5ms"},
		{bucketLabel(Bucket{Le: 10}), "10s"},
		{bucketLabel(Bucket{Inf: true}), "+∞"},
		{pct(1, 3), "33.3%"},
		{pct(1, 0), "—"},
		{f1(-0.01), "0.0"},
		{f1(2.25), "2.2"},
		{tickLabel(0.5, 0.5), "0.5"},
		{tickLabel(1e-17, 0.1), "0.0"},
		{tickLabel(30, 10), "30"},
		{esc("a<\x01\xff>"), "a&lt;\uFFFD\uFFFD&gt;"},
		{truncate("abcdef", 4), "abc…"},
		{truncate("abc", 4), "abc"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	if got := ticks(0, 10, 2.5); fmt.Sprint(got) != "[0 2.5 5 7.5 10]" {
		t.Errorf("ticks = %v", got)
	}
	if got := ticks(-1e308, -1e308, 1); len(got) != 1 {
		t.Errorf("ticks at the float limit = %v", got)
	}
	for _, span := range []float64{0, -1, 1e-300, 7, 1e300} {
		if s := niceStep(span, 5); !(s > 0) {
			t.Errorf("niceStep(%v) = %v", span, s)
		}
	}
}

func BenchmarkWriteHTML100k(b *testing.B) {
	r := bigReport(100_000)
	var size int
	for b.Loop() {
		var buf bytes.Buffer
		if err := WriteHTML(&buf, r); err != nil {
			b.Fatal(err)
		}
		size = buf.Len()
	}
	b.ReportMetric(float64(size), "bytes/page")
}

// The writers only read their report: concurrent writes of one report are
// safe and identical.
func TestWritersConcurrent(t *testing.T) {
	r := sampleReport()
	want := writeHTML(t, r)
	errs := make(chan error, 8)
	for range 4 {
		go func() {
			var h, j bytes.Buffer
			err := WriteHTML(&h, r)
			if err == nil {
				err = WriteJSON(&j, r)
			}
			if err == nil && !bytes.Equal(h.Bytes(), want) {
				err = fmt.Errorf("concurrent WriteHTML differs")
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// FuzzWriters builds reports from arbitrary numbers and text: neither
// writer may fail, panic, or write NaN, and the page's SVG stays XML.
func FuzzWriters(f *testing.F) {
	f.Add("updated", "x<y>&\"", 1.5, -2.0, 3, -4, int64(time.Millisecond))
	f.Add("", "\xff\x00", math.NaN(), math.Inf(1), math.MaxInt, math.MinInt, int64(-1))
	f.Add("weird", "", 1e308, -1e308, 0, 0, int64(math.MaxInt64))
	f.Fuzz(func(t *testing.T, outcome, text string, x, y float64, n, m int, d int64) {
		var h Histogram
		h.Observe(time.Duration(d))
		h.Observe(time.Duration(n))
		r := &Report{
			Scenario: text, Aborted: text, Duration: Seconds(x), Wall: Seconds(y), Devices: n,
			Outcomes:     []Count{{outcome, n}, {text, m}},
			ByBoard:      []Group{{Name: text, Devices: m, Outcomes: []Count{{outcome, n}, {"bricked", m}}}},
			ByWave:       []Wave{{Wave: n, Name: text, Start: Seconds(x), End: Seconds(y), Failures: x, Started: true, Outcomes: []Count{{outcome, m}}}},
			Latency:      h.Latency(),
			Messages:     []Count{{text, n}},
			Errors:       []Count{{text, m}},
			Progress:     []Sample{{At: Seconds(x), Outcomes: []Count{{outcome, n}}}, {At: Seconds(y), Outcomes: []Count{{outcome, m}, {text, n}}}},
			Expectations: []Expectation{{Expr: text, Value: y}},
			Fleet:        []Device{{ID: text, Outcome: outcome, Wave: m, Timeline: []Step{{At: Seconds(x), Kind: text, Detail: text}}}},
		}
		page := writeHTML(t, r)
		for _, bad := range []string{"NaN", "Inf"} {
			if bytes.Contains(page, []byte(bad)) && !bytes.Contains([]byte(text+outcome), []byte(bad)) {
				t.Errorf("page holds %q", bad)
			}
		}
		for i, el := range svgRE.FindAll(page, -1) {
			d := xml.NewDecoder(bytes.NewReader(el))
			for {
				if _, err := d.Token(); err == io.EOF {
					break
				} else if err != nil {
					t.Fatalf("svg %d: %v", i, err)
				}
			}
		}
		j := writeJSON(t, r)
		back, err := ReadJSON(bytes.NewReader(j))
		if err != nil {
			t.Fatal(err)
		}
		if again := writeJSON(t, back); !bytes.Equal(j, again) {
			t.Errorf("round trip differs:\n%s\n%s", j, again)
		}
	})
}

// A fleet with bench boards has a section of them: the simulated devices
// and the bench boards side by side, and each board with its link's
// counts and why it went offline; a fleet without has none.
func TestWriteHTMLBench(t *testing.T) {
	if page := string(writeHTML(t, sampleReport())); strings.Contains(page, `id="bench"`) {
		t.Fatal("a bench section in a fleet without bench boards")
	}
	r := sampleReport()
	r.ByKind = []Group{
		{Name: "simulated", Devices: 7, Outcomes: []Count{{Name: "updated", N: 5}, {Name: "bricked", N: 2}}},
		{Name: "bench", Devices: 2, Outcomes: []Count{{Name: "updated", N: 1}, {Name: "unreachable", N: 1}}},
	}
	r.Bench = []BenchBoard{
		{Name: "bench-1", Device: "os::012345-BENCH1", Profile: "uboot-nor", Port: "/dev/pts/7", Emulated: true, Outcome: "updated", Requests: 912, Retries: 3, BadFrames: 1, PayloadOut: 262144, PayloadIn: 4096},
		{Name: "lab <2>", Device: "os::012345-BENCH2", Profile: "esp32-ota", Port: "tcp://127.0.0.1:3001", Outcome: "unreachable", Offline: "no answer to 5 requests"},
	}
	page := string(writeHTML(t, r))
	for _, want := range []string{
		`<h2 id="bench">Bench boards</h2>`, `<a href="#bench">`,
		"<tr><td>simulated</td><td class=\"n\">7</td>", "<tr><td>bench</td><td class=\"n\">2</td>",
		"bench-1 <span class=\"note\">(board-emu)</span>", "<code>/dev/pts/7</code>", `<td class="n">912</td>`, `<td class="n">262144</td>`,
		"lab &lt;2&gt;", "<code>tcp://127.0.0.1:3001</code>", `<span class="fail">no answer to 5 requests</span>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}
