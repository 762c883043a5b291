package device

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"brickyard/usp/dm"
)

// The device's simulated usage: what its users' traffic, its memory, CPU
// and temperature read at a moment. Everything is a pure function of the
// device's seed and its uptime, so nothing is stored per device, reads
// are reproducible, and the values move with the device's clock, virtual
// or real. Counters start from zero at every boot, as a real device's do.
//
// Traffic follows a daily-like wave: the receive rate is
// r·(1 + a·sin(2π·t/P + φ)) bytes per second, with r, a and φ drawn from
// the seed (r 2–20 kB/s, a 0.3–0.9, P one hour); its integral is the
// BytesReceived counter, monotonic since a < 1. The device is busy (its
// users active, WhenIdle activations wait) while the wave is above its
// mean.

const usagePeriod = 3600.0 // seconds

// usageParams are the seeded constants of a device's usage.
type usageParams struct {
	rate, amp, phase float64 // traffic
	mem              float64 // memory use, 0..1 of Total
	temp             float64 // °C at rest
}

func (d *Device) usage() usageParams {
	h := d.cfg.seedHash
	f := func(shift uint) float64 { return float64((h>>shift)&0xffff) / 0xffff }
	return usageParams{
		rate:  2000 + 18000*f(0),
		amp:   0.3 + 0.6*f(16),
		phase: 2 * math.Pi * f(32),
		mem:   0.3 + 0.3*f(48),
		temp:  38 + 12*f(8),
	}
}

// up is the device's uptime in seconds at now (0 while off).
func (d *Device) up(now time.Time) float64 {
	if d.state != On || now.Before(d.bootAt) {
		return 0
	}
	return now.Sub(d.bootAt).Seconds()
}

// bytesIn is the integral of the receive rate over [0, t].
func (u usageParams) bytesIn(t float64) float64 {
	w := 2 * math.Pi / usagePeriod
	return u.rate * (t + u.amp/w*(math.Cos(u.phase)-math.Cos(w*t+u.phase)))
}

// busy reports whether the device's users are active at uptime t.
func (u usageParams) busy(t float64) bool {
	return math.Sin(2*math.Pi*t/usagePeriod+u.phase) > 0
}

// idleAt is the first uptime ≥ t at which the device is idle.
func (u usageParams) idleAt(t float64) float64 {
	if !u.busy(t) {
		return t
	}
	// sin(wt+φ) ≤ 0 from the next multiple of π of wt+φ.
	w := 2 * math.Pi / usagePeriod
	x := w*t + u.phase
	k := math.Ceil(x / math.Pi)
	if int64(k)%2 == 1 {
		return (k*math.Pi - u.phase) / w
	}
	return ((k+1)*math.Pi - u.phase) / w
}

// counter returns a usage counter at now: which picks it.
type counterKind uint8

const (
	cBytesRecv counterKind = iota
	cBytesSent
	cPacketsRecv
	cPacketsSent
	cErrorsRecv
	cErrorsSent
	cDiscardRecv
	cDiscardSent
)

// counter is one interface counter at now; ip counts the IP layer (less
// the Ethernet framing).
func (d *Device) counter(now time.Time, k counterKind, ip bool) string {
	u, t := d.usage(), d.up(now)
	in := u.bytesIn(t)
	out := in * 0.12 // uploads are an eighth of downloads, give or take
	if ip {
		in, out = in*0.97, out*0.97
	}
	var v float64
	switch k {
	case cBytesRecv:
		v = in
	case cBytesSent:
		v = out
	case cPacketsRecv:
		v = in / 1200
	case cPacketsSent:
		v = out / 400
	case cErrorsRecv, cErrorsSent:
		v = in / 5e8
	case cDiscardRecv, cDiscardSent:
		v = in / 2e8
	}
	return strconv.FormatUint(uint64(v), 10)
}

func counterGetter(k counterKind, ip bool) dm.Getter {
	return func(c dm.Ctx) string { return dev(c).counter(c.Now, k, ip) }
}

// Memory, CPU and temperature at now.
const memTotalKiB = 262144

func (d *Device) memFree(now time.Time) string {
	u, t := d.usage(), d.up(now)
	used := u.mem + 0.05*math.Sin(2*math.Pi*t/usagePeriod+u.phase)
	return strconv.Itoa(int(memTotalKiB * (1 - used)))
}

func (d *Device) cpuUsage(now time.Time) string {
	u, t := d.usage(), d.up(now)
	if d.state != On {
		return "0"
	}
	v := 3 + 20*(1+math.Sin(2*math.Pi*t/usagePeriod+u.phase))/2
	return strconv.Itoa(int(v))
}

func (d *Device) temperature(now time.Time) int {
	u, t := d.usage(), d.up(now)
	warm := 1 - math.Exp(-t/600) // warms up over the first ten minutes
	return int(u.temp + 6*warm + 3*math.Sin(2*math.Pi*t/usagePeriod+u.phase))
}

// macAddress is the device's Ethernet address: locally administered
// (02:…), the rest from the seed.
func (d *Device) macAddress() string {
	h := d.cfg.seedHash
	return fmt.Sprintf("02:%02X:%02X:%02X:%02X:%02X", byte(h>>40), byte(h>>32), byte(h>>24), byte(h>>16), byte(h>>8))
}

// ipAddress is the device's IPv4 address in 10.0.0.0/8 (a documentation
// of its LAN, never dialled), from the seed.
func (d *Device) ipAddress() string {
	h := d.cfg.seedHash
	return fmt.Sprintf("10.%d.%d.%d", byte(h>>20), byte(h>>12), 2+byte(h>>4)%250)
}
