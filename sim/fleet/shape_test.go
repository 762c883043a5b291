package fleet

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"brickyard/sim/device"
	"brickyard/sim/faults"
	"brickyard/sim/index"
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

// A diurnal pattern in virtual time: the share of devices on follows the
// curve, Low at LowAt and all at the peak, day after day; each device is
// off once a day, in a window centred on LowAt.
func TestVirtualDiurnal(t *testing.T) {
	const n = 400
	cfg, _ := campaignConfig(t, 9, n, []string{"uboot-nor", "esp32-ota"}, 365*24*time.Hour, nil)
	cfg.ConnectRate, cfg.ConnectJitter = 0, 0
	cfg.Diurnal = Diurnal{Period: 24 * time.Hour, Low: 0.4, LowAt: 6 * time.Hour}
	v, err := NewVirtual(cfg)
	if err != nil {
		t.Fatal(err)
	}
	on := func() int {
		k := 0
		for i := range n {
			if v.Device(i).State() != 0 { // device.Off is the zero state
				k++
			}
		}
		return k
	}
	for _, c := range []struct {
		at     time.Duration
		lo, hi int
	}{
		{time.Hour, 0.52 * n, 0.72 * n},      // the curve: 1 at 18h, 0.4 at 6h; at 1h 0.62
		{6 * time.Hour, 0.33 * n, 0.47 * n},  // the low: 0.4
		{18 * time.Hour, n, n},               // the peak: everyone
		{30 * time.Hour, 0.33 * n, 0.47 * n}, // the next day's low
		{42*time.Hour + time.Minute, n, n},   // and peak
	} {
		if err := v.RunUntil(t0.Add(c.at)); err != nil {
			t.Fatal(err)
		}
		if k := on(); k < c.lo || k > c.hi {
			t.Errorf("at %v: %d of %d devices on, want %d to %d", c.at, k, n, c.lo, c.hi)
		}
	}
}

// The off window of a threshold: none at or below Low, centred on LowAt,
// wider the higher the threshold, never longer than the period.
func TestDiurnalWindow(t *testing.T) {
	d := Diurnal{Period: 24 * time.Hour, Low: 0.5, LowAt: 3 * time.Hour}
	if _, _, ok := d.offWindow(0.5, 0); ok {
		t.Error("a threshold at Low is off")
	}
	prev := time.Duration(0)
	for _, u := range []float64{0.51, 0.6, 0.75, 0.9, 0.999} {
		s, e, ok := d.offWindow(u, time.Hour*24)
		if !ok || (s+e)/2 != 27*time.Hour || e-s <= prev || e-s >= 24*time.Hour {
			t.Errorf("u %v: [%v, %v)", u, s, e)
		}
		prev = e - s
	}
	// At u = 0.75 the curve 0.5 + 0.25(1+cos θ) is below 0.75 for half the day.
	if s, e, _ := d.offWindow(0.75, 24*time.Hour); e-s != 12*time.Hour && e-s != 12*time.Hour-2 {
		t.Errorf("u 0.75: %v long", e-s)
	}
	// A window that began before the start is cut to it.
	if s, e, _ := d.offWindow(0.9, 0); s != 0 || e <= 3*time.Hour {
		t.Errorf("first window [%v, %v)", s, e)
	}
}

// The diurnal pattern in real time: every device (Low 0: every threshold
// is above it) goes dark once in the period, its power off, and comes
// back on, boots and reconnects after the window.
func TestRealDiurnal(t *testing.T) {
	const n = 8
	dialer := idleController(t)
	f, s := factory(t, "uboot-nor")
	var mu sync.Mutex
	seen := map[string][]string{}
	back := make(chan string, n)
	cfg := RealConfig{Seed: 4, Schema: s, Boards: []BoardGroup{{Name: "uboot-nor", Factory: f, Count: n}},
		Dialer:  dialer,
		Device:  func(_ int, c *device.Config) { c.RebootDuration = 50 * time.Millisecond },
		Diurnal: Diurnal{Period: 3 * time.Second, Low: 0, LowAt: 1500 * time.Millisecond},
		Observe: Observer{Event: func(id, kind, detail string, _ time.Time) {
			mu.Lock()
			defer mu.Unlock()
			switch {
			case kind == "traffic" || kind == "power-cut" || kind == "power-on":
				seen[id] = append(seen[id], kind+" "+strings.Fields(detail + " x")[0])
			case kind == "link-up" && len(seen[id]) > 0 && strings.HasPrefix(seen[id][len(seen[id])-1], "power-on") && slices.Contains(seen[id], "traffic diurnal"):
				seen[id] = append(seen[id], "link-up")
				back <- id
			}
		}}}
	r, err := NewReal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- r.Run(ctx) }()
	for range n {
		select {
		case <-back:
		case <-ctx.Done():
			mu.Lock()
			t.Fatalf("not every device went dark and came back: %v", seen)
		}
	}
	cancel()
	<-ran
	mu.Lock()
	defer mu.Unlock()
	for id, s := range seen {
		// Dark (its power cut, unless it was not on yet), then on again:
		// the boot, then the session.
		got := strings.Join(s, ", ")
		if strings.Count(got, "traffic diurnal") < 2 || !strings.Contains(got, "traffic diurnal, power-on") || strings.Contains(got, "traffic diurnal, traffic diurnal, power-cut") {
			t.Errorf("%s: %s", id, got)
		}
	}
}

// late-complete in virtual time: every device's Download() OperationComplete
// is held back and sent only once the device has rebooted into its new
// image and opened a session again; the update still lands.
func TestVirtualLateComplete(t *testing.T) {
	const n = 10
	plan := faults.Plan{{Kind: faults.LateComplete, Share: 1}}
	cfg, camp := campaignConfig(t, 5, n, []string{"uboot-nor"}, 20*time.Second, plan)
	type ev struct {
		kind string
		at   time.Duration
	}
	var evs = map[string][]ev{}
	cfg.Event = func(id, kind, detail string, at time.Time) {
		if kind == "misbehave" {
			kind += " " + strings.Join(strings.Fields(detail)[:2], " ")
		}
		evs[id] = append(evs[id], ev{kind, at.Sub(t0)})
	}
	idx, err := index.New()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Index = idx
	v, err := NewVirtual(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.RunUntil(t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for id, es := range evs {
		var held, boot2, sent time.Duration = -1, -1, -1
		boots := 0
		for _, e := range es {
			switch {
			case strings.HasPrefix(e.kind, "misbehave late-complete msg_id"):
				held = e.at
			case e.kind == "boot":
				boots++
				if boots == 2 {
					boot2 = e.at
				}
			case strings.HasPrefix(e.kind, "misbehave late-complete sent"):
				sent = e.at
			}
		}
		if held < 0 || boot2 < held || sent < boot2 {
			t.Errorf("%s: held at %v, second boot at %v, sent at %v", id, held, boot2, sent)
		}
	}
	if len(evs) != n || camp.OperComplete != n || idx.Count(index.ByOutcome, "updated") != n {
		t.Errorf("%d devices, %d OperationCompletes, outcomes %v", len(evs), camp.OperComplete, idx.Counts(index.ByOutcome))
	}
}
