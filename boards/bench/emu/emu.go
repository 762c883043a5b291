package emu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"

	"brickyard/boards"
	"brickyard/boards/bench/wire"
	"brickyard/flash"
)

// Config is one emulated board.
type Config struct {
	// Board is a provisioned simulated board, on a *flash.Chip; the
	// emulator owns it from New on.
	Board *boards.Board
	// Serial is the board's unique id in its Hello (default "EMU-0001").
	Serial string
	// Baud paces the UART both ways; 0 does not pace.
	Baud int
	// MaxPayload is the largest payload the firmware takes (64…4096;
	// 0: 4096).
	MaxPayload int
	// NoRigCut leaves wire.CapCut out: the board's power is cut by its
	// line only, as on a bench without a fault rig.
	NoRigCut bool
	// Quiet prints no boot log.
	Quiet bool
	// EraseTime is one sector erase, ProgramTime one 256-byte page
	// program. A power loss during them tears the operation.
	EraseTime, ProgramTime time.Duration
	// Seed seeds the torn bits of operations a power loss interrupts.
	Seed uint64
	// Version is the link protocol version the firmware speaks (0: the
	// current one); another is how tests play a board of another version.
	Version uint8
	// Powered is the power line's level at start when no Lines.Power is
	// watched.
	Powered bool
	// Lines, optional, are the pins the emulator watches.
	Lines Lines
}

// Lines are the board's control inputs. A nil pin is not watched.
// ActiveLow inverts a pin: its low level asserts it.
type Lines struct {
	Power, Reset, BootMode gpio.PinIn
	PowerActiveLow         bool
	ResetActiveLow         bool
	BootModeActiveLow      bool
}

// Stats count what the emulator did.
type Stats struct {
	Boots      uint64 // boots, every reset and power-on
	PowerOns   uint64
	RigCuts    uint64 // cuts of its rig (ArmCut)
	LineCuts   uint64 // power lost while running, by the line
	Requests   uint64
	Duplicates uint64 // requests answered again from the last answer
	BadFrames  uint64
}

// Emu is one emulated board. Make it with New; run it with Serve.
type Emu struct {
	cfg   Config
	board *boards.Board
	chip  *flash.Chip
	kind  string
	rng   *rand.Rand // torn bits of interrupted operations

	mu        sync.Mutex
	line      bool // the power line is on
	rigOff    bool // the rig cut the power: off until the line goes off
	resetHeld bool
	bootMode  bool
	resetReq  bool // a reset pulse is pending
	toLoader  bool // the firmware's Reboot asked for the loader
	kick      chan struct{}
	changed   chan struct{} // closed and replaced when the board's power state changes
	running   bool          // the state changed announces: a boot's firmware runs
	stats     Stats
	boots     uint32 // since power-on

	// The firmware's state that survives a reset of the link (none) is
	// kept by the cpu; what the supervisor hands it is here.
	status wire.Status
}

// New checks cfg and makes the emulator, off.
func New(cfg Config) (*Emu, error) {
	if cfg.Board == nil || cfg.Board.Loader == nil {
		return nil, errors.New("emu: a provisioned board is required")
	}
	chip, ok := cfg.Board.Chip.(*flash.Chip)
	if !ok {
		return nil, fmt.Errorf("emu: the board's flash is a %T, not a simulated chip", cfg.Board.Chip)
	}
	switch {
	case cfg.MaxPayload == 0:
		cfg.MaxPayload = wire.MaxPayload
	case cfg.MaxPayload < 64 || cfg.MaxPayload > wire.MaxPayload:
		return nil, fmt.Errorf("emu: max payload %d: want 64…%d", cfg.MaxPayload, wire.MaxPayload)
	}
	if cfg.Baud < 0 {
		return nil, fmt.Errorf("emu: baud %d is negative", cfg.Baud)
	}
	if cfg.EraseTime < 0 || cfg.ProgramTime < 0 {
		return nil, errors.New("emu: operation times must not be negative")
	}
	if cfg.Serial == "" {
		cfg.Serial = "EMU-0001"
	}
	if cfg.Version == 0 {
		cfg.Version = wire.Version
	}
	e := &Emu{cfg: cfg, board: cfg.Board, chip: chip, kind: cfg.Board.Loader.Name(),
		rng: rand.New(rand.NewPCG(cfg.Seed, 0x656d75)), line: cfg.Powered, kick: make(chan struct{}, 1), changed: make(chan struct{})}
	e.board.Running = nil
	return e, nil
}

// Board is the emulated board. Inspect it only while Serve is not running.
func (e *Emu) Board() *boards.Board { return e.board }

// Stats is a snapshot of the emulator's counters.
func (e *Emu) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats
}

func (e *Emu) poke() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// SetPower sets the power line.
func (e *Emu) SetPower(on bool) {
	e.mu.Lock()
	e.line = on
	if !on {
		e.rigOff = false // the line is off: the rig's cut ends with it
	}
	e.mu.Unlock()
	e.poke()
}

