package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"time"

	"brickyard/boards"
	"brickyard/boards/bench/wire"
	"brickyard/boards/image"
	"brickyard/boards/profile"
	"brickyard/flash"
)

// Config is one bench board.
type Config struct {
	// Port is the board's serial link: a device path, or tcp://host:port
	// (a serial server's raw TCP port). Baud is the device's rate.
	Port string
	Baud int
	// Profile is the board's profile (chip, layout, bootloader model and
	// options); the board's Hello must agree with it. Nil: the profile is
	// the board's Hello's, with Bootloader's default options.
	Profile *profile.Profile
	// Bootloader is the kind the board must report when Profile is nil
	// ("" takes the board's).
	Bootloader string
	// Keys are the keys the board's images are signed with: what Activate
	// verifies a slot against before it commits.
	Keys *image.Keyring
	// Power switches the board's supply; nil: brickyard cannot cut or
	// restore its power (no power-cut faults, no power cycle).
	Power Power
	// Reset and BootMode, optional, are its reset line and boot-mode
	// strap.
	Reset, BootMode *Line
	// PowerHold is how long the supply stays off in a power cycle (0:
	// 500 ms): enough for the board's capacitors to discharge.
	PowerHold time.Duration
	// ResetPulse is how long the reset line is asserted (0: 100 ms).
	ResetPulse time.Duration
	// BootTimeout is how long a boot may take, from reset to the board's
	// Hello (0: 30 s).
	BootTimeout time.Duration
	// BootTime is the boot's expected duration before one is measured, to
	// place a cut at a fraction of a boot (0: 2 s).
	BootTime time.Duration
	// HostCuts places power cuts by the power line even when the board's
	// rig could place them (wire.CapCut).
	HostCuts bool
	// TornWindow is how long after a torn cut's operation reached the
	// board the power line drops, at most (the delay is drawn from the
	// cut's seeds; 0: 10 ms, about a page program).
	TornWindow time.Duration
	// Link tunes the link; its Console is the Board's.
	Link LinkConfig
}

func (c *Config) fill() {
	if c.PowerHold <= 0 {
		c.PowerHold = 500 * time.Millisecond
	}
	if c.ResetPulse <= 0 {
		c.ResetPulse = 100 * time.Millisecond
	}
	if c.BootTimeout <= 0 {
		c.BootTimeout = 30 * time.Second
	}
	if c.BootTime <= 0 {
		c.BootTime = 2 * time.Second
	}
	if c.TornWindow <= 0 {
		c.TornWindow = 10 * time.Millisecond
	}
	if c.Link.Baud == 0 {
		c.Link.Baud = c.Baud
	}
}

// Board is a real board on the bench, behind a boards.Board whose Chip is
// its Flash and whose Loader is its Loader. A Board is used by one
// goroutine (a device's); it owns its link's reader. Close ends both.
type Board struct {
	cfg     Config
	ctx     context.Context
	cancel  context.CancelFunc
	link    *Link
	power   Power
	console *Console
	caps    wire.Caps
	hello   wire.Hello
	flash   *Flash
	board   *boards.Board
}

// Open opens cfg.Port and attaches to the board on it.
func Open(ctx context.Context, cfg Config) (*Board, error) {
	port, err := OpenPort(cfg.Port, cfg.Baud)
	if err != nil {
		return nil, err
	}
	return Attach(ctx, port, cfg)
}

// Attach attaches to the board on port, which it owns from now on: with
// power control it power-cycles the board and takes the Hello of its
// boot; without, it asks the running board to identify itself. The
// board's Hello must agree with cfg's profile. The board is then running
// that boot, which the device's first Boot takes.
func Attach(ctx context.Context, port io.ReadWriteCloser, cfg Config) (*Board, error) {
	cfg.fill()
	if cfg.Keys == nil {
		port.Close()
		return nil, errors.New("bench: the board's image keys are required")
	}
	console := newConsole()
	lc := cfg.Link
	lc.Console = console.write
	b := &Board{cfg: cfg, link: NewLink(port, lc), power: cfg.Power, console: console}
	b.ctx, b.cancel = context.WithCancel(ctx)
	if err := b.attach(); err != nil {
		b.Close()
		return nil, fmt.Errorf("bench: board on %s: %w", cfg.Port, err)
	}
	return b, nil
}

