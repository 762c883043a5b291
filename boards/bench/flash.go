package bench

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"brickyard/boards"
	"brickyard/boards/bench/wire"
	"brickyard/flash"
)

// Flash is a bench board's flash as brickyard's models use it
// (boards.Flash): reads come from the mirror (checked with the board's
// Hash, read over the link when unknown), programs and erases go over the
// link in chunks of the board's payload size, one operation each.
//
// Operations are counted by the board: Ops is the sum of the counts its
// answers and events report, its bootloader's writes included when the
// board counts them (wire.CapBootOps).
//
// Power cuts (ArmCut) are placed, when the board has a fault rig
// (wire.CapCut), by the rig at the board's own operation count: exact, at
// any operation, the bootloader's included, with the torn bits of the
// given seeds. Otherwise, and with Config.HostCuts, by brickyard dropping
// the power line at the link's operation count: before the operation
// (CutBefore), after its answer (CutAfter), or while its last chunk is on
// the line (CutTorn); only operations over the link can be cut that way.
// ArmBootCut drops the power line at a fraction of the next boot's
// duration (the last boot's, measured from reset to Hello).
//
// A Flash belongs to its Board; like a chip it is used by one goroutine.
type Flash struct {
	b       *Board
	g       flash.Geometry
	chunk   int // bytes of data per Program and Read frame
	ops     uint64
	bootOps uint32 // the board's count in this boot, as last reported
	last    flash.Op
	m       *mirror

	off  bool   // no power: cut, or the board offline
	why  string // why it is off
	cut  *armed
	boot *bootCut
	// pending: the board booted (power-on, or a reset of its own) and Boot
	// has not taken that boot's Hello yet.
	pending bool
	hello   *wire.Hello   // the pending boot's Hello, when already taken
	resetAt time.Time     // when the pending boot began
	bootDur time.Duration // the last boot's, reset to Hello
	offAt   time.Time     // when the power line went off
}

var (
	_ boards.Flash        = (*Flash)(nil)
	_ boards.BootCutter   = (*Flash)(nil)
	_ boards.SeededCutter = (*Flash)(nil)
	_ boards.Offliner     = (*Flash)(nil)
)

// Offline is why the board is unreachable (Board.Offline).
func (f *Flash) Offline() error { return f.b.Offline() }

// armed is a cut armed at operation at.
type armed struct {
	at           uint64
	mode         flash.CutMode
	seed1, seed2 uint64
	rig          bool // placed by the board's rig
}

type bootCut struct{ fraction float64 }

func (f *Flash) Geometry() flash.Geometry { return f.g }
func (f *Flash) Ops() uint64              { return f.ops }
func (f *Flash) LastOp() flash.Op         { return f.last }
func (f *Flash) Powered() bool            { return !f.off }

// check validates power, bounds and alignment as a chip does.
func (f *Flash) check(k flash.OpKind, addr, n, align int) error {
	switch {
	case f.off:
		return &flash.OpError{Op: k, Addr: addr, Len: n, Err: f.lostErr()}
	case addr < 0 || n < 0 || addr > f.g.Size-n:
		return &flash.OpError{Op: k, Addr: addr, Len: n, Err: flash.ErrOutOfRange}
	case addr%align != 0 || n%align != 0:
		return &flash.OpError{Op: k, Addr: addr, Len: n, Err: flash.ErrUnaligned}
	}
	return nil
}

// lostErr is the error of an operation on a board without power: it
// wraps flash.ErrPowerLost, and ErrOffline when the board is offline.
func (f *Flash) lostErr() error {
	if err := f.b.link.Offline(); err != nil {
		return fmt.Errorf("%w: %w", flash.ErrPowerLost, err)
	}
	if f.why != "" {
		return fmt.Errorf("%w: %s", flash.ErrPowerLost, f.why)
	}
	return flash.ErrPowerLost
}

