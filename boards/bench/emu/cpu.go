package emu

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"strings"

	"brickyard/boards"
	"brickyard/boards/bench/wire"
	"brickyard/boards/uboot"
	"brickyard/flash"
)

// cpu is the board's firmware during one boot: from reset to the next
// reset or power loss. Only its goroutine touches it and the board.
type cpu struct {
	e            *Emu
	ctx          context.Context // ends when power goes or the reset line is pulsed
	port         io.Writer
	rx           *receiver
	tx           *pacer
	cold, loader bool

	fl     *timedFlash
	base   uint64 // the chip's operations when this boot began
	status wire.Status

	pending  []wire.Frame
	prog     *program // the program operation whose chunks are arriving
	last     []byte   // the last answer, sent again for a duplicate request
	lastSeq  uint8
	lastType wire.Type
	out      []byte
}

// program is a program operation in chunks: the chip programs it at once
// when its last chunk arrives.
type program struct {
	addr, next int
	data       []byte
}

func (c *cpu) run() end {
	e := c.e
	c.base = e.chip.Ops()
	c.fl = &timedFlash{Chip: e.chip, ctx: c.ctx, erase: e.cfg.EraseTime, programPage: e.cfg.ProgramTime, rng: e.rng}
	b := e.board
	b.Chip = c.fl
	defer func() { b.Chip = e.chip }()
	if c.cold && !e.cfg.Quiet {
		if !c.write([]byte{0xFF}) { // the glitch a UART line makes at power-on
			return endPower
		}
	}
	if !c.print(preBoot(e.kind, b.ID, e.boots)) {
		return endPower
	}
	var r boards.Boot
	if c.loader {
		b.Running = nil
	} else {
		var err error
		if r, err = b.Loader.Boot(b); err != nil {
			return c.lost()
		}
	}
	c.status = c.statusOf(r)
	if !c.print(postBoot(e.kind, r, c.loader)) || !c.print([]string{appLine(r)}) {
		return endPower
	}
	if !c.event(wire.TypeHello, c.hello()) {
		return endPower
	}
	return c.serve()
}

// ops is the board's operation count since this boot began.
func (c *cpu) ops() uint32 { return uint32(c.e.chip.Ops() - c.base) }

// lost ends the boot after a flash operation failed because the chip lost
// power: by the power or reset line (ctx ended), or by the rig, which
// reports the operation it cut.
func (c *cpu) lost() end {
	if c.ctx.Err() != nil {
		return endPower
	}
	op := c.e.chip.LastOp()
	ev := wire.CutEvent{Ops: c.ops(), Kind: uint8(op.Kind), Addr: uint32(op.Addr), Len: uint32(op.Len)}
	// Off first: the host answers the event by cycling the power line,
	// which must find the rig's cut to end.
	c.e.mu.Lock()
	c.e.rigOff = true
	c.e.stats.RigCuts++
	c.e.mu.Unlock()
	c.event(wire.TypeCut, ev.Marshal())
	return endRig
}

func (c *cpu) write(b []byte) bool {
	_, err := transmit(c.ctx, c.port, c.tx, b)
	return err == nil
}

func (c *cpu) print(lines []string) bool {
	if c.e.cfg.Quiet || len(lines) == 0 {
		return c.ctx.Err() == nil
	}
	return c.write([]byte(strings.Join(lines, "\r\n") + "\r\n"))
}

func (c *cpu) frame(f wire.Frame) []byte {
	b, err := wire.AppendVersion(c.out[:0], f, c.e.cfg.Version)
	if err != nil {
		panic(err) // the firmware's own payloads are within bounds
	}
	c.out = b
	return b
}

func (c *cpu) event(t wire.Type, payload []byte) bool {
	return c.write(c.frame(wire.Frame{Type: t, Flags: wire.FlagEvent, Payload: payload}))
}

func (c *cpu) hello() []byte {
	g := c.e.chip.Geometry()
	h := wire.Hello{Proto: c.e.cfg.Version, Caps: wire.CapBootOps | wire.CapResident, MaxPayload: uint16(c.e.cfg.MaxPayload),
		Size: uint32(g.Size), Sector: uint32(g.SectorSize), WriteUnit: uint8(g.WriteUnit), Erased: g.Erased, Rewrite: uint8(g.Rewrite),
		Ops: c.ops(), Board: c.e.board.ID, Loader: c.e.kind, Serial: c.e.cfg.Serial, Firmware: "board-emu/1"}
	if !c.e.cfg.NoRigCut {
		h.Caps |= wire.CapCut
	}
	for _, p := range c.e.board.Layout {
		h.Parts = append(h.Parts, wire.Partition{Name: p.Name, Offset: uint32(p.Offset), Size: uint32(p.Size)})
	}
	return h.Marshal()
}

