package fleet

import (
	"slices"
	"sync"
	"testing"
	"time"

	"brickyard/sim/faults"
)

// The traffic shapes land in virtual time as they are defined: a ramp
// powers on Step devices every Every; a reconnect wave at a rate drops
// the k-th device of its share k/rate after its start, and each comes
// back; a boot storm within a window power-cycles each of its share at a
// point of it, and each boots again.
func TestVirtualTrafficShapes(t *testing.T) {
	const n = 60
	plan := faults.Plan{
		{Kind: faults.ReconnectWave, Share: 0.5, After: 5 * time.Minute, Rate: 10},
		{Kind: faults.BootStorm, Share: 0.25, After: 10 * time.Minute, Within: 30 * time.Second},
	}
	cfg, _ := campaignConfig(t, 3, n, []string{"uboot-nor", "esp32-ota"}, 24*time.Hour, plan)
	cfg.ConnectRate, cfg.ConnectJitter = 0, 0
	cfg.Ramp = Ramp{Step: 20, Every: time.Minute}
	type ev struct {
		id, kind string
		at       time.Duration
	}
	var mu sync.Mutex
	var evs []ev
	cfg.Event = func(id, kind, detail string, at time.Time) {
		mu.Lock()
		defer mu.Unlock()
		evs = append(evs, ev{id, kind + " " + detail, at.Sub(t0)})
	}
	v, err := NewVirtual(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.RunUntil(t0.Add(30 * time.Minute)); err != nil {
		t.Fatal(err)
	}

	var ons []time.Duration
	waves, storms := map[string]time.Duration{}, map[string]time.Duration{}
	for _, e := range evs {
		switch e.kind {
		case "power-on ":
			if e.at < 5*time.Minute {
				ons = append(ons, e.at)
			}
		case "traffic reconnect-wave":
			waves[e.id] = e.at
		case "traffic boot-storm":
			storms[e.id] = e.at
		}
	}
	// The ramp: 20 at 0, 20 at 1m, 20 at 2m.
	want := []time.Duration{}
	for k := range n {
		want = append(want, time.Duration(k/20)*time.Minute)
	}
	if !slices.Equal(ons, want) {
		t.Errorf("power-ons %v, want %v", ons, want)
	}
	// The wave: 30 devices, 100 ms apart from 5m.
	var at []time.Duration
	for _, d := range waves {
		at = append(at, d)
	}
	slices.Sort(at)
	if len(at) != n/2 {
		t.Fatalf("%d devices in the reconnect wave, want %d", len(at), n/2)
	}
	for k, d := range at {
		if w := 5*time.Minute + time.Duration(k)*100*time.Millisecond; d != w {
			t.Errorf("wave device %d dropped at %v, want %v", k, d, w)
		}
	}
	// The storm: 15 devices within [10m, 10m30s].
	if len(storms) != n/4 {
		t.Fatalf("%d devices in the boot storm, want %d", len(storms), n/4)
	}
	for id, d := range storms {
		if d < 10*time.Minute || d > 10*time.Minute+30*time.Second {
			t.Errorf("%s cycled at %v", id, d)
		}
	}
	// Each comes back: a wave's device opens a session after its drop, a
	// storm's boots after its cycle.
	back := func(id string, after time.Duration, kind string) bool {
		for _, e := range evs {
			if e.id == id && e.at > after && e.kind == kind {
				return true
			}
		}
		return false
	}
	for id, d := range waves {
		if !back(id, d, "link-up ") {
			t.Errorf("%s did not reconnect after the wave", id)
		}
	}
	for id, d := range storms {
		if !back(id, d, "link-up ") {
			t.Errorf("%s did not come back after the storm", id)
		}
	}
	if got := v.Record(0).Boots; got < 1 {
		t.Errorf("boots %d", got)
	}
}