// noteOps takes the board's count of this boot from an answer or event.
func (f *Flash) noteOps(n uint32) {
	if n >= f.bootOps {
		f.ops += uint64(n - f.bootOps)
	}
	f.bootOps = n
}

// began records operation k at addr as started: the board counted it.
func (f *Flash) began(k flash.OpKind, addr, n int) {
	f.last = flash.Op{Index: f.ops, Kind: k, Addr: addr, Len: n}
	f.ops++
	f.bootOps++
}

func (f *Flash) Read(addr int, buf []byte) error {
	if err := f.check(flash.OpRead, addr, len(buf), 1); err != nil {
		return err
	}
	if len(buf) == 0 {
		return nil
	}
	if err := f.load(addr, len(buf)); err != nil {
		return f.failed(flash.OpRead, addr, len(buf), err)
	}
	for n := 0; n < len(buf); {
		s, o := (addr+n)/f.g.SectorSize, (addr+n)%f.g.SectorSize
		n += copy(buf[n:], f.m.sec[s][o:])
	}
	return nil
}

// load makes the sectors of [addr, addr+n) known: suspect ones checked
// by Hash in runs, unknown ones read.
func (f *Flash) load(addr, n int) error {
	ss := f.g.SectorSize
	first, last := addr/ss, (addr+n-1)/ss
	for s := first; s <= last; {
		if !f.m.suspect[s] || f.m.sec[s] == nil {
			s++
			continue
		}
		run := s
		for run <= last && run-s < wire.MaxDigest && f.m.suspect[run] && f.m.sec[run] != nil {
			run++
		}
		req := wire.HashReq{Addr: uint32(s * ss), Len: uint32((run - s) * ss), Unit: uint32(ss)}
		resp, err := f.b.do(wire.TypeHash, 0, req.Marshal())
		if err != nil {
			return err
		}
		if len(resp.Payload) != (run-s)*wire.DigestLen {
			return fmt.Errorf("bench: hash answer of %d bytes for %d sectors", len(resp.Payload), run-s)
		}
		for i := s; i < run; i++ {
			d := digest(f.m.sec[i])
			if string(d[:]) == string(resp.Payload[(i-s)*wire.DigestLen:(i-s+1)*wire.DigestLen]) {
				f.m.suspect[i] = false
			} else {
				f.m.forget(i*ss, ss)
			}
		}
		s = run
	}
	for s := first; s <= last; s++ {
		if f.m.sec[s] != nil {
			continue
		}
		buf := make([]byte, ss)
		for o := 0; o < ss; o += f.chunk {
			m := min(f.chunk, ss-o)
			resp, err := f.b.do(wire.TypeRead, 0, wire.ReadReq{Addr: uint32(s*ss + o), Len: uint16(m)}.Marshal())
			if err != nil {
				return err
			}
			if len(resp.Payload) != m {
				return fmt.Errorf("bench: read answer of %d bytes, %d asked", len(resp.Payload), m)
			}
			copy(buf[o:], resp.Payload)
		}
		f.m.sec[s], f.m.suspect[s] = buf, false
	}
	return nil
}

func (f *Flash) Program(addr int, data []byte) error {
	if err := f.check(flash.OpProgram, addr, len(data), f.g.WriteUnit); err != nil {
		return err
	}
	return f.program(addr, data)
}

func (f *Flash) ProgramBlob(addr int, b *flash.Blob, off, n int) error {
	if err := f.check(flash.OpProgram, addr, n, f.g.WriteUnit); err != nil {
		return err
	}
	if b == nil || off < 0 || off+n > (b.Len()+flash.PageSize-1)/flash.PageSize*flash.PageSize {
		return &flash.OpError{Op: flash.OpProgram, Addr: addr, Len: n, Err: flash.ErrOutOfRange}
	}
	buf := make([]byte, n)
	b.ReadAt(buf, off)
	return f.program(addr, buf)
}