func (c *cpu) statusOf(r boards.Boot) wire.Status {
	b := c.e.board
	s := wire.Status{Boots: c.e.boots, BootOps: c.ops(), Ops: c.ops(), SecurityCounter: b.SecurityCounter, Reason: r.Reason}
	switch {
	case c.loader:
		s.State = wire.StateLoader
	case r.Bricked:
		s.State = wire.StateBricked
	default:
		v := r.Image.Version
		s.Slot, s.Major, s.Minor, s.Patch, s.Build = r.Slot, v.Major, v.Minor, v.Patch, v.Build
		s.ImageCounter, s.Format, s.VersionText = r.Image.SecurityCounter, uint8(r.Image.Format), r.Image.VersionText
		if r.Image.HealthFail() {
			s.ImageFlags |= 1
		}
		if r.Trial {
			s.Flags |= wire.StatusTrial
		}
		if r.FellBack {
			s.Flags |= wire.StatusFellBack
		}
	}
	if ul, ok := b.Loader.(*uboot.Loader); ok {
		if sel, err := ul.LoadEnv(b); err == nil {
			s.BootCount = uint32(min(sel.Env.Ulong(uboot.VarBootCount), math.MaxUint32))
		}
	}
	return s
}

// serve answers requests until the boot ends.
func (c *cpu) serve() end {
	sp := wire.Splitter{
		Frame: func(f wire.Frame) { c.pending = append(c.pending, f) },
		Bad: func(err error) {
			c.e.mu.Lock()
			c.e.stats.BadFrames++
			c.e.mu.Unlock()
		},
	}
	for {
		select {
		case b := <-c.rx.c:
			sp.Feed(b)
			for len(c.pending) > 0 {
				f := c.pending[0]
				c.pending = c.pending[1:]
				if why, stop := c.handle(f); stop {
					return why
				}
			}
		case <-c.rx.done:
			return endPort
		case <-c.ctx.Done():
			c.tear()
			return endPower
		}
	}
}

// tear programs, torn, what had arrived of a program operation when the
// power went, as a board programming its chunks as they come would leave
// them.
func (c *cpu) tear() {
	p, chip := c.prog, c.e.chip
	if p == nil || len(p.data) == 0 || !chip.Powered() {
		return
	}
	n := len(p.data) / chip.Geometry().WriteUnit * chip.Geometry().WriteUnit
	if n == 0 {
		return
	}
	_ = chip.ArmCut(chip.Ops(), flash.CutTorn, c.e.rng)
	_ = chip.Program(p.addr, p.data[:n])
}

// handle answers one request; stop is set when the boot ends with it.
func (c *cpu) handle(f wire.Frame) (why end, stop bool) {
	if f.Flags&(wire.FlagResp|wire.FlagEvent) != 0 {
		return 0, false
	}
	c.e.mu.Lock()
	c.e.stats.Requests++
	dup := c.last != nil && f.Seq == c.lastSeq && f.Type == c.lastType
	if dup {
		c.e.stats.Duplicates++
	}
	c.e.mu.Unlock()
	if dup {
		return endPower, !c.write(c.last)
	}
	payload, code, text, why, stop := c.do(f)
	if stop {
		return why, true
	}
	resp := wire.Frame{Type: f.Type, Flags: wire.FlagResp, Seq: f.Seq, Payload: payload}
	if code != 0 {
		resp.Flags |= wire.FlagErr
		resp.Payload = wire.ErrorResp{Code: code, Text: text}.Marshal()
	}
	c.last = append(c.last[:0], c.frame(resp)...)
	c.lastSeq, c.lastType = f.Seq, f.Type
	if !c.write(c.last) {
		return endPower, true
	}
	if f.Type == wire.TypeReboot && code == 0 {
		return endReset, true
	}
	return 0, false
}

