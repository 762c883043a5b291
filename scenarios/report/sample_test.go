package report

import (
	"fmt"
	"math"
	"time"
)

// sampleReport is the small report behind testdata/sample.json and
// testdata/sample.html. It exercises every field, an outcome this package
// does not know, and text that needs escaping.
func sampleReport() *Report {
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	var h Histogram
	for i := 1; i <= 200; i++ {
		h.Observe(time.Duration(i*i) * 37 * time.Microsecond)
	}
	r := &Report{
		Scenario: "staged-rollout <canary> & \"friends\"",
		Clock:    "virtual",
		Seed:     42,
		MTP:      "MQTT",
		Start:    start,
		End:      start.Add(754500 * time.Millisecond),
		Duration: 754.5,
		Aborted:  "wave 2 failure rate 0.25 > 0.2",
		Devices:  8,
		Outcomes: OutcomeCounts(map[string]int{"updated": 4, "rolled_back": 1, "bricked": 1, "unreachable": 1, "quarantined": 1}),
		ByBoard: []Group{
			{Name: "esp32-s3", Devices: 5, Outcomes: OutcomeCounts(map[string]int{"updated": 3, "bricked": 1, "quarantined": 1})},
			{Name: "imx8-uboot", Devices: 3, Outcomes: OutcomeCounts(map[string]int{"updated": 1, "rolled_back": 1, "unreachable": 1})},
		},
		ByWave: []Wave{
			{Wave: 1, Name: "canary", Devices: 2, Start: 0, End: 180.25, Started: true, Failures: 0, Outcomes: OutcomeCounts(map[string]int{"updated": 2})},
			{Wave: 2, Devices: 4, Start: 300, End: 700, Started: true, Failures: 0.25, Aborted: true, Outcomes: OutcomeCounts(map[string]int{"updated": 2, "rolled_back": 1, "bricked": 1})},
			{Wave: 3, Name: "rest", Devices: 2, Outcomes: OutcomeCounts(map[string]int{"unreachable": 1, "quarantined": 1})},
		},
		Images: []Image{
			{Board: "esp32-s3", Version: "2.0.0", Format: "esp-app", File: "build/app <v2>.bin", Bytes: 69632, SHA256: "5c6e0f5d0b7d4a7b9f1e2c3d4e5f60718293a4b5c6d7e8f90123456789abcdef"},
			{Board: "imx8-uboot", Version: "2.0.0", Format: "byfw", Bytes: 16480, SHA256: "0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0"},
		},
		Latency: h.Latency(),
		Messages: SortedCounts(map[string]int{
			"sent Get": 16, "received GetResp": 15, "sent Operate": 8, "received OperateResp": 8, "received Notify": 20,
		}),
		Errors:  SortedCounts(map[string]int{"timeout waiting for GetResp": 1, "<bad> reply & such": 2}),
		Dropped: SortedCounts(map[string]int{"agents queue-full": 3, "controller too-large": 1}),
		Expectations: []Expectation{
			{Expr: "updated >= 0.99", Value: 0.5, OK: false},
			{Expr: "bricked <= 1", Value: 1, OK: true},
		},
	}
	for i, at := range []Seconds{0, 60, 120, 180.25, 300, 450, 600, 700} {
		m := map[string]int{}
		if i >= 2 {
			m["updated"] = min(i, 4)
		}
		if i >= 5 {
			m["bricked"] = 1
		}
		if i >= 6 {
			m["rolled_back"] = 1
		}
		if i >= 7 {
			m["unreachable"], m["quarantined"] = 1, 1
		}
		m["pending"] = 8
		for o, n := range m {
			if o != "pending" {
				m["pending"] -= n
			}
		}
		r.Progress = append(r.Progress, Sample{At: at, Outcomes: OutcomeCounts(m)})
	}
	boards := []string{"esp32-s3", "imx8-uboot"}
	outcomes := []string{"updated", "bricked", "updated", "rolled_back", "updated", "quarantined", "unreachable", "updated"}
	for i, o := range outcomes {
		d := Device{
			ID:      fmt.Sprintf("os::012345-SIM%04d", i),
			Board:   boards[i%2],
			Wave:    1 + i*3/len(outcomes),
			Outcome: o,
			Seen:    o,
			Version: "2.1.0",
			Boots:   uint32(1 + i%3),
		}
		d.Target = "2.1.0"
		if o == "bricked" {
			d.Seen, d.Version, d.Faults = "unreachable", "2.0.4", "power-during-install@0.37/torn"
			d.Cuts = []Cut{{At: Seconds(10*i) + 45, Phase: "install", Op: "erase", Addr: "0x13000", Partition: "app"}}
			d.Brick = "app: image: bad magic <ff ff>"
		}
		if o == "rolled_back" {
			d.Faults = "health-fail net-drop@1m0s+30s"
		}
		if o == "updated" && i == 4 {
			d.Faults = "power-during-trial@0.50"
			d.Cuts = []Cut{{At: Seconds(10*i) + 61, Phase: "boot", Op: "program", Addr: "0x2000", Partition: "env1"}}
			d.Seen = "rolled_back" // the controller got it wrong
		}
		d.Timeline = []Step{{At: Seconds(10 * i), Kind: "download-start"}, {At: Seconds(10*i) + 40 + Seconds(i), Kind: "downloaded"},
			{At: Seconds(10*i) + 42.125, Kind: "install", Detail: "slot B"}}
		if o != "bricked" {
			d.Timeline = append(d.Timeline, Step{At: Seconds(10*i) + 43.5, Kind: "installed"})
		}
		switch o {
		case "updated":
			d.Timeline = append(d.Timeline, Step{At: Seconds(10*i) + 60, Kind: "reboot"}, Step{At: Seconds(10*i) + 64, Kind: "trial"},
				Step{At: Seconds(10*i) + 64.25, Kind: "connected"}, Step{At: Seconds(10*i) + 75.5, Kind: "confirmed"})
		case "rolled_back":
			d.Version = "2.0.4"
			d.Timeline = append(d.Timeline, Step{At: Seconds(10*i) + 60, Kind: "reboot"}, Step{At: Seconds(10*i) + 66, Kind: "trial"},
				Step{At: Seconds(10*i) + 67, Kind: "health-fail"}, Step{At: Seconds(10*i) + 90, Kind: "rolled-back", Detail: "trial boot failed"})
		case "bricked":
			d.Timeline = append(d.Timeline, Step{At: Seconds(10*i) + 45, Kind: "power-cut"}, Step{At: Seconds(10*i) + 50, Kind: "bricked"})
		case "unreachable":
			d.Timeline = nil
		}
		r.Fleet = append(r.Fleet, d)
	}
	r.AbortedAt = 650
	lat := NewLatencySplit(start)
	for i := 1; i <= 24; i++ {
		typ := []string{"Get", "Operate", "Add"}[i%3]
		lat.Observe(typ, start.Add(time.Duration(i*i)*time.Second), time.Duration(i*i)*370*time.Microsecond)
	}
	r.LatencyByType, r.LatencyOverTime = lat.ByType(), lat.OverTime()
	Complete(r)
	return r
}