func (f *Flash) program(addr int, data []byte) error {
	hc := f.hostCut()
	if hc != nil && hc.mode == flash.CutBefore {
		return f.cutBefore(flash.OpProgram, addr, len(data))
	}
	chunks := (len(data) + f.chunk - 1) / f.chunk
	tornAt := -1
	if hc != nil && hc.mode == flash.CutTorn {
		tornAt = rand.New(rand.NewPCG(hc.seed1, hc.seed2)).IntN(chunks)
	}
	for i := range chunks {
		off := i * f.chunk
		n := min(f.chunk, len(data)-off)
		flags := wire.Flags(0)
		if i == 0 {
			flags |= wire.FlagFirst
		}
		if i == chunks-1 {
			flags |= wire.FlagLast
		}
		payload := wire.ProgramReq{Addr: uint32(addr + off), Data: data[off : off+n]}.Marshal()
		if i == tornAt {
			return f.cutTorn(flash.OpProgram, addr, len(data), wire.TypeProgram, flags, payload, hc)
		}
		resp, err := f.b.do(wire.TypeProgram, flags, payload)
		if err != nil {
			return f.failed(flash.OpProgram, addr, len(data), err)
		}
		if i == chunks-1 {
			if err := f.opsAnswer(resp.Payload); err != nil {
				return f.failed(flash.OpProgram, addr, len(data), err)
			}
		}
	}
	f.last = flash.Op{Index: f.ops - 1, Kind: flash.OpProgram, Addr: addr, Len: len(data)}
	f.m.program(addr, data)
	if hc != nil && hc.mode == flash.CutAfter {
		return f.cutAfter()
	}
	return nil
}

func (f *Flash) Erase(addr int) error {
	ss := f.g.SectorSize
	if err := f.check(flash.OpErase, addr, ss, ss); err != nil {
		return err
	}
	hc := f.hostCut()
	if hc != nil && hc.mode == flash.CutBefore {
		return f.cutBefore(flash.OpErase, addr, ss)
	}
	payload := wire.EraseReq{Addr: uint32(addr)}.Marshal()
	if hc != nil && hc.mode == flash.CutTorn {
		return f.cutTorn(flash.OpErase, addr, ss, wire.TypeErase, 0, payload, hc)
	}
	resp, err := f.b.do(wire.TypeErase, 0, payload)
	if err == nil {
		err = f.opsAnswer(resp.Payload)
	}
	if err != nil {
		return f.failed(flash.OpErase, addr, ss, err)
	}
	f.last = flash.Op{Index: f.ops - 1, Kind: flash.OpErase, Addr: addr, Len: ss}
	f.m.setErased(addr / ss)
	if hc != nil && hc.mode == flash.CutAfter {
		return f.cutAfter()
	}
	return nil
}

func (f *Flash) opsAnswer(p []byte) error {
	r, err := wire.UnmarshalOpsResp(p)
	if err != nil {
		return err
	}
	f.noteOps(r.Ops)
	f.b.board.SecurityCounter = max(f.b.board.SecurityCounter, r.SecurityCounter)
	return nil
}

// failed turns a link error during an operation into the operation's
// error, and keeps the count and the mirror true to what the board may
// have done.
func (f *Flash) failed(k flash.OpKind, addr, n int, err error) error {
	var board wire.ErrorResp
	switch {
	case errors.As(err, &board):
		switch board.Code {
		case wire.CodeNotErased, wire.CodeWornOut:
			f.began(k, addr, n) // the flash refused it, as an operation: counted
			ferr := flash.ErrNotErased
			if board.Code == wire.CodeWornOut {
				ferr = flash.ErrWornOut
			}
			return &flash.OpError{Op: k, Addr: addr, Len: n, Err: ferr}
		case wire.CodeOutOfRange:
			return &flash.OpError{Op: k, Addr: addr, Len: n, Err: flash.ErrOutOfRange}
		case wire.CodeUnaligned:
			return &flash.OpError{Op: k, Addr: addr, Len: n, Err: flash.ErrUnaligned}
		}
		return &flash.OpError{Op: k, Addr: addr, Len: n, Err: err}
	case errors.Is(err, ErrCut):
		f.rigCut()
		return &flash.OpError{Op: k, Addr: addr, Len: n, Err: f.lostErr()}
	case errors.Is(err, ErrReset):
		if k != flash.OpRead {
			f.m.forget(addr, n)
		}
		f.off, f.why = true, "the board reset during the operation"
		f.pending = true // its Hello is queued
		f.resetAt, f.bootOps = time.Now(), 0
		f.m.suspectAll()
		return &flash.OpError{Op: k, Addr: addr, Len: n, Err: f.lostErr()}
	}
	// Silence, a broken port, another protocol version: offline.
	if k != flash.OpRead {
		f.m.forget(addr, n)
	}
	f.off, f.why = true, err.Error()
	return &flash.OpError{Op: k, Addr: addr, Len: n, Err: f.lostErr()}
}