// do performs a request: its answer's payload, or an error code and
// text; stop when the boot ends (power lost during an operation).
func (c *cpu) do(f wire.Frame) (payload []byte, code wire.Code, text string, why end, stop bool) {
	e, b, chip := c.e, c.e.board, c.e.chip
	bad := func(err error) ([]byte, wire.Code, string, end, bool) {
		return nil, wire.CodeBadRequest, err.Error(), 0, false
	}
	// flashErr answers a failed operation, or ends the boot if it lost power.
	flashErr := func(err error) ([]byte, wire.Code, string, end, bool) {
		if !chip.Powered() {
			return nil, 0, "", c.lost(), true
		}
		return nil, codeOf(err), err.Error(), 0, false
	}
	opsResp := func() []byte { return wire.OpsResp{Ops: c.ops(), SecurityCounter: b.SecurityCounter}.Marshal() }
	switch f.Type {
	case wire.TypeIdentify:
		return c.hello(), 0, "", 0, false
	case wire.TypePing:
		return f.Payload, 0, "", 0, false
	case wire.TypeStatus:
		return c.status.Marshal(), 0, "", 0, false
	case wire.TypeRead:
		r, err := wire.UnmarshalReadReq(f.Payload)
		if err != nil {
			return bad(err)
		}
		if int(r.Len) > e.cfg.MaxPayload {
			return nil, wire.CodeBadRequest, "longer than the board's max payload", 0, false
		}
		buf := make([]byte, r.Len)
		if err := chip.Read(int(r.Addr), buf); err != nil {
			return flashErr(err)
		}
		return buf, 0, "", 0, false
	case wire.TypeHash:
		r, err := wire.UnmarshalHashReq(f.Payload)
		if err != nil {
			return bad(err)
		}
		if uint64(r.Addr)+uint64(r.Len) > uint64(chip.Geometry().Size) {
			return nil, wire.CodeOutOfRange, "hash range outside the flash", 0, false
		}
		buf := make([]byte, r.Unit)
		out := make([]byte, 0, r.Len/r.Unit*wire.DigestLen)
		for a := r.Addr; a < r.Addr+r.Len; a += r.Unit {
			if err := chip.Read(int(a), buf); err != nil {
				return flashErr(err)
			}
			sum := sha256.Sum256(buf)
			out = append(out, sum[:wire.DigestLen]...)
		}
		return out, 0, "", 0, false
	case wire.TypeErase:
		r, err := wire.UnmarshalEraseReq(f.Payload)
		if err != nil {
			return bad(err)
		}
		if err := c.fl.Erase(int(r.Addr)); err != nil {
			return flashErr(err)
		}
		return opsResp(), 0, "", 0, false
	case wire.TypeProgram:
		r, err := wire.UnmarshalProgramReq(f.Payload)
		if err != nil {
			return bad(err)
		}
		if len(r.Data) > e.cfg.MaxPayload {
			return nil, wire.CodeBadRequest, "longer than the board's max payload", 0, false
		}
		switch {
		case f.Flags&wire.FlagFirst != 0:
			c.prog = &program{addr: int(r.Addr), next: int(r.Addr)}
		case c.prog == nil || int(r.Addr) != c.prog.next:
			c.prog = nil
			return nil, wire.CodeSequence, "a chunk that does not continue an operation", 0, false
		}
		p := c.prog
		if p.next-p.addr+len(r.Data) > chip.Geometry().Size {
			c.prog = nil
			return nil, wire.CodeOutOfRange, "an operation larger than the flash", 0, false
		}
		p.data = append(p.data, r.Data...)
		p.next += len(r.Data)
		if f.Flags&wire.FlagLast == 0 {
			return opsResp(), 0, "", 0, false
		}
		c.prog = nil
		if err := c.fl.Program(p.addr, p.data); err != nil {
			return flashErr(err)
		}
		return opsResp(), 0, "", 0, false
	case wire.TypeReboot:
		r, err := wire.UnmarshalRebootReq(f.Payload)
		if err != nil {
			return bad(err)
		}
		e.mu.Lock()
		e.toLoader = r.Mode == wire.RebootLoader
		e.mu.Unlock()
		return nil, 0, "", 0, false // handle resets after the answer
	case wire.TypeConfirm:
		if b.Running == nil {
			return nil, wire.CodeNotRunning, "no image is running", 0, false
		}
		if err := b.Loader.Confirm(b); err != nil {
			if !chip.Powered() {
				return nil, 0, "", c.lost(), true
			}
			return nil, codeOf(err), err.Error(), 0, false
		}
		c.status.SecurityCounter = b.SecurityCounter
		if !b.Running.Trial {
			c.status.Flags &^= wire.StatusTrial
		}
		return opsResp(), 0, "", 0, false
	case wire.TypeArmCut:
		r, err := wire.UnmarshalArmCutReq(f.Payload)
		if err != nil {
			return bad(err)
		}
		if e.cfg.NoRigCut {
			return nil, wire.CodeUnsupported, "this board has no fault rig", 0, false
		}
		if r.Mode == wire.CutDisarm {
			_ = chip.ArmCut(math.MaxUint64, flash.CutBefore, nil) // never reached
			return nil, 0, "", 0, false
		}
		if err := chip.ArmCut(chip.Ops()+uint64(r.After), flash.CutMode(r.Mode), rand.New(rand.NewPCG(r.Seed1, r.Seed2))); err != nil {
			return nil, wire.CodeBadRequest, err.Error(), 0, false
		}
		return nil, 0, "", 0, false
	}
	return nil, wire.CodeUnknownType, f.Type.String(), 0, false
}

// codeOf is the error code of a flash or loader error.
func codeOf(err error) wire.Code {
	switch {
	case errors.Is(err, flash.ErrOutOfRange):
		return wire.CodeOutOfRange
	case errors.Is(err, flash.ErrUnaligned):
		return wire.CodeUnaligned
	case errors.Is(err, flash.ErrNotErased):
		return wire.CodeNotErased
	case errors.Is(err, flash.ErrWornOut):
		return wire.CodeWornOut
	case errors.Is(err, boards.ErrNotRunning):
		return wire.CodeNotRunning
	case errors.Is(err, boards.ErrNotTrial):
		return wire.CodeNotTrial
	}
	return wire.CodeFlash
}