func (b *Board) attach() error {
	var h wire.Hello
	var fresh bool
	if b.power != nil {
		if err := b.powerCycle(time.Time{}); err != nil {
			return err
		}
		ev, err := b.waitEvent(b.cfg.BootTimeout, wire.TypeHello)
		if err != nil {
			return err
		}
		if h, err = wire.UnmarshalHello(ev.Payload); err != nil {
			return err
		}
		fresh = true
	} else {
		resp, err := b.do(wire.TypeIdentify, 0, nil)
		switch {
		case errors.Is(err, ErrReset): // it was booting: its Hello says it all
			ev, _ := b.link.TakeEvent()
			if h, err = wire.UnmarshalHello(ev.Payload); err != nil {
				return err
			}
			fresh = true
		case err != nil:
			return fmt.Errorf("identify: %w", err)
		default:
			if h, err = wire.UnmarshalHello(resp.Payload); err != nil {
				return err
			}
		}
	}
	p, err := b.profileOf(h)
	if err != nil {
		return err
	}
	b.hello, b.caps = h, h.Caps
	chunk := (int(h.MaxPayload) - 4) / p.Flash.WriteUnit * p.Flash.WriteUnit
	f := &Flash{b: b, g: p.Flash, chunk: chunk, m: newMirror(p.Flash.Size, p.Flash.SectorSize, p.Flash.Erased), bootDur: 0}
	b.flash = f
	b.board = &boards.Board{ID: p.Name, Chip: f, Layout: p.Layout, Loader: &Loader{Model: p.Loader}, Keys: b.cfg.Keys}
	if fresh {
		f.pending, f.resetAt, f.hello = true, time.Now(), &h
	} else {
		f.noteOps(h.Ops)
	}
	return nil
}

// profileOf checks a Hello against the configured profile, or makes the
// profile from it.
func (b *Board) profileOf(h wire.Hello) (profile.Profile, error) {
	if h.Proto != wire.Version {
		return profile.Profile{}, fmt.Errorf("the board speaks link protocol version %d, brickyard speaks %d", h.Proto, wire.Version)
	}
	g := flash.Geometry{Size: int(h.Size), SectorSize: int(h.Sector), WriteUnit: int(h.WriteUnit), Erased: h.Erased, Rewrite: flash.RewritePolicy(h.Rewrite)}
	if err := g.Validate(); err != nil {
		return profile.Profile{}, fmt.Errorf("the board's flash: %w", err)
	}
	var layout boards.Layout
	for _, p := range h.Parts {
		layout = append(layout, boards.Partition{Name: p.Name, Offset: int(p.Offset), Size: int(p.Size)})
	}
	if err := layout.Validate(g.Size, g.SectorSize); err != nil {
		return profile.Profile{}, fmt.Errorf("the board's partitions: %w", err)
	}
	if p := b.cfg.Profile; p != nil {
		g.Endurance = p.Flash.Endurance // the board does not say; the profile may
		switch {
		case h.Board != p.Name:
			return profile.Profile{}, fmt.Errorf("the board is a %q, the configuration says %q", h.Board, p.Name)
		case h.Loader != p.Loader.Name():
			return profile.Profile{}, fmt.Errorf("the board's bootloader is %q, profile %s's is %q", h.Loader, p.Name, p.Loader.Name())
		case g != p.Flash:
			return profile.Profile{}, fmt.Errorf("the board's flash %+v differs from profile %s's %+v", g, p.Name, p.Flash)
		case !reflect.DeepEqual(layout, p.Layout):
			return profile.Profile{}, fmt.Errorf("the board's partitions %v differ from profile %s's %v", layout, p.Name, p.Layout)
		}
		return *p, nil
	}
	if b.cfg.Bootloader != "" && h.Loader != b.cfg.Bootloader {
		return profile.Profile{}, fmt.Errorf("the board's bootloader is %q, the configuration says %q", h.Loader, b.cfg.Bootloader)
	}
	factory, ok := profile.Loaders()[h.Loader]
	if !ok {
		return profile.Profile{}, fmt.Errorf("the board's bootloader %q is not one brickyard models", h.Loader)
	}
	l, err := factory(func(any) error { return nil })
	if err != nil {
		return profile.Profile{}, err
	}
	for _, s := range l.Slots() {
		if _, ok := layout.Get(s); !ok {
			return profile.Profile{}, fmt.Errorf("bootloader %s needs a partition named %q, the board has none", h.Loader, s)
		}
	}
	return profile.Profile{Name: h.Board, Flash: g, Layout: layout, Loader: l}, nil
}

// Board is the board as brickyard's models and devices use it.
func (b *Board) Board() *boards.Board { return b.board }

// Flash is the board's flash.
func (b *Board) Flash() *Flash { return b.flash }

// Hello is what the board said of itself when attached.
func (b *Board) Hello() wire.Hello { return b.hello }

// Console is the board's console text.
func (b *Board) Console() *Console { return b.console }

