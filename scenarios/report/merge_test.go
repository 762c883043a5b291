package report

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestShardRange_CoversTheFleetOnce(t *testing.T) {
	for total := 1; total <= 300; total++ {
		for n := 1; n <= min(total, 23); n++ {
			next, small, large := 1, total, 0
			for k := 1; k <= n; k++ {
				first, last := ShardRange(k, n, total)
				if first != next {
					t.Fatalf("total %d, shard %d/%d starts at %d, want %d", total, k, n, first, next)
				}
				size := last - first + 1
				if size < 1 {
					t.Fatalf("total %d, shard %d/%d is empty", total, k, n)
				}
				small, large = min(small, size), max(large, size)
				next = last + 1
				if err := NewShard(k, n, total).Check(); err != nil {
					t.Fatal(err)
				}
			}
			if next != total+1 {
				t.Fatalf("total %d in %d shards: covered up to %d", total, n, next-1)
			}
			if large-small > 1 {
				t.Fatalf("total %d in %d shards: sizes %d to %d", total, n, small, large)
			}
		}
	}
}

func TestShardCheck_Refuses(t *testing.T) {
	for _, s := range []Shard{
		{Index: 0, Count: 2, First: 1, Last: 5, Total: 10},
		{Index: 3, Count: 2, First: 1, Last: 5, Total: 10},
		{Index: 1, Count: 20, First: 1, Last: 0, Total: 10},
		{Index: 1, Count: 2, First: 1, Last: 6, Total: 10},
		{Index: 2, Count: 2, First: 5, Last: 10, Total: 10},
	} {
		if err := s.Check(); err == nil {
			t.Errorf("%+v: accepted", s)
		}
	}
}

// fleetRun is a synthetic run of a whole fleet: every device with its row
// and its requests, so that it can be reported whole or in shards.
type fleetRun struct {
	start time.Time
	devs  []Device
	reqs  [][]request // by device
}

type request struct {
	typ  string
	sent time.Duration // since the start
	d    time.Duration
}