// hostileReport holds the values a careless filler could produce: NaN and
// infinities, negative and huge counts, nil slices, unsorted progress,
// control characters and invalid UTF-8.
func hostileReport() *Report {
	nan, inf := math.NaN(), math.Inf(1)
	return &Report{
		Scenario: "bad\x00\x01\xff<svg>",
		Start:    time.Date(2025, 1, 1, 0, 0, 0, 1, time.FixedZone("X", 3600)),
		Duration: Seconds(nan),
		Wall:     Seconds(inf),
		Devices:  -3,
		Outcomes: []Count{{Name: "updated", N: math.MaxInt}, {Name: "bricked", N: -5}, {Name: "", N: 1}},
		ByBoard:  []Group{{Name: "x\x02", Devices: math.MaxInt}, {Name: "y", Outcomes: []Count{{"updated", math.MaxInt}, {"pending", math.MaxInt}}}},
		ByWave:   []Wave{{Wave: -1, Start: Seconds(-inf), End: Seconds(nan), Failures: nan, Started: true}},
		Latency: Latency{Count: -1, P50: Seconds(nan), P90: Seconds(inf), P99: Seconds(-inf), Max: 1e300,
			Buckets: []Bucket{{Le: Seconds(nan), Count: -2}, {Le: 1e-12, Count: math.MaxInt}, {Inf: true}}},
		Progress: []Sample{
			{At: 1e300, Outcomes: []Count{{"updated", math.MaxInt}}},
			{At: Seconds(nan)},
			{At: -1e300, Outcomes: []Count{{"pending", -7}, {"weird", 3}}},
			{At: Seconds(inf), Outcomes: []Count{{"weird", 1}}},
		},
		Expectations: []Expectation{{Expr: "x > y", Value: nan}},
		Fleet: []Device{
			{ID: "\xff\xfe", Outcome: "weird", Timeline: []Step{{At: Seconds(nan)}, {At: -1e300}, {At: 1e300}}},
			{},
		},
	}
}
