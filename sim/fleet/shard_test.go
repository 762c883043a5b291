package fleet

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"brickyard/sim/faults"
)

// shardGroups is a fleet of three boards in two waves, 97 devices: a
// count no shard count below divides evenly.
var shardGroups = []BoardGroup{
	{Name: "uboot-nor", Count: 40, Wave: 1},
	{Name: "mcuboot-nrf52", Count: 31, Wave: 1},
	{Name: "esp32-ota", Count: 26, Wave: 2},
}

// shardBounds is shard k of n (from 1) over total devices, numbered from
// 0: devices (k−1)·T/n … k·T/n−1, the split report.ShardRange makes.
func shardBounds(k, n, total int) (lo, hi int) { return (k - 1) * total / n, k * total / n }

// The faults of every shard, put side by side, are the faults one
// process gives the whole fleet, for any number of shards; and a shard
// assigning its plan over its own devices alone would not give them (the
// reason ShardFaults exists).
func TestShardFaults_ShardsAreTheWholeFleet(t *testing.T) {
	const seed, idf = 7, "os::00256D-SIM%06d"
	total := 0
	for _, g := range shardGroups {
		total += g.Count
	}
	whole, err := faults.Assign(faultyPlan, FleetDevices(shardGroups, idf, 0), seed)
	if err != nil {
		t.Fatal(err)
	}
	faulty := 0
	for _, f := range whole {
		if !reflect.DeepEqual(f, faults.Faults{}) {
			faulty++
		}
	}
	if faulty < total/4 {
		t.Fatalf("only %d of %d devices have a fault: the plan tests nothing", faulty, total)
	}
	for n := 1; n <= 8; n++ {
		var joined []faults.Faults
		differs := false
		for k := 1; k <= n; k++ {
			lo, hi := shardBounds(k, n, total)
			part, err := ShardFaults(faultyPlan, shardGroups, idf, seed, lo, hi)
			if err != nil {
				t.Fatalf("%d/%d: %v", k, n, err)
			}
			if len(part) != hi-lo {
				t.Fatalf("%d/%d: %d faults for %d devices", k, n, len(part), hi-lo)
			}
			joined = append(joined, part...)
			alone, err := faults.Assign(faultyPlan, FleetDevices(shardGroups, idf, 0)[lo:hi], seed)
			if err != nil {
				t.Fatal(err)
			}
			differs = differs || !reflect.DeepEqual(alone, part)
		}
		if !reflect.DeepEqual(joined, whole) {
			t.Fatalf("%d shards: their faults are not the whole fleet's", n)
		}
		if n > 1 && !differs {
			t.Errorf("%d shards: assigning per shard gave the same faults; the test cannot tell the two apart", n)
		}
	}
}

func TestShardFaults_RefusesBadRanges(t *testing.T) {
	for _, r := range [][2]int{{-1, 3}, {0, 98}, {50, 40}, {98, 98}} {
		_, err := ShardFaults(faultyPlan, shardGroups, "d%d", 1, r[0], r[1])
		if err == nil || !strings.Contains(err.Error(), "fleet of 97") {
			t.Errorf("devices %d–%d: %v", r[0], r[1], err)
		}
	}
	if _, err := ShardFaults(faults.Plan{{Kind: faults.HealthFail, Share: 2}}, shardGroups, "d%d", 1, 0, 97); err == nil {
		t.Error("a share of 2 accepted")
	}
	if fs, err := ShardFaults(faultyPlan, shardGroups, "d%d", 1, 97, 97); err != nil || len(fs) != 0 {
		t.Errorf("an empty last shard: %v, %v", fs, err)
	}
}

// A device's power-on time depends on its number in the fleet and its
// own ID only: the same in every process that may run it, in order of
// the number, within its jitter.
func TestPowerOnDelay(t *testing.T) {
	const seed, jitter = 11, 300 * time.Millisecond
	for _, c := range []struct {
		n    int
		rate float64
		base time.Duration
	}{{0, 1000, 0}, {1, 1000, time.Millisecond}, {2500, 1000, 2500 * time.Millisecond}, {99_999, 2000, 49_999_500 * time.Microsecond}, {7, 0, 0}} {
		id := fmt.Sprintf("os::00256D-SIM%06d", c.n+1)
		d := PowerOnDelay(seed, id, c.n, c.rate, jitter, Ramp{})
		if d < c.base || d >= c.base+jitter {
			t.Errorf("device %d at %v/s: %v, want in [%v, %v)", c.n, c.rate, d, c.base, c.base+jitter)
		}
		if again := PowerOnDelay(seed, id, c.n, c.rate, jitter, Ramp{}); again != d {
			t.Errorf("device %d: %v then %v", c.n, d, again)
		}
		if none := PowerOnDelay(seed, id, c.n, c.rate, 0, Ramp{}); none != c.base {
			t.Errorf("device %d without jitter: %v, want %v", c.n, none, c.base)
		}
	}
	// The jitter is the device's own: other seeds and IDs draw other ones.
	a := PowerOnDelay(seed, "a", 0, 0, time.Hour, Ramp{})
	if a == PowerOnDelay(seed, "b", 0, 0, time.Hour, Ramp{}) || a == PowerOnDelay(seed+1, "a", 0, 0, time.Hour, Ramp{}) {
		t.Error("the jitter does not depend on the seed and the ID")
	}
	// A ramp: 100 devices a step, a minute apart, whatever the rate.
	for n, want := range map[int]time.Duration{0: 0, 99: 0, 100: time.Minute, 250: 2 * time.Minute} {
		if d := PowerOnDelay(seed, "x", n, 1000, 0, Ramp{Step: 100, Every: time.Minute}); d != want {
			t.Errorf("ramp: device %d at %v, want %v", n, d, want)
		}
	}
}
