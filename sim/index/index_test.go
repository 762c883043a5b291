package index

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
)

func TestPutCountWatch(t *testing.T) {
	x, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		board := "uboot-nor"
		if i%2 == 1 {
			board = "esp32-ota"
		}
		if err := x.Put(Device{ID: fmt.Sprintf("os::012345-SIM%06d", i), Board: board, Version: "1.0.0"}); err != nil {
			t.Fatal(err)
		}
	}
	if x.Len() != 10 || x.Count(ByBoard, "esp32-ota") != 5 || x.Count(ByOutcome, "pending") != 10 {
		t.Fatalf("len %d, esp %d, pending %d", x.Len(), x.Count(ByBoard, "esp32-ota"), x.Count(ByOutcome, "pending"))
	}
	updated := x.Watch(ByOutcome, "updated")
	any := x.Watch("", "")
	if err := x.Update("os::012345-SIM000003", func(d *Device) { d.Outcome, d.Version = "updated", "2.0.0" }); err != nil {
		t.Fatal(err)
	}
	for name, ch := range map[string]<-chan struct{}{"outcome=updated": updated, "table": any} {
		select {
		case <-ch:
		case <-time.After(time.Second):
			t.Fatalf("watch %s did not fire", name)
		}
	}
	d, ok := x.Get("os::012345-SIM000003")
	if !ok || d.Board != "esp32-ota" || d.Version != "2.0.0" || d.Conn != "disconnected" {
		t.Fatalf("%+v", d)
	}
	c := x.Counts(ByVersion)
	if c["1.0.0"] != 9 || c["2.0.0"] != 1 {
		t.Fatalf("counts %v", c)
	}
	if all := x.All(); len(all) != 10 || all[0].ID != "os::012345-SIM000000" {
		t.Fatalf("All: %d first %q", len(all), all[0].ID)
	}
	if err := x.Put(Device{}); err == nil {
		t.Fatal("a device without an ID was stored")
	}
	if err := x.PutAll([]Device{{ID: "a"}, {ID: ""}}); err == nil || x.Len() != 10 {
		t.Fatal("a batch with a bad record was partly stored")
	}
}

func TestConcurrentWriters(t *testing.T) {
	x, _ := New()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				id := fmt.Sprintf("d%d-%d", w, i%20)
				_ = x.Update(id, func(d *Device) { d.Boots++ })
			}
		}()
	}
	wg.Wait()
	total := 0
	for _, d := range x.All() {
		total += int(d.Boots)
	}
	if x.Len() != 160 || total != 1600 {
		t.Fatalf("len %d boots %d: updates were lost", x.Len(), total)
	}
}

// BenchmarkIndexMemory reports the heap per indexed device at 100,000.
func BenchmarkIndexMemory(b *testing.B) {
	for b.Loop() {
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		x, _ := New()
		batch := make([]Device, 0, 1000)
		for i := range 100_000 {
			batch = append(batch, Device{ID: fmt.Sprintf("os::012345-SIM%06d", i), Board: "uboot-nor", Version: "1.0.0", Wave: i % 5})
			if len(batch) == cap(batch) {
				_ = x.PutAll(batch)
				batch = batch[:0]
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/100_000, "B/device")
		runtime.KeepAlive(x)
	}
}

// TestWatchSets: a watch on a set fires when a device enters it, leaves
// it or changes in it; sets that empty disappear from Counts.
func TestWatchSets(t *testing.T) {
	x, _ := New()
	if err := x.PutAll([]Device{{ID: "a", Phase: "idle"}, {ID: "b", Phase: "idle"}}); err != nil {
		t.Fatal(err)
	}
	fired := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		case <-time.After(50 * time.Millisecond):
			return false
		}
	}
	// (A watch on a set no device is in may also fire early, at a change
	// nearby: callers look again, as with any watch.)
	idle, trial := x.Watch(ByPhase, "idle"), x.Watch(ByPhase, "trial")
	_ = x.Update("a", func(d *Device) { d.Boots++ }) // changes in idle
	if !fired(idle) {
		t.Error("a change inside phase=idle did not fire its watch")
	}
	_ = x.Update("b", func(d *Device) { d.Phase = "trial" }) // leaves idle, enters trial
	if !fired(trial) {
		t.Error("a device entering phase=trial did not fire its watch")
	}
	if c := x.Counts(ByPhase); len(c) != 2 || c["idle"] != 1 || c["trial"] != 1 {
		t.Errorf("counts %v", c)
	}
	idle = x.Watch(ByPhase, "idle")
	_ = x.Update("a", func(d *Device) { d.Phase = "trial" })
	if !fired(idle) {
		t.Error("the last device leaving phase=idle did not fire its watch")
	}
	if c := x.Counts(ByPhase); len(c) != 1 || c["trial"] != 2 || x.Count(ByPhase, "idle") != 0 {
		t.Errorf("counts %v", c)
	}
	if x.Count("nope", "x") != 0 || len(x.Counts("nope")) != 0 || !fired(x.Watch("nope", "x")) {
		t.Error("an unknown field")
	}
	if x.Count("id", "a") != 1 || x.Counts("id")[""] != 2 {
		t.Error("the id field")
	}
	if d, ok := x.Get("b"); !ok || d != (Device{ID: "b", Board: "unknown", Version: "unknown", Phase: "trial", Conn: "disconnected", Outcome: "pending"}) {
		t.Errorf("Get: %+v", d)
	}
}

// TestConcurrentReaders: readers see whole records while writers add
// devices and new values.
func TestConcurrentReaders(t *testing.T) {
	x, _ := New()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				_ = x.Put(Device{ID: fmt.Sprintf("d%d-%d", w, i%50), Version: fmt.Sprintf("v%d", i), Phase: "idle", Boots: uint32(i)})
			}
		}()
	}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				for _, d := range x.All() {
					if d.Version == "" || d.Phase != "idle" || d.Board != "unknown" {
						t.Errorf("torn record %+v", d)
						return
					}
				}
				n := 0
				for _, c := range x.Counts(ByVersion) {
					n += c
				}
				if n > 200 {
					t.Errorf("%d devices by version", n)
				}
			}
		}()
	}
	wg.Wait()
	if x.Len() != 200 || x.Count(ByPhase, "idle") != 200 {
		t.Fatalf("len %d, idle %d", x.Len(), x.Count(ByPhase, "idle"))
	}
}
