package model

import (
	"hash/fnv"
	"math"
	"strconv"
)

// Values a parameter reads on a device. Random draws, choices and
// counter rates depend on the device's seed, the parameter's path and
// the instance numbers only: the same device reads the same value, and
// nothing is stored per device until a controller writes one.

// Static reports whether p reads the same value on every device and
// every instance (no placeholder, per-instance value, draw or counter),
// and that value.
func (p *Param) Static() (string, bool) {
	v, ok := p.def.Static()
	return v, ok && len(p.values) == 0 && len(p.Random) == 0 && len(p.Choice) == 0 && len(p.Counter) == 0
}

// IsCounter reports whether p is a counter: its value moves with the
// device's uptime and a controller cannot write it.
func (p *Param) IsCounter() bool { return len(p.Counter) == 2 }

// draw is a number from the device's seed for p at nums.
func (p *Param) draw(env Env, nums []uint32) uint64 {
	h := env.Seed() ^ p.salt
	for _, n := range nums {
		h = mix(h ^ uint64(n))
	}
	return mix(h)
}

// Value is p's value on a device: the per-instance value of the
// innermost instance number or the default, rendered; a random draw or a
// choice; a counter at uptime up seconds.
func (p *Param) Value(env Env, nums []uint32, up float64) string {
	switch {
	case len(p.Counter) == 2:
		u := float64(p.draw(env, nums)>>11) / (1 << 53)
		rate := p.Counter[0] + (p.Counter[1]-p.Counter[0])*u
		return strconv.FormatUint(wrap(rate*max(up, 0), p.Type == "unsignedInt"), 10)
	case len(p.Random) == 2:
		lo, hi := p.Random[0], p.Random[1]
		span := uint64(hi-lo) + 1
		if span == 0 { // the whole int64 range
			return strconv.FormatInt(int64(p.draw(env, nums)), 10)
		}
		return strconv.FormatInt(lo+int64(p.draw(env, nums)%span), 10)
	case len(p.Choice) > 0:
		return p.Choice[p.draw(env, nums)%uint64(len(p.Choice))]
	}
	if len(nums) > 0 {
		if t, ok := p.values[nums[len(nums)-1]]; ok {
			return t.Render(env, nums, p.salt)
		}
	}
	return p.def.Render(env, nums, p.salt)
}

// wrap is a counter's value at x: an unsignedInt counter wraps at 2³²
// as TR-181's StatsCounter32 does, an unsignedLong one at 2⁶⁴ (a float
// past the range is never converted as it is: Go leaves that undefined).
func wrap(x float64, bits32 bool) uint64 {
	m := 0x1p64
	if bits32 {
		m = 0x1p32
	}
	if !(x >= 0) { // NaN: the rate and uptime are checked, never so
		return 0
	}
	x = math.Mod(x, m)
	if x >= 0x1p63 { // exact in float64; split to stay in int64's range
		return uint64(x-0x1p63) + 1<<63
	}
	return uint64(x)
}

func salt(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}