// rigCut takes the Cut event the link left queued: the operation the rig
// cut, counted; the board is off until its power line is cycled.
func (f *Flash) rigCut() {
	for {
		ev, ok := f.b.link.TakeEvent()
		if !ok {
			break
		}
		if ev.Type != wire.TypeCut {
			continue // a Hello of an earlier boot
		}
		if c, err := wire.UnmarshalCutEvent(ev.Payload); err == nil {
			f.noteOps(c.Ops)
			f.last = flash.Op{Index: f.ops - 1, Kind: flash.OpKind(c.Kind), Addr: int(c.Addr), Len: int(c.Len)}
			f.m.forget(int(c.Addr), int(c.Len))
		}
		break
	}
	f.b.powerOff() // the rig holds it off; the line follows, so that PowerOn cycles it
	f.off, f.why, f.cut = true, "power cut by the board's rig (fault plan)", nil
	f.offAt = time.Now()
	f.m.suspectAll()
}

// hostCut is the cut brickyard itself places at the next operation, if
// any.
func (f *Flash) hostCut() *armed {
	if c := f.cut; c != nil && !c.rig && c.at == f.ops {
		f.cut = nil
		return c
	}
	return nil
}

func (f *Flash) dropPower(why string) {
	f.b.powerOff()
	f.off, f.why, f.cut = true, why, nil
	f.offAt = time.Now()
	f.m.suspectAll()
}

// cutBefore loses power instead of sending the operation: it counts and
// does nothing.
func (f *Flash) cutBefore(k flash.OpKind, addr, n int) error {
	f.began(k, addr, n)
	f.dropPower(fmt.Sprintf("power cut before operation %d (fault plan)", f.last.Index))
	return &flash.OpError{Op: k, Addr: addr, Len: n, Err: f.lostErr()}
}

func (f *Flash) cutAfter() error {
	f.dropPower(fmt.Sprintf("power cut after operation %d (fault plan)", f.last.Index))
	op := f.last
	return &flash.OpError{Op: op.Kind, Addr: op.Addr, Len: op.Len, Err: f.lostErr()}
}

// cutTorn sends the operation's frame and drops the power once it has
// reached the board (its time on the line at the link's baud rate) and a
// delay up to TornWindow, drawn from the cut's seeds, has passed: the
// board is cut while it performs the operation, or just after.
func (f *Flash) cutTorn(k flash.OpKind, addr, n int, t wire.Type, flags wire.Flags, payload []byte, c *armed) error {
	f.b.send(t, flags, payload)
	rng := rand.New(rand.NewPCG(c.seed1^0x746f726e, c.seed2))
	wait := FrameTime(f.b.link.cfg.Baud, wire.MaxFrame*len(payload)/wire.MaxPayload+32) +
		time.Duration(rng.Int64N(int64(f.b.cfg.TornWindow)+1))
	tm := time.NewTimer(wait)
	select {
	case <-tm.C:
	case <-f.b.ctx.Done():
		tm.Stop()
	}
	f.began(k, addr, n)
	f.m.forget(addr, n)
	f.dropPower(fmt.Sprintf("power cut during operation %d (fault plan)", f.last.Index))
	return &flash.OpError{Op: k, Addr: addr, Len: n, Err: f.lostErr()}
}