// Link is the board's link.
func (b *Board) Link() *Link { return b.link }

// Offline is why the board is unusable, nil while it is not: its link
// gave up (silence, a broken port, another protocol version), or its
// power cannot be restored.
func (b *Board) Offline() error {
	if err := b.link.Offline(); err != nil {
		return err
	}
	if f := b.flash; f != nil && f.off && b.power == nil && !f.pending {
		return fmt.Errorf("%w: %s", ErrOffline, f.why)
	}
	return nil
}

// Close ends the link and its reader, and closes the port.
func (b *Board) Close() error {
	b.cancel()
	return b.link.Close()
}

func (b *Board) do(t wire.Type, flags wire.Flags, payload []byte) (wire.Frame, error) {
	return b.link.Do(b.ctx, t, flags, payload)
}

func (b *Board) send(t wire.Type, flags wire.Flags, payload []byte) {
	_ = b.link.Send(t, flags, payload) // an error here takes the board offline; the cut goes on
}

func (b *Board) powerOff() {
	if b.power != nil {
		_ = b.power.SetPower(b.ctx, false) // if the switch fails, Offline and the next power-on say so
	}
}

// powerCycle switches the supply off (if it is not since offAt), holds
// it off for PowerHold, and on. The board's queued events are dropped:
// the next Hello is this power-on's.
func (b *Board) powerCycle(offAt time.Time) error {
	if b.power == nil {
		return errors.New("no power control is configured")
	}
	if offAt.IsZero() {
		if err := b.power.SetPower(b.ctx, false); err != nil {
			return err
		}
		offAt = time.Now()
	}
	if d := time.Until(offAt.Add(b.cfg.PowerHold)); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-b.ctx.Done():
			t.Stop()
			return b.ctx.Err()
		}
	}
	if b.cfg.BootMode != nil {
		if err := b.cfg.BootMode.Set(false); err != nil {
			return err
		}
	}
	b.link.DropEvents()
	if err := b.power.SetPower(b.ctx, true); err != nil {
		return err
	}
	b.link.Revive()
	return nil
}

// waitEvent waits for the board's next event of type t.
func (b *Board) waitEvent(timeout time.Duration, t wire.Type) (wire.Frame, error) {
	deadline := time.Now().Add(timeout)
	for {
		ev, err := b.link.Event(b.ctx, time.Until(deadline))
		if err != nil {
			return wire.Frame{}, fmt.Errorf("waiting for the board's %s: %w; its console ends:\n%s", t, err, b.console.Tail(5))
		}
		if ev.Type == t {
			return ev, nil
		}
	}
}

// Reset resets the board: its link's Reboot; when it does not answer,
// the reset line, or else a power cycle. With loader set the boot-mode
// strap (or Reboot's loader mode) keeps it in its loader.
func (b *Board) Reset(loader bool) error {
	f := b.flash
	b.link.DropEvents()
	mode := wire.RebootNormal
	if loader {
		mode = wire.RebootLoader
	}
	var err error
	switch {
	case loader && b.cfg.BootMode != nil && b.cfg.Reset != nil:
		err = b.strapReset()
	case b.link.Offline() == nil:
		if _, err = b.do(wire.TypeReboot, 0, wire.RebootReq{Mode: mode}.Marshal()); err == nil {
			break
		}
		fallthrough
	default:
		if b.cfg.Reset != nil {
			b.link.Revive()
			err = b.pulse()
		} else if b.power != nil {
			err = b.powerCycle(time.Time{})
		}
	}
	if err != nil {
		return err
	}
	f.pending, f.hello, f.resetAt, f.bootOps = true, nil, time.Now(), 0
	f.m.suspectAll()
	return nil
}

// pulse asserts the reset line for ResetPulse.
func (b *Board) pulse() error {
	if err := b.cfg.Reset.Set(true); err != nil {
		return err
	}
	t := time.NewTimer(b.cfg.ResetPulse)
	defer t.Stop()
	select {
	case <-t.C:
	case <-b.ctx.Done():
		return b.ctx.Err()
	}
	return b.cfg.Reset.Set(false)
}

// strapReset is the boot-mode sequence: assert the strap, pulse reset,
// release the strap once the board is in its loader (its Hello).
func (b *Board) strapReset() error {
	if err := b.cfg.BootMode.Set(true); err != nil {
		return err
	}
	return b.pulse() // the strap is released by the next power cycle or ReleaseBootMode
}

// ReleaseBootMode releases the boot-mode strap.
func (b *Board) ReleaseBootMode() error {
	if b.cfg.BootMode == nil {
		return nil
	}
	return b.cfg.BootMode.Set(false)
}
