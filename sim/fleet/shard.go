package fleet

import (
	"fmt"
	"math/rand/v2"
	"time"

	"brickyard/sim/faults"
)

// A fleet split over processes (shards, workers) is exactly the fleet of
// one process, device for device, when each process takes its part of
// what is decided over the whole fleet: the fault plan's assignment
// (ShardFaults: a rule's share of the devices is picked among all of
// them) and the power-on schedule (PowerOnDelay: device n of the fleet
// powers on n/rate after the start, whichever process runs it, plus its
// own jitter). RealConfig.Faults and RealConfig.PowerOnAt take them.

// FleetDevices lists the devices of groups as a runner numbers them: n
// from offset+1, IDs made with idFormat, in group order.
func FleetDevices(groups []BoardGroup, idFormat string, offset int) []faults.Device {
	var fd []faults.Device
	for _, g := range groups {
		for range g.Count {
			fd = append(fd, faults.Device{ID: fmt.Sprintf(idFormat, offset+len(fd)+1), Board: g.Name, Wave: g.Wave})
		}
	}
	return fd
}

// ShardFaults assigns plan over the whole fleet (whole: every group of
// every shard, in fleet order) and returns the faults of its devices lo …
// hi-1 (numbered from 0): what one process running the whole fleet gives
// those devices.
func ShardFaults(plan faults.Plan, whole []BoardGroup, idFormat string, seed uint64, lo, hi int) ([]faults.Faults, error) {
	fd := FleetDevices(whole, idFormat, 0)
	if lo < 0 || hi > len(fd) || lo > hi {
		return nil, fmt.Errorf("fleet: devices %d–%d of a fleet of %d", lo+1, hi, len(fd))
	}
	fs, err := faults.Assign(plan, fd, seed)
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	return fs[lo:hi], nil
}

// Ramp powers a fleet on in steps, a traffic shape: Step devices every
// Every from the start (device n at ⌊n/Step⌋·Every), instead of one at a
// time at a rate. The zero Ramp is none.
type Ramp struct {
	Step  int
	Every time.Duration
}

// On reports whether the ramp is set.
func (r Ramp) On() bool { return r.Step > 0 && r.Every > 0 }

// at is when the ramp powers device n on.
func (r Ramp) at(n int) time.Duration { return time.Duration(n/r.Step) * r.Every }

// PowerOnDelay is when device n of a fleet (from 0, counted over the whole
// fleet), of Endpoint ID id, powers on after the run's start: on ramp's
// step, or else n/rate seconds (0 when rate is 0), plus up to jitter,
// drawn from the device's own stream of seed, so that it does not depend
// on which other devices share its process.
func PowerOnDelay(seed uint64, id string, n int, rate float64, jitter time.Duration, ramp Ramp) time.Duration {
	var at time.Duration
	switch {
	case ramp.On():
		at = ramp.at(n)
	case rate > 0:
		at = time.Duration(float64(n) / rate * float64(time.Second))
	}
	if jitter > 0 {
		at += time.Duration(rand.New(rand.NewPCG(deviceSeed(seed, id), 0x6a6974746572)).Int64N(int64(jitter)))
	}
	return at
}
