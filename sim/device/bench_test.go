package device

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"brickyard/boards"
	"brickyard/sim/model"
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
// (booted, connected, its OnBoardRequest answered, nothing running) in a
// fleet of 10,000 sharing one schema and one factory board. The board
// clones (the flash chips' page tables and wear counters) are measured
// apart and subtracted: B/device is the device core and its data model;
// flash-B/device is the chip. "+onboarding" leaves the OnBoardRequest
// unanswered: what a device holds while it waits for its controller (the
// Notify kept for retries and its timer).
func BenchmarkIdleDevices(b *testing.B) {
	const n = 10_000
	vendor := model.Synthetic(2000)
	vs, err := NewSchemaWith(vendor)
	if err != nil {
		b.Fatal(err)
	}
	ctrl := usp.Codec{LocalID: ctrlID}
	for _, name := range []string{"uboot-nor", "esp32-ota", "uboot-nor+vendor2000", "uboot-nor+onboarding"} {
		b.Run(name, func(b *testing.B) {
			var vm *model.Model
			s, board := schema(b), name
			if base, ok := strings.CutSuffix(name, "+vendor2000"); ok {
				board, vm, s = base, vendor, vs
			}
			board, waiting := strings.CutSuffix(board, "+onboarding")
			f := factory(b, board)
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
						cfg := Config{EndpointID: fmt.Sprintf("os::00256D-SIM%06d", i), ControllerID: ctrlID, Seed: uint64(i), Model: vm, ACL: acl}
						d, err := New(cfg, f.Clone(), s)
						if err != nil {
							b.Fatal(err)
						}
						d.PowerOn(t0)
						out := d.Connected(t0.Add(time.Second))
						if !waiting {
							answerNotifies(b, ctrl, d, t0.Add(2*time.Second), out)
						}
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

// answerNotifies answers, as the controller, the Notifies of out that ask
// for a response (the OnBoardRequest of a first contact).
func answerNotifies(tb testing.TB, ctrl usp.Codec, d *Device, now time.Time, out Output) {
	answered := 0
	for _, rec := range out.Records {
		in, err := ctrl.Open(rec.Data)
		if err != nil {
			tb.Fatal(err)
		}
		nt := in.Msg.GetBody().GetRequest().GetNotify()
		if nt == nil || !nt.GetSendResp() {
			continue
		}
		resp, err := ctrl.Seal(d.cfg.EndpointID, usp.NewResponse(in.Msg.GetHeader().GetMsgId(), &pb.NotifyResp{SubscriptionId: nt.GetSubscriptionId()}))
		if err != nil {
			tb.Fatal(err)
		}
		d.Receive(now, resp)
		answered++
	}
	if answered == 0 {
		tb.Fatal("no Notify to answer: the device sent no OnBoardRequest")
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

// BenchmarkGetDevice: CPU per Get of "Device." (the whole tree), Record
// in and GetResp Record out, with the default model and with a
// 2,000-parameter vendor model on top. params is how many parameters the
// answer carries, ns/param the cost of one (obuspa's stock model answers
// 147 under Device.).
func BenchmarkGetDevice(b *testing.B) {
	for _, c := range []struct {
		name   string
		vendor int
	}{{"default", 0}, {"vendor2000", 2000}} {
		b.Run(c.name, func(b *testing.B) {
			var vm *model.Model
			if c.vendor > 0 {
				vm = model.Synthetic(c.vendor)
			}
			h := newHarness(b, "uboot-nor", func(cfg *Config) { cfg.Model = vm }).boot()
			params := len(h.get("Device."))
			rec, err := h.ctrl.Seal(agentID, usp.NewRequest("bench", &pb.Get{ParamPaths: []string{"Device."}}))
			if err != nil {
				b.Fatal(err)
			}
			d, now := h.d, h.now
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if out := d.Receive(now, rec); len(out.Records) != 1 {
					b.Fatalf("records %d", len(out.Records))
				}
			}
			b.ReportMetric(float64(params), "params")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(params), "ns/param")
		})
	}
}
