package metrics

import (
	"fmt"
	"testing"
	"time"

	"brickyard/sim/index"
)

// BenchmarkMessage is the hot path: many goroutines counting messages of
// already-seen types.
func BenchmarkMessage(b *testing.B) {
	m := New()
	types := []string{"Get", "GetResp", "Operate", "OperateResp", "Notify", "NotifyResp"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			m.Message(Sent, types[i%len(types)])
			i++
		}
	})
}

// BenchmarkLatency is the histogram's hot path, in parallel.
func BenchmarkLatency(b *testing.B) {
	m := New()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		d := time.Millisecond
		for pb.Next() {
			m.Latency(d)
			d += time.Microsecond
		}
	})
}

// BenchmarkFollow10k is one recount of a 10,000-device index: what Follow
// does after each (coalesced) change.
func BenchmarkFollow10k(b *testing.B) {
	idx, err := index.New()
	if err != nil {
		b.Fatal(err)
	}
	phases := []string{"idle", "downloading", "installing", "rebooting", "trial"}
	outcomes := []string{"pending", "updated", "rolled_back", "bricked"}
	ds := make([]index.Device, 10_000)
	for i := range ds {
		ds[i] = index.Device{
			ID:      fmt.Sprintf("dev-%05d", i),
			Board:   fmt.Sprintf("board%d", i%8),
			Version: fmt.Sprintf("1.%d", i%3),
			Phase:   phases[i%len(phases)],
			Conn:    "connected",
			Outcome: outcomes[i%len(outcomes)],
			Boots:   uint32(i % 4),
		}
	}
	putFleet(b, idx, ds...)
	m := New()
	b.ReportAllocs()
	for b.Loop() {
		m.fleet.recount(idx)
	}
}

// BenchmarkScrape is one Gather of the registry after a 10,000-device
// recount (the fleet gauges, counters, runtime and process collectors).
func BenchmarkScrape(b *testing.B) {
	m := New()
	ds := make([]index.Device, 10_000)
	for i := range ds {
		ds[i] = index.Device{ID: fmt.Sprintf("dev-%05d", i), Version: fmt.Sprintf("1.%d", i%3)}
	}
	m.fleet.snap.Store(summarise(ds))
	m.Message(Sent, "Get")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Registry().Gather(); err != nil {
			b.Fatal(err)
		}
	}
}
