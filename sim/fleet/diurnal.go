package fleet

import (
	"math"
	"math/rand/v2"
	"time"
)

// Diurnal is a daily pattern of the fleet's power, a traffic shape: the
// share of devices on follows a cosine over Period, 1 at its peak and Low
// at LowAt (from the run's start, within the period). Each device draws a
// threshold u in [0, 1) from the seed and its endpoint ID; it is off
// while the curve is below u: once a period, in a window centred on
// LowAt, longer the higher u. Devices with u ≤ Low are never off. The zero
// Diurnal is none.
type Diurnal struct {
	Period time.Duration
	Low    float64       // the share on at the low, in [0, 1)
	LowAt  time.Duration // when the low comes, in [0, Period)
}

// On reports whether the pattern is set.
func (d Diurnal) On() bool { return d.Period > 0 && d.Low < 1 }

// diurnalThreshold is device id's draw, from its own stream of seed (as
// PowerOnDelay's jitter), the same whichever process runs it.
func diurnalThreshold(seed uint64, id string) float64 {
	return rand.New(rand.NewPCG(deviceSeed(seed, id), 0x646975726e616c)).Float64()
}

// offWindow is the first window, from the run's start, in which the
// device of threshold u is off and that ends after from: [start, end).
// false: the device is never off.
func (d Diurnal) offWindow(u float64, from time.Duration) (start, end time.Duration, ok bool) {
	if !d.On() || u <= d.Low {
		return 0, 0, false
	}
	c := 2*(u-d.Low)/(1-d.Low) - 1 // the curve is below u where cos θ < c
	half := time.Duration((math.Pi - math.Acos(min(c, 1))) / (2 * math.Pi) * float64(d.Period))
	if half <= 0 {
		return 0, 0, false
	}
	k := (from-d.LowAt-half)/d.Period - 1
	for {
		centre := d.LowAt + k*d.Period
		start, end = centre-half, centre+half
		if end > from {
			return max(start, 0), end, true
		}
		k++
	}
}

// next is device id's next off window ending after from.
func (d Diurnal) next(seed uint64, id string, from time.Duration) (start, end time.Duration, ok bool) {
	return d.offWindow(diurnalThreshold(seed, id), from)
}
