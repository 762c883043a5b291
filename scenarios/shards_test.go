package scenarios

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"brickyard/scenarios/report"
	"brickyard/sim/fleet"
	"brickyard/sim/index"
)

// The shards' board groups are the fleet's, cut at the shards' edges:
// together, every device once, in fleet order.
func TestShardGroups(t *testing.T) {
	groups := []fleet.BoardGroup{{Name: "a", Count: 5, Wave: 1}, {Name: "b", Count: 3, Wave: 1}, {Name: "a", Count: 4, Wave: 2}}
	for _, c := range []struct {
		lo, hi int
		want   string
	}{
		{0, 12, "a×5/1 b×3/1 a×4/2"},
		{0, 4, "a×4/1"},
		{4, 8, "a×1/1 b×3/1"},
		{8, 12, "a×4/2"},
		{5, 8, "b×3/1"},
		{6, 7, "b×1/1"},
		{12, 12, ""},
	} {
		var got []string
		for _, g := range shardGroups(groups, c.lo, c.hi) {
			got = append(got, fmt.Sprintf("%s×%d/%d", g.Name, g.Count, g.Wave))
		}
		if s := strings.Join(got, " "); s != c.want {
			t.Errorf("devices %d–%d: %q, want %q", c.lo, c.hi, s, c.want)
		}
	}
	for n := 1; n <= 12; n++ { // any number of shards covers the fleet once
		total := 0
		for k := 1; k <= n; k++ {
			first, last := report.ShardRange(k, n, 12)
			for _, g := range shardGroups(groups, first-1, last) {
				total += g.Count
			}
		}
		if total != 12 {
			t.Errorf("%d shards hold %d devices, want 12", n, total)
		}
	}
}

// A scenario read again from its Ref is the same scenario: its text, its
// folder, and the clock, seed and size it was given since.
func TestRef(t *testing.T) {
	sc, err := Builtin("default")
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.SetClock("real"); err != nil {
		t.Fatal(err)
	}
	sc.Seed = 42
	if err := sc.Scale(77); err != nil {
		t.Fatal(err)
	}
	back, err := FromRef(sc.Ref())
	if err != nil {
		t.Fatal(err)
	}
	if back.Devices() != 77 || back.Seed != 42 || back.Clock != "real" || back.Source() != sc.Source() ||
		!slices.Equal(counts(back), counts(sc)) {
		t.Fatalf("read again: %d devices %v, seed %d, clock %s, source %s", back.Devices(), counts(back), back.Seed, back.Clock, back.Source())
	}
	for _, c := range []struct {
		name string
		edit func(*Ref)
		want string
	}{
		{"no text", func(r *Ref) { r.Text = nil }, "without the scenario's text"},
		{"seed 0", func(r *Ref) { r.Seed = 0 }, "seed 0"},
		{"clock", func(r *Ref) { r.Clock = "wall" }, `"wall": want virtual or real`},
		{"size", func(r *Ref) { r.Devices = 2_000_000 }, "want 1 to 1,000,000"},
		{"text", func(r *Ref) { r.Text = []byte("name: x\nbogus: 1\n") }, "bogus"},
		{"huge", func(r *Ref) { r.Text = make([]byte, maxScenarioFile+1) }, "more than the"},
	} {
		r := sc.Ref()
		c.edit(&r)
		if _, err := FromRef(r); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

func counts(sc *Scenario) []int {
	var out []int
	for _, b := range sc.Fleet.Boards {
		out = append(out, b.Count)
	}
	return out
}

// The fleet a run's hosts held, as the report reads it: each device's row
// where its process brought it back, lost where none did, and a process
// whose devices are not the run's is an error, not a report.
func TestRowsView(t *testing.T) {
	sc, err := Builtin("default")
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.Scale(10); err != nil {
		t.Fatal(err)
	}
	b, err := sc.build(profiles(t), readLimited, "http://fw.invalid")
	if err != nil {
		t.Fatal(err)
	}
	res := &HostsResult{Rows: make([]DeviceRow, 10)}
	for i, d := range b.devices[:5] {
		res.Rows[i] = DeviceRow{ID: d.ID, Board: d.Board, Outcome: "updated", Version: "2.0.0", Boots: 2}
	}
	v, err := newRowsView(sc, b, res)
	if err != nil {
		t.Fatal(err)
	}
	for n := range 10 {
		rec, d := v.Record(n), b.devices[n]
		want := "updated"
		if n >= 5 {
			want = report.Lost
		}
		if rec.ID != d.ID || rec.Board != d.Board || rec.Wave != d.Wave || rec.Outcome != want {
			t.Errorf("device %d: %+v, want %s %s wave %d %s", n, rec, d.ID, d.Board, d.Wave, want)
		}
	}
	res.Rows[2].ID = "os::someone-else"
	if _, err := newRowsView(sc, b, res); err == nil || !strings.Contains(err.Error(), "someone-else") {
		t.Errorf("a foreign row: %v", err)
	}
}

// Devices in other processes are for real time only, and their hosts'
// failure to run them at all is the run's error.
func TestHostsRefused(t *testing.T) {
	sc, err := Builtin("power-cuts-10k")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Run(context.Background(), sc, Options{Profiles: profiles(t), Hosts: failingHosts{}})
	if err == nil || !strings.Contains(err.Error(), "devices in other processes are for real time") {
		t.Fatalf("virtual run with hosts: %v", err)
	}
	sc, err = Builtin("default")
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.Scale(4); err != nil {
		t.Fatal(err)
	}
	r, err := Run(context.Background(), sc, Options{Profiles: profiles(t), Hosts: failingHosts{}})
	if r != nil || err == nil || err.Error() != "no workers" {
		t.Fatalf("hosts that fail: report %v, %v", r != nil, err)
	}
}

type failingHosts struct{}

func (failingHosts) Run(context.Context, Endpoint, *index.Index, Metrics) (*HostsResult, error) {
	return nil, fmt.Errorf("no workers")
}

func TestAddCounts(t *testing.T) {
	got := AddCounts([]report.Count{{Name: "b", N: 1}, {Name: "a", N: 2}}, nil, []report.Count{{Name: "b", N: 3}})
	if want := []report.Count{{Name: "a", N: 2}, {Name: "b", N: 4}}; !slices.Equal(got, want) {
		t.Errorf("%v, want %v", got, want)
	}
	if AddCounts(nil, nil) != nil {
		t.Error("nothing added is nil")
	}
}