func newFleetRun(n, reqsPerDevice int, seed uint64) *fleetRun {
	rng := rand.New(rand.NewPCG(seed, 1))
	f := &fleetRun{start: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	outcomes := []string{"updated", "rolled_back", "bricked", "pending"}
	for i := range n {
		d := Device{ID: fmt.Sprintf("os::00256D-SIM%06d", i+1), Board: []string{"uboot-nor", "mcuboot-nrf52"}[i%2],
			Outcome: outcomes[rng.IntN(len(outcomes))], Version: "1.0.0", Boots: uint32(rng.IntN(4)), Timeline: []Step{}}
		for s := range rng.IntN(4) {
			d.Timeline = append(d.Timeline, Step{At: Seconds(float64(s) + rng.Float64()), Kind: "download"})
		}
		if rng.IntN(5) == 0 {
			d.Cuts = []Cut{{At: Seconds(rng.Float64() * 10), Phase: "install", Op: "erase", Addr: "0x1000", Partition: "b"}}
		}
		f.devs = append(f.devs, d)
		var rs []request
		for range rng.IntN(2 * reqsPerDevice) {
			rs = append(rs, request{typ: []string{"Notify", "Get"}[rng.IntN(2)], sent: time.Duration(rng.Int64N(int64(30 * time.Minute))),
				d: time.Duration(rng.Int64N(int64(2 * time.Second)))})
		}
		f.reqs = append(f.reqs, rs)
	}
	return f
}

// report is the report of devices lo … hi-1 (a shard of k of n when n > 0).
func (f *fleetRun) report(lo, hi, k, n int) *Report {
	lat := NewLatencySplit(f.start)
	outs := map[string]int{}
	msgs := map[string]int{}
	r := &Report{Scenario: "fleet", Clock: "real", Seed: 7, MTP: "MQTT", Start: f.start, End: f.start.Add(31 * time.Minute)}
	r.Duration = Seconds(r.End.Sub(r.Start).Seconds())
	r.Wall = r.Duration
	for i := lo; i < hi; i++ {
		r.Fleet = append(r.Fleet, f.devs[i])
		outs[f.devs[i].Outcome]++
		for _, q := range f.reqs[i] {
			lat.Observe(q.typ, f.start.Add(q.sent), q.d)
			msgs["sent "+q.typ]++
		}
	}
	r.Devices = hi - lo
	r.Outcomes = OutcomeCounts(outs)
	r.Messages = SortedCounts(msgs)
	r.Latency, r.LatencyByType, r.LatencyOverTime = lat.Latency(), lat.ByType(), lat.OverTime()
	r.Progress = []Sample{{At: 0, Outcomes: OutcomeCounts(map[string]int{"pending": hi - lo})}}
	r.Images = []Image{{Board: "uboot-nor", Version: "1.0.0", Format: "byfw", Bytes: 100, SHA256: "ab"}}
	if n > 0 {
		r.Shard = NewShard(k, n, len(f.devs))
		r.LatencyState = lat.State()
	}
	fillCounts(r, nil, nil, nil)
	Complete(r)
	return r
}

func (f *fleetRun) shards(n int) []Part {
	var parts []Part
	for k := 1; k <= n; k++ {
		first, last := ShardRange(k, n, len(f.devs))
		parts = append(parts, Part{Report: f.report(first-1, last, k, n)})
	}
	return parts
}

// roundTrip writes r as report.json and reads it back.
func roundTrip(t *testing.T, r *Report) *Report {
	t.Helper()
	var b bytes.Buffer
	if err := WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(&b)
	if err != nil {
		t.Fatal(err)
	}
	return back
}

func TestMerge_EqualsTheWholeFleet(t *testing.T) {
	for _, c := range []struct {
		devices, reqs, shards int
	}{
		{1, 3, 1}, {10, 3, 3}, {301, 5, 4}, {1000, 20, 7},
		{3000, 40, 3}, // 120,000 requests: beyond ExactCap, merged and whole both fold them
	} {
		t.Run(fmt.Sprintf("%d-devices-%d-shards", c.devices, c.shards), func(t *testing.T) {
			f := newFleetRun(c.devices, c.reqs, uint64(c.devices))
			whole := f.report(0, c.devices, 0, 0)
			parts := f.shards(c.shards)
			for i := range parts {
				parts[i].Report = roundTrip(t, parts[i].Report)
			}
			m, err := Merge(parts)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m.Fleet, whole.Fleet) {
				t.Fatal("merged device rows differ from the whole fleet's")
			}
			for _, x := range []struct {
				name      string
				got, want any
			}{
				{"latency", m.Latency, whole.Latency}, {"by type", m.LatencyByType, whole.LatencyByType},
				{"over time", m.LatencyOverTime, whole.LatencyOverTime}, {"outcomes", m.Outcomes, whole.Outcomes},
				{"by board", m.ByBoard, whole.ByBoard}, {"messages", m.Messages, whole.Messages},
				{"analysis", m.Analysis, whole.Analysis}, {"images", m.Images, whole.Images},
				{"devices", m.Devices, whole.Devices}, {"duration", m.Duration, whole.Duration},
			} {
				if !reflect.DeepEqual(x.got, x.want) {
					t.Errorf("%s: merged %+v, whole %+v", x.name, x.got, x.want)
				}
			}
			if len(m.Shards) != c.shards || m.Shard != nil || m.LatencyState != nil {
				t.Errorf("shards %+v, shard %v, state %v", m.Shards, m.Shard, m.LatencyState != nil)
			}
			for i, s := range m.Shards {
				if s.Index != i+1 || s.Status != ShardOK {
					t.Errorf("shard %d: %+v", i+1, s)
				}
			}
			// The merged report is a report: it writes and reads back.
			roundTrip(t, m)
		})
	}
}

func TestMerge_OrderOfPartsDoesNotMatter(t *testing.T) {
	f := newFleetRun(500, 6, 3)
	a, err := Merge(f.shards(5))
	if err != nil {
		t.Fatal(err)
	}
	p := f.shards(5)
	p[0], p[4], p[1], p[3] = p[4], p[0], p[3], p[1]
	b, err := Merge(p)
	if err != nil {
		t.Fatal(err)
	}
	var ja, jb bytes.Buffer
	if err := WriteJSON(&ja, a); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSON(&jb, b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ja.Bytes(), jb.Bytes()) {
		t.Fatal("merging the same shards in another order gave another report")
	}
}

func TestMerge_ShardsStartedApart(t *testing.T) {
	f := newFleetRun(40, 4, 9)
	parts := f.shards(2)
	late := parts[1].Report
	late.Start = late.Start.Add(3 * time.Second)
	late.End = late.End.Add(3 * time.Second)
	m, err := Merge(parts)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Start.Equal(f.start) || !m.End.Equal(late.End) || float64(m.Duration) != late.End.Sub(f.start).Seconds() {
		t.Fatalf("start %s end %s duration %v", m.Start, m.End, m.Duration)
	}
	for _, d := range m.Fleet {
		for _, orig := range late.Fleet {
			if orig.ID == d.ID && len(d.Timeline) > 0 && d.Timeline[0].At != orig.Timeline[0].At+3 {
				t.Fatalf("%s: timeline at %v, shard said %v (+3 s expected)", d.ID, d.Timeline[0].At, orig.Timeline[0].At)
			}
		}
	}
	if m.Latency.Count != f.report(0, 40, 0, 0).Latency.Count {
		t.Fatal("requests lost")
	}
}