func (f *Flash) CutNow() {
	if f.off {
		return
	}
	f.dropPower("power switched off")
	f.boot = nil
}

// PowerOn restores power: a power cycle (the line off for the hold time,
// then on) after a cut, so that a board its rig cut comes back. It
// disarms what was armed. Without power control it can only take a board
// that reset by itself; otherwise the board stays off and Boot says why.
func (f *Flash) PowerOn() {
	if !f.off {
		return
	}
	f.cut, f.boot = nil, nil
	if f.pending && f.b.link.Offline() == nil {
		f.off, f.why = false, "" // it reset by itself: its Hello is queued
		return
	}
	if f.b.power == nil {
		f.why = "the board's power cannot be restored: no power control is configured"
		return
	}
	if err := f.b.powerCycle(f.offAt); err != nil {
		f.why = err.Error()
		return
	}
	f.off, f.why = false, ""
	f.pending, f.resetAt, f.bootOps = true, time.Now(), 0
	f.m.suspectAll()
}

// ArmCut arms a cut at operation at, drawing the seeds of its torn bits
// from rng (required for CutTorn).
func (f *Flash) ArmCut(at uint64, mode flash.CutMode, rng *rand.Rand) error {
	if mode < flash.CutBefore || mode > flash.CutTorn {
		return errors.New("bench: unknown cut mode")
	}
	if mode == flash.CutTorn && rng == nil {
		return errors.New("bench: a torn cut needs a random generator")
	}
	var s1, s2 uint64
	if rng != nil {
		s1, s2 = rng.Uint64(), rng.Uint64()
	}
	return f.ArmCutSeed(at, mode, s1, s2)
}

// ArmCutSeed arms a cut at operation at whose torn bits come from a PCG
// generator seeded (seed1, seed2): on a board with a rig, exactly the bits
// a simulated chip armed with rand.New(rand.NewPCG(seed1, seed2)) tears
// (boards/sweep uses it, so that a sweep over the link and one on a
// simulated board cut alike).
func (f *Flash) ArmCutSeed(at uint64, mode flash.CutMode, seed1, seed2 uint64) error {
	if mode < flash.CutBefore || mode > flash.CutTorn {
		return errors.New("bench: unknown cut mode")
	}
	if f.off {
		return &flash.OpError{Op: flash.OpProgram, Err: f.lostErr()}
	}
	c := &armed{at: at, mode: mode, seed1: seed1, seed2: seed2}
	if at < f.ops {
		f.cut = c // in the past: it never lands, as on a chip
		return nil
	}
	if f.b.caps&wire.CapCut != 0 && !f.b.cfg.HostCuts {
		after := at - f.ops
		if after > math.MaxUint32 {
			return fmt.Errorf("bench: cut %d operations ahead: the rig counts to %d", after, uint32(math.MaxUint32))
		}
		req := wire.ArmCutReq{After: uint32(after), Mode: uint8(mode), Seed1: seed1, Seed2: seed2}
		if _, err := f.b.do(wire.TypeArmCut, 0, req.Marshal()); err != nil {
			return fmt.Errorf("bench: arm the board's rig: %w", err)
		}
		c.rig = true
	}
	f.cut = c
	return nil
}

// ArmBootCut arms a cut of the power line at fraction of the next boot's
// duration (the mode is the boot's: whatever operation runs then is torn
// or not as the board's flash makes it).
func (f *Flash) ArmBootCut(fraction float64, _ flash.CutMode, _ *rand.Rand) error {
	if !(fraction >= 0 && fraction < 1) {
		return fmt.Errorf("bench: boot cut at fraction %v: want 0 ≤ f < 1", fraction)
	}
	if f.b.power == nil {
		return errors.New("bench: a boot cut needs power control")
	}
	f.boot = &bootCut{fraction: fraction}
	return nil
}
