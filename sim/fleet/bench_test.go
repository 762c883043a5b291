package fleet

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"brickyard/boards"
	"brickyard/sim/device"
	"brickyard/sim/faults"
	"brickyard/sim/index"
	"brickyard/sim/model"
)

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// boardsHeap is the heap that a clone of its factory board for every
// device of gs holds.
func boardsHeap(gs []BoardGroup) uint64 {
	before := heap()
	var clones []*boards.Board
	for _, g := range gs {
		for range g.Count {
			clones = append(clones, g.Factory.Clone())
		}
	}
	after := heap()
	runtime.KeepAlive(clones)
	return after - before
}

// BenchmarkVirtualIdleMemory: the marginal heap per idle device (booted,
// connected, subscribed, index up to date) in virtual-time mode. B/device
// is everything the run holds per device: the device core and its data
// model, its board (flash chip included), the runner's share, the fleet
// index and the test controller's. flash-B/device is the part of it that
// the freshly cloned boards hold (the flash chips' page tables and wear
// counters, measured apart), to subtract for the figure flash excluded.
//
// The vendor2000 run gives every device a 2,000-parameter vendor data
// model (model.Synthetic) on top of the default one.
func BenchmarkVirtualIdleMemory(b *testing.B) {
	for _, run := range []struct {
		name   string
		vendor int
	}{{"10000", 0}, {"10000/vendor2000", 2000}} {
		n := 10000
		b.Run(run.name, func(b *testing.B) {
			for range b.N {
				cfg, camp := campaignConfig(b, 1, n, []string{"uboot-nor", "mcuboot-nrf52"}, 0, nil)
				camp.URL = nil
				cfg.ConnectRate = 1000
				if run.vendor > 0 {
					vm := model.Synthetic(run.vendor)
					s, err := device.NewSchemaWith(vm)
					if err != nil {
						b.Fatal(err)
					}
					cfg.Schema = s
					cfg.Device = func(_ int, c *device.Config) { c.Model = vm }
				}
				idx, _ := index.New()
				cfg.Index = idx
				flash := boardsHeap(cfg.Boards)
				before := heap()
				v, err := NewVirtual(cfg)
				if err != nil {
					b.Fatal(err)
				}
				if err := v.RunUntil(t0.Add(2 * time.Minute)); err != nil {
					b.Fatal(err)
				}
				after := heap()
				runtime.KeepAlive(v)
				runtime.KeepAlive(camp)
				b.ReportMetric(float64(after-before)/float64(n), "B/device")
				b.ReportMetric(float64(flash)/float64(n), "flash-B/device")
				b.ReportMetric(float64(after-before)/(1<<20), "MiB")
			}
		})
	}
}

// BenchmarkVirtualCampaign: a Download(AutoActivate) campaign run to the
// end in virtual time, with install cuts and health failures.
func BenchmarkVirtualCampaign(b *testing.B) {
	plan := faults.Plan{
		{Kind: faults.PowerDuringInstall, Share: 0.03},
		{Kind: faults.HealthFail, Share: 0.05},
		{Kind: faults.NetDrop, Share: 0.1, Drop: 0.2, Within: 10 * time.Minute, Duration: 5 * time.Minute},
	}
	for _, n := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for range b.N {
				start := time.Now()
				cfg, camp := campaignConfig(b, 1, n, []string{"uboot-nor", "mcuboot-nrf52"}, time.Minute, plan)
				cfg.ConnectRate = 500
				idx, _ := index.New()
				cfg.Index = idx
				v, err := NewVirtual(cfg)
				if err != nil {
					b.Fatal(err)
				}
				built := time.Since(start)
				done, err := v.Run(t0.Add(6*time.Hour), func(v *Virtual) bool { return v.Count(Pending) == 0 })
				if err != nil {
					b.Fatal(err)
				}
				if err := v.Finish(); err != nil {
					b.Fatal(err)
				}
				if !done && v.Count(Unreachable) > n/100 {
					b.Fatalf("outcomes %v", idx.Counts(index.ByOutcome))
				}
				wall := time.Since(start)
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				b.ReportMetric(wall.Seconds(), "wall-s")
				b.ReportMetric(built.Seconds(), "build-s")
				b.ReportMetric(v.Now().Sub(t0).Minutes(), "virtual-min")
				b.ReportMetric(float64(v.Events()), "events")
				b.ReportMetric(float64(m.HeapInuse)/(1<<20), "heap-MiB")
				b.Logf("%d devices: %v, %d Boot!, wall %s", n, idx.Counts(index.ByOutcome), camp.Boots, wall)
			}
		})
	}
}

// BenchmarkVirtualDayPeriodic: 24 h of hourly Periodic! for 1,000 devices.
func BenchmarkVirtualDayPeriodic(b *testing.B) {
	for range b.N {
		start := time.Now()
		cfg, camp := campaignConfig(b, 3, 1000, []string{"uboot-nor", "mcuboot-nrf52"}, 0, nil)
		camp.URL, camp.Periodic = nil, true
		cfg.ConnectRate = 100
		cfg.Device = func(_ int, c *device.Config) { c.PeriodicInterval = 3600 }
		idx, _ := index.New()
		cfg.Index = idx
		v, err := NewVirtual(cfg)
		if err != nil {
			b.Fatal(err)
		}
		if err := v.RunUntil(t0.Add(24 * time.Hour)); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "wall-s")
		b.ReportMetric(float64(camp.Periodics), "periodics")
	}
}

// BenchmarkStartCerts: the start-up of a 100,000-device fleet (made, all
// powered on at once, booted and connected: a minute of virtual time)
// without and with a
// certificate per device. The certificates are lazy (mtp/certs makes one
// when its device first connects over TLS): what start-up pays is the
// shared description every device's Device.LocalAgent.Certificate.1
// reads.
func BenchmarkStartCerts(b *testing.B) {
	const n = 100_000
	cert := &device.Certificate{Issuer: "CN=brickyard fleet CA", NotBefore: t0, NotAfter: t0.Add(720 * time.Hour),
		SignatureAlgorithm: "ECDSA-SHA256", SerialNumber: func(eid string) string { return eid }}
	for _, withCert := range []bool{false, true} {
		b.Run(fmt.Sprintf("certs=%v", withCert), func(b *testing.B) {
			for range b.N {
				cfg, camp := campaignConfig(b, 1, n, []string{"uboot-nor"}, 0, nil)
				camp.URL = nil
				cfg.ConnectRate, cfg.ConnectJitter = 0, 0
				if withCert {
					cfg.Device = func(_ int, c *device.Config) { c.Cert = cert }
				}
				start := time.Now()
				v, err := NewVirtual(cfg)
				if err != nil {
					b.Fatal(err)
				}
				if err := v.RunUntil(t0.Add(time.Minute)); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(time.Since(start).Seconds(), "s/start")
				runtime.KeepAlive(v)
			}
		})
	}
}