func TestMerge_LostShard(t *testing.T) {
	f := newFleetRun(30, 2, 5)
	parts := f.shards(3)
	sh := parts[1].Report.Shard
	var devs []Device
	for _, d := range parts[1].Report.Fleet {
		devs = append(devs, Device{ID: d.ID, Board: d.Board})
	}
	parts[1] = Part{Source: "worker 2", Shard: sh, Lost: "killed by signal 9", Devices: devs}
	m, err := Merge(parts)
	if err != nil {
		t.Fatal(err)
	}
	if m.Devices != 30 || countOf(m.Outcomes, Lost) != len(devs) {
		t.Fatalf("devices %d, outcomes %+v", m.Devices, m.Outcomes)
	}
	if s := m.Shards[1]; s.Status != ShardLost || s.Detail != "killed by signal 9" || s.Devices != len(devs) {
		t.Fatalf("shard 2: %+v", s)
	}
	if countOf(m.Errors, "shards lost") != 1 {
		t.Fatalf("errors %+v", m.Errors)
	}
	for _, d := range m.Fleet {
		lostOne := d.ID >= devs[0].ID && d.ID <= devs[len(devs)-1].ID
		if lostOne != (d.Outcome == Lost) {
			t.Fatalf("%s: outcome %s", d.ID, d.Outcome)
		}
	}
	var b bytes.Buffer
	if err := WriteSummary(&b, m); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "lost") {
		t.Fatalf("the summary does not show the lost devices:\n%s", b.String())
	}
	roundTrip(t, m)
	if err := WriteHTML(&bytes.Buffer{}, m); err != nil {
		t.Fatal(err)
	}
}

func TestMerge_Refuses(t *testing.T) {
	f := newFleetRun(20, 2, 11)
	for _, c := range []struct {
		name  string
		spoil func([]Part) []Part
		want  string
	}{
		{"nothing", func([]Part) []Part { return nil }, "no shard reports"},
		{"no shard field", func(p []Part) []Part { p[0].Report.Shard = nil; return p }, "not a shard's report"},
		{"other scenario", func(p []Part) []Part { p[1].Report.Scenario = "other"; return p }, `scenario "other"`},
		{"other seed", func(p []Part) []Part { p[2].Report.Seed = 8; return p }, "seed 8, not 7"},
		{"other clock", func(p []Part) []Part { p[1].Report.Clock = "virtual"; return p }, "virtual clock"},
		{"other MTP", func(p []Part) []Part { p[1].Report.MTP = "STOMP"; return p }, "MTP STOMP"},
		{"shard twice", func(p []Part) []Part { return append(p, Part{Report: f.report(6, 13, 2, 3)}) }, "both shard 2/3"},
		{"missing shard", func(p []Part) []Part { return p[:2] }, "shard 3/3 (devices 14–20) missing"},
		{"other count", func(p []Part) []Part { p[2] = Part{Report: f.report(10, 20, 2, 2)}; return p }, "not the same fleet"},
		{"bad range", func(p []Part) []Part { p[1].Report.Shard.Last++; return p }, "holds devices 7–13, not 7–14"},
		{"rows missing", func(p []Part) []Part { p[0].Report.Fleet = p[0].Report.Fleet[1:]; return p }, "device rows"},
		{"device twice", func(p []Part) []Part {
			r := p[1].Report
			r.Fleet[0] = p[0].Report.Fleet[0]
			return p
		}, "is in two shards"},
		{"no latency state", func(p []Part) []Part { p[0].Report.LatencyState = nil; return p }, "no latency_state"},
		{"bad latency state", func(p []Part) []Part { p[0].Report.LatencyState.All.Coarse[3]++; return p }, "coarse buckets"},
		{"expectations", func(p []Part) []Part {
			p[0].Report.Expectations = []Expectation{{Expr: "updated >= 0.9"}}
			return p
		}, "expectations"},
		{"all lost", func(p []Part) []Part {
			for i := range p {
				p[i] = Part{Shard: p[i].Report.Shard, Lost: "killed", Devices: p[i].Report.Fleet}
			}
			return p
		}, "every shard was lost"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Merge(c.spoil(f.shards(3)))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want one saying %q", err, c.want)
			}
		})
	}
}

