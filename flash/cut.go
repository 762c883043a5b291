package flash

import (
	"errors"
	"math/rand/v2"
)

// CutMode says what a power cut does to the operation it lands on.
type CutMode uint8

const (
	CutBefore CutMode = iota + 1 // the operation does nothing
	CutAfter                     // the operation completes, then power is lost
	CutTorn                      // the operation is interrupted part-way
)

func (m CutMode) String() string {
	switch m {
	case CutBefore:
		return "before"
	case CutAfter:
		return "after"
	case CutTorn:
		return "torn"
	}
	return "none"
}

// cutPlan is an armed cut. A chip holds one only while a cut is armed,
// which keeps the chips of a fleet small.
type cutPlan struct {
	at   uint64
	mode CutMode
	rng  *rand.Rand
}

// ArmCut arranges for power to be lost at the operation with index at (see
// Ops). A torn cut draws its bits from rng, which it requires. Arming again
// replaces the previous plan; PowerOn disarms.
func (c *Chip) ArmCut(at uint64, mode CutMode, rng *rand.Rand) error {
	if mode < CutBefore || mode > CutTorn {
		return errors.New("flash: unknown cut mode")
	}
	if mode == CutTorn && rng == nil {
		return errors.New("flash: a torn cut needs a random generator")
	}
	c.cut = &cutPlan{at: at, mode: mode, rng: rng}
	return nil
}

// CutNow loses power at once, between operations, as a board's power
// switch does.
func (c *Chip) CutNow() { c.off, c.cut = true, nil }

// begin counts an operation and returns the cut that applies to it, if any.
// Callers have checked addr and n against the chip's size.
func (c *Chip) begin(k OpKind, addr, n int) CutMode {
	c.lastKind, c.lastAddr, c.lastLen = k, uint32(addr), uint32(n)
	c.ops++
	if c.cut != nil && c.cut.at == c.ops-1 {
		return c.cut.mode
	}
	return 0
}

// powerLoss loses power during the current operation. The cut plan is
// dropped here, after the torn writes that needed its generator.
func (c *Chip) powerLoss() error {
	c.off, c.cut = true, nil
	op := c.LastOp()
	return &OpError{op.Kind, op.Addr, op.Len, ErrPowerLost}
}

// tornProgram writes a prefix of data's write units, then a random subset
// of the bit transitions of the next unit.
func (c *Chip) tornProgram(addr int, data []byte) {
	wu := c.g.WriteUnit
	units := len(data) / wu
	if units == 0 {
		return
	}
	u := c.cut.rng.IntN(units)
	c.programBytes(addr, data[:u*wu])
	for i := u * wu; i < (u+1)*wu; i++ {
		a := addr + i
		p := c.writablePage(a / PageSize)
		old := p.b[a%PageSize]
		flip := (old ^ c.g.program(old, data[i])) & byte(c.cut.rng.Uint32())
		p.b[a%PageSize] = old ^ flip
	}
}

// tornErase leaves the sector indeterminate: either NOR's pre-program phase
// was interrupted (old bytes up to a random point, programmed bytes after
// it), or its erase phase was (16-byte runs, each erased or programmed).
func (c *Chip) tornErase(addr, n int) {
	programmed := ^c.g.Erased
	set := func(a int, v byte) { c.writablePage(a / PageSize).b[a%PageSize] = v }
	if c.cut.rng.IntN(2) == 0 {
		for i := c.cut.rng.IntN(n + 1); i < n; i++ {
			set(addr+i, programmed)
		}
		return
	}
	for i := 0; i < n; i += 16 {
		v := programmed
		if c.cut.rng.IntN(2) == 0 {
			v = c.g.Erased
		}
		for j := i; j < min(i+16, n); j++ {
			set(addr+j, v)
		}
	}
}
