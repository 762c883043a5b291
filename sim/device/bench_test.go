package device

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"brickyard/boards"
	"brickyard/usp"
	"brickyard/usp/dm"
	pb "brickyard/usp/uspmsg"
)

// BenchmarkGetRequest is the in-process path of one request: a Record
// with a Get of Device.DeviceInfo. in, the GetResp Record out.
func BenchmarkGetRequest(b *testing.B) {
	h := newHarness(b, "uboot-nor", nil).boot()
	rec, err := h.ctrl.Seal(agentID, usp.NewRequest("bench", &pb.Get{ParamPaths: []string{"Device.DeviceInfo."}}))
	if err != nil {
		b.Fatal(err)
	}
	d, now := h.d, h.now
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		out := d.Receive(now, rec)
		if len(out.Records) != 1 {
			b.Fatalf("records %d", len(out.Records))
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkIdleDevices measures the marginal heap of an idle device
// (booted, connected, nothing running) in a fleet of 10,000 sharing one
// schema and one factory board. The board clones (the flash chips' page
// tables and wear counters) are measured apart and subtracted: B/device
// is the device core and its data model; flash-B/device is the chip.
func BenchmarkIdleDevices(b *testing.B) {
	const n = 10_000
	for _, board := range []string{"uboot-nor", "esp32-ota"} {
		b.Run(board, func(b *testing.B) {
			f := factory(b, board)
			s := schema(b)
			acl := &aclCache{m: map[string]*dm.ACL{}} // shared, as a fleet's
			for b.Loop() {
				boardsOnly := heapOf(func() any {
					bs := make([]*boards.Board, n)
					for i := range bs {
						bs[i] = f.Clone()
					}
					return bs
				})
				total := heapOf(func() any {
					ds := make([]*Device, n)
					for i := range ds {
						cfg := Config{EndpointID: fmt.Sprintf("os::00256D-SIM%06d", i), ControllerID: ctrlID, Seed: uint64(i), ACL: acl}
						d, err := New(cfg, f.Clone(), s)
						if err != nil {
							b.Fatal(err)
						}
						d.PowerOn(t0)
						d.Connected(t0.Add(time.Second))
						ds[i] = d
					}
					return ds
				})
				b.ReportMetric(float64(total-boardsOnly)/n, "B/device")
				b.ReportMetric(float64(boardsOnly)/n, "flash-B/device")
			}
		})
	}
}

// aclCache is a fleet's dm.ACLCache: one compiled ACL per set of roles.
type aclCache struct {
	mu sync.Mutex
	m  map[string]*dm.ACL
}

func (c *aclCache) ACL(key string, build func() *dm.ACL) *dm.ACL {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.m[key]
	if a == nil {
		a = build()
		c.m[key] = a
	}
	return a
}

// heapOf returns the live heap that build's result holds.
func heapOf(build func() any) int64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	v := build()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(v)
	return int64(after.HeapAlloc) - int64(before.HeapAlloc)
}