// Powered reports whether the board runs: its line on, its rig not cutting,
// its reset released.
func (e *Emu) Powered() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.on()
}

func (e *Emu) on() bool { return e.line && !e.rigOff && !e.resetHeld }

// setRunning records whether a boot's firmware runs, for WaitPowered.
func (e *Emu) setRunning(on bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.running != on {
		e.running = on
		close(e.changed)
		e.changed = make(chan struct{})
	}
}

// WaitPowered waits until the board is running (on) or has stopped
// (!on), or ctx ends.
func (e *Emu) WaitPowered(ctx context.Context, on bool) error {
	for {
		e.mu.Lock()
		now, ch := e.running, e.changed
		e.mu.Unlock()
		if now == on {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Reset pulses the reset line: the board restarts and boots again.
func (e *Emu) Reset() {
	e.mu.Lock()
	e.resetReq = true
	e.mu.Unlock()
	e.poke()
}

// SetReset holds (true) or releases the reset line.
func (e *Emu) SetReset(held bool) {
	e.mu.Lock()
	e.resetHeld = held
	e.mu.Unlock()
	e.poke()
}

// SetBootMode sets the boot-mode strap: asserted at a reset or power-on,
// the board stays in its loader and boots no image.
func (e *Emu) SetBootMode(asserted bool) {
	e.mu.Lock()
	e.bootMode = asserted
	e.mu.Unlock()
}

// end is why one boot's firmware stopped.
type end uint8

const (
	endPower end = iota // power or reset line: the supervisor knows
	endReset            // the firmware asked for a reset (Reboot)
	endRig              // the rig cut the power
	endPort             // the port failed
)

// Serve runs the board on port until ctx ends or the port fails, then
// closes the port. It returns nil when ctx ended, otherwise the port's
// error. Call it once.
func (e *Emu) Serve(ctx context.Context, port io.ReadWriteCloser) error {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	e.watch(ctx, &wg)
	rx := receive(ctx, port, e.cfg.Baud)
	tx := newPacer(e.cfg.Baud)
	err := e.supervise(ctx, port, rx, tx)
	stop()
	port.Close()
	<-rx.done
	wg.Wait()
	return err
}

// supervise starts a boot whenever the board has power, and stops it when
// the power goes, the reset line is pulsed, or the firmware ends.
func (e *Emu) supervise(ctx context.Context, port io.Writer, rx *receiver, tx *pacer) error {
	cold := true // the next boot follows a power-on
	for {
		e.mu.Lock()
		on, gone := e.on(), !e.line || e.rigOff
		e.resetReq = false
		e.mu.Unlock()
		if !on {
			if gone {
				if e.chip.Powered() {
					e.chip.CutNow() // RAM, and an armed rig cut, go with the power
				}
				cold = true
			}
			select {
			case <-e.kick:
			case <-rx.c: // an unpowered UART receives nothing
			case <-rx.done:
				return rx.err
			case <-ctx.Done():
				return nil
			}
			continue
		}
		if !e.chip.Powered() {
			e.chip.PowerOn()
		}
		e.mu.Lock()
		e.boots++
		if cold {
			e.boots = 1
			e.stats.PowerOns++
		}
		e.stats.Boots++
		loaderMode := e.bootMode || e.toLoader
		e.toLoader = false
		e.mu.Unlock()
		bctx, cancel := context.WithCancel(ctx)
		done := make(chan end, 1)
		c := &cpu{e: e, ctx: bctx, port: port, rx: rx, tx: tx, cold: cold, loader: loaderMode}
		e.setRunning(true)
		go func() { done <- c.run() }()
		cold = false
		var why end
	wait:
		for {
			select {
			case why = <-done:
				break wait
			case <-e.kick:
				e.mu.Lock()
				stopNow := !e.on() || e.resetReq
				e.mu.Unlock()
				if stopNow {
					cancel()
					why = <-done
					break wait
				}
			case <-ctx.Done():
				cancel()
				<-done
				return nil
			}
		}
		cancel()
		e.setRunning(false)
		switch why {
		case endRig: // the cpu set rigOff before it said so
		case endPort:
			return rx.err
		case endPower:
			e.mu.Lock()
			if !e.line {
				e.stats.LineCuts++
			}
			e.mu.Unlock()
		}
	}
}

// watch starts one goroutine per pin of Lines; each ends with ctx.
func (e *Emu) watch(ctx context.Context, wg *sync.WaitGroup) {
	l := e.cfg.Lines
	level := func(p gpio.PinIn, activeLow bool) bool { return bool(p.Read()) != activeLow }
	start := func(p gpio.PinIn, activeLow bool, set func(bool)) {
		if p == nil {
			return
		}
		set(level(p, activeLow))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if p.WaitForEdge(100 * time.Millisecond) {
					set(level(p, activeLow))
				}
			}
		}()
	}
	start(l.Power, l.PowerActiveLow, e.SetPower)
	start(l.Reset, l.ResetActiveLow, e.SetReset)
	start(l.BootMode, l.BootModeActiveLow, e.SetBootMode)
}