func TestHistogramState_RoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 17, ExactCap, ExactCap + 1, 3 * ExactCap / 2} {
		var h Histogram
		for range n {
			h.Observe(time.Duration(rng.Int64N(int64(20 * time.Second))))
		}
		back, err := restoreHistogram(h.State())
		if err != nil {
			t.Fatalf("n %d: %v", n, err)
		}
		if got, want := back.Latency(), h.Latency(); !reflect.DeepEqual(got, want) {
			t.Fatalf("n %d: restored %+v, want %+v", n, got, want)
		}
	}
}

func TestHistogramState_Refuses(t *testing.T) {
	var h Histogram
	h.Observe(time.Millisecond)
	h.Observe(time.Second)
	good := h.State()
	for name, spoil := range map[string]func(*HistogramState){
		"short coarse":    func(s *HistogramState) { s.Coarse = s.Coarse[:3] },
		"n too big":       func(s *HistogramState) { s.N = 3 },
		"negative min":    func(s *HistogramState) { s.Min = -1 },
		"max below min":   func(s *HistogramState) { s.Max = 0 },
		"sample outside":  func(s *HistogramState) { s.Sample[1] = int64(2 * time.Second) },
		"sample and fine": func(s *HistogramState) { s.Fine = []FineBucket{{I: 1, N: 1}} },
		"coarse wrong":    func(s *HistogramState) { s.Coarse[0], s.Coarse[16] = s.Coarse[0]+1, s.Coarse[16]-1 },
		"fine beyond": func(s *HistogramState) {
			*s = HistogramState{N: ExactCap + 1, Coarse: coarseOf(ExactCap + 1), Fine: []FineBucket{{I: fineLen, N: ExactCap + 1}}}
		},
		"fine unsorted": func(s *HistogramState) {
			*s = HistogramState{N: ExactCap + 1, Coarse: coarseOf(ExactCap + 1), Fine: []FineBucket{{I: 5, N: 1}, {I: 4, N: ExactCap}}}
		},
		"fine short": func(s *HistogramState) {
			*s = HistogramState{N: ExactCap + 1, Coarse: coarseOf(ExactCap + 1), Fine: []FineBucket{{I: 5, N: 1}}}
		},
		"sample beyond": func(s *HistogramState) {
			*s = HistogramState{N: ExactCap + 1, Coarse: coarseOf(ExactCap + 1), Sample: []int64{1}}
		},
		"coarse overflows": func(s *HistogramState) { s.Coarse[0] = ^uint64(0) },
	} {
		st := good
		st.Coarse = append([]uint64(nil), good.Coarse...)
		st.Sample = append([]int64(nil), good.Sample...)
		spoil(&st)
		if _, err := restoreHistogram(st); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// coarseOf is a coarse bucket list with n observations in the first.
func coarseOf(n uint64) []uint64 {
	c := make([]uint64, len(bucketBounds)+1)
	c[0] = n
	return c
}

func TestLatencySplit_MergeStateRefusesAndKeeps(t *testing.T) {
	l := NewLatencySplit(time.Unix(0, 0))
	l.Observe("Get", time.Unix(1, 0), time.Millisecond)
	before := l.Latency()
	src := NewLatencySplit(time.Unix(0, 0))
	src.Observe("Get", time.Unix(2, 0), time.Second)
	for name, spoil := range map[string]func(*LatencyState){
		"width":         func(s *LatencyState) { s.Width = 5 },
		"type unsorted": func(s *LatencyState) { s.ByType = append(s.ByType, s.ByType[0]) },
		"span order":    func(s *LatencyState) { s.Spans = append(s.Spans, s.Spans[0]) },
		"span beyond":   func(s *LatencyState) { s.Spans[0].K = maxSlices },
		"counts":        func(s *LatencyState) { s.ByType = nil },
	} {
		st := src.State()
		spoil(st)
		if err := l.MergeState(st, 0); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := l.MergeState(src.State(), -time.Second); err == nil {
		t.Error("a negative offset: accepted")
	}
	if !reflect.DeepEqual(l.Latency(), before) {
		t.Fatal("a refused state changed the split")
	}
	if err := l.MergeState(src.State(), time.Hour); err != nil {
		t.Fatal(err)
	}
	if l.Count() != 2 || len(l.OverTime()) != 2 {
		t.Fatalf("count %d, over time %+v", l.Count(), l.OverTime())
	}
}
