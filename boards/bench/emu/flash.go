package emu

import (
	"context"
	"math/rand/v2"
	"time"

	"brickyard/boards"
	"brickyard/flash"
)

// timedFlash is the board's chip as its firmware and bootloader use it
// during one boot: every program and erase takes its time, and power lost
// meanwhile (ctx ends) tears the operation on the chip.
type timedFlash struct {
	*flash.Chip
	ctx                context.Context
	erase, programPage time.Duration
	rng                *rand.Rand
}

var _ boards.Flash = (*timedFlash)(nil)

// busy waits d; false when power went first.
func (f *timedFlash) busy(d time.Duration) bool {
	if d <= 0 {
		return f.ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-f.ctx.Done():
		return false
	}
}

// lose loses power on the chip: before the operation when it has not
// begun, torn part-way when it has.
func (f *timedFlash) lose(begun bool) {
	if begun {
		_ = f.Chip.ArmCut(f.Chip.Ops(), flash.CutTorn, f.rng)
	} else {
		_ = f.Chip.ArmCut(f.Chip.Ops(), flash.CutBefore, nil)
	}
}

func (f *timedFlash) pages(n int) time.Duration {
	return time.Duration((n+255)/256) * f.programPage
}

func (f *timedFlash) Program(addr int, data []byte) error {
	if f.ctx.Err() != nil {
		f.lose(false)
	} else if !f.busy(f.pages(len(data))) {
		f.lose(true)
	}
	return f.Chip.Program(addr, data)
}

func (f *timedFlash) ProgramBlob(addr int, b *flash.Blob, off, n int) error {
	if f.ctx.Err() != nil {
		f.lose(false)
	} else if !f.busy(f.pages(n)) {
		f.lose(true)
	}
	return f.Chip.ProgramBlob(addr, b, off, n)
}

func (f *timedFlash) Erase(addr int) error {
	if f.ctx.Err() != nil {
		f.lose(false)
	} else if !f.busy(f.erase) {
		f.lose(true)
	}
	return f.Chip.Erase(addr)
}
