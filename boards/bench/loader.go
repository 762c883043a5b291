package bench

import (
	"errors"
	"fmt"
	"time"

	"brickyard/boards"
	"brickyard/boards/bench/wire"
	"brickyard/boards/image"
	"brickyard/flash"
)

// Loader is a bench board's bootloader as brickyard drives it. The
// updater's half is brickyard's model of the board's bootloader kind
// (Model), whose flash writes go over the link: Write puts the image in
// the slot, Activate writes the loader's metadata (U-Boot's environment,
// MCUboot's trailer, ESP-IDF's otadata). The rest is the board's: Boot
// resets the board (unless it has just powered on), waits for its Hello
// and reads its boot status; Confirm is the board's own confirm. On a
// board that is not on a bench Flash (a stand-in for a dry run), Boot and
// Confirm are the model's.
type Loader struct {
	Model boards.Bootloader
}

var _ boards.Bootloader = (*Loader)(nil)

func (l *Loader) Name() string    { return l.Model.Name() }
func (l *Loader) Slots() []string { return l.Model.Slots() }

func (l *Loader) Provision(b *boards.Board, img *flash.Blob) error { return l.Model.Provision(b, img) }
func (l *Loader) Write(b *boards.Board, slot string, img *flash.Blob) error {
	return l.Model.Write(b, slot, img)
}
func (l *Loader) Activate(b *boards.Board, slot string) error { return l.Model.Activate(b, slot) }

// Boot is one boot of the real board: a reset (after a power-on, the one
// that is happening), its Hello, its boot status. A boot cut (ArmBootCut)
// drops the power line at its fraction of the boot. It fails with an error
// wrapping flash.ErrPowerLost when power goes during the boot, and
// ErrOffline as well when the board does not come back.
func (l *Loader) Boot(b *boards.Board) (boards.Boot, error) {
	f, ok := b.Chip.(*Flash)
	if !ok {
		return l.Model.Boot(b)
	}
	b.Running = nil
	bb := f.b
	if f.off {
		return boards.Boot{}, &flash.OpError{Op: flash.OpRead, Err: f.lostErr()}
	}
	if !f.pending {
		if err := bb.Reset(false); err != nil {
			f.off, f.why = true, "reset: "+err.Error()
			return boards.Boot{}, &flash.OpError{Op: flash.OpRead, Err: f.lostErr()}
		}
	}
	h, err := l.waitHello(f)
	if err != nil {
		return boards.Boot{}, err
	}
	f.noteOps(h.Ops)
	resp, err := bb.do(wire.TypeStatus, 0, nil)
	if err != nil {
		return boards.Boot{}, f.failed(flash.OpRead, 0, 0, err)
	}
	st, err := wire.UnmarshalStatus(resp.Payload)
	if err != nil {
		return boards.Boot{}, f.failed(flash.OpRead, 0, 0, err)
	}
	if bb.caps&wire.CapBootOps != 0 && st.BootOps == 0 {
		f.m.keep() // the bootloader wrote nothing: the mirror stands as before the reset
	}
	b.SecurityCounter = max(b.SecurityCounter, st.SecurityCounter)
	r := boards.Boot{Reason: st.Reason}
	switch st.State {
	case wire.StateBricked:
		r.Bricked = true
		return r, nil
	case wire.StateLoader:
		r.Bricked, r.Reason = true, "held in its loader by the boot-mode strap"
		return r, nil
	}
	r.Slot, r.Trial, r.FellBack = st.Slot, st.Flags&wire.StatusTrial != 0, st.Flags&wire.StatusFellBack != 0
	r.Image = image.Info{Format: image.Format(st.Format), SecurityCounter: st.ImageCounter, BoardID: b.ID, VersionText: st.VersionText,
		Version: image.Version{Major: st.Major, Minor: st.Minor, Patch: st.Patch, Build: st.Build}}
	r.Image.SetHealthFail(st.ImageFlags&1 != 0)
	b.Running = &r
	return r, nil
}

// waitHello waits for the pending boot's Hello, cutting the power at the
// armed fraction of the boot.
func (l *Loader) waitHello(f *Flash) (wire.Hello, error) {
	bb := f.b
	f.pending = false
	if h := f.hello; h != nil {
		f.hello = nil
		return *h, nil
	}
	timeout := time.NewTimer(time.Until(f.resetAt.Add(bb.cfg.BootTimeout)))
	defer timeout.Stop()
	var cut <-chan time.Time
	if f.boot != nil {
		expect := f.bootDur
		if expect <= 0 {
			expect = bb.cfg.BootTime
		}
		frac := f.boot.fraction
		f.boot = nil
		t := time.NewTimer(time.Until(f.resetAt.Add(time.Duration(frac * float64(expect)))))
		defer t.Stop()
		cut = t.C
	}
	for {
		select {
		case ev := <-bb.link.Events():
			switch ev.Type {
			case wire.TypeCut:
				bb.link.unread(ev)
				f.rigCut()
				return wire.Hello{}, &flash.OpError{Op: f.last.Kind, Addr: f.last.Addr, Len: f.last.Len, Err: f.lostErr()}
			case wire.TypeHello:
				h, err := wire.UnmarshalHello(ev.Payload)
				if err == nil {
					err = bb.same(h)
				}
				if err != nil {
					bb.link.setOffline(err)
					f.off, f.why = true, err.Error()
					return wire.Hello{}, &flash.OpError{Op: flash.OpRead, Err: f.lostErr()}
				}
				f.bootDur = time.Since(f.resetAt)
				return h, nil
			}
		case <-cut:
			f.dropPower(fmt.Sprintf("power cut %s into the boot (fault plan)", time.Since(f.resetAt).Round(time.Millisecond)))
			return wire.Hello{}, &flash.OpError{Op: flash.OpRead, Err: f.lostErr()}
		case <-timeout.C:
			err := fmt.Errorf("%w after reset; its console ends:\n%s", errSilent, bb.console.Tail(5))
			if bb.caps&wire.CapResident == 0 {
				err = fmt.Errorf("%w (the board's link is not resident: no image may have booted)", err)
			}
			bb.link.setOffline(fmt.Errorf("no Hello within %s: %w", bb.cfg.BootTimeout, err))
			f.off, f.why = true, "no Hello"
			return wire.Hello{}, &flash.OpError{Op: flash.OpRead, Err: f.lostErr()}
		case <-bb.link.Gone():
			f.off, f.why = true, "offline"
			return wire.Hello{}, &flash.OpError{Op: flash.OpRead, Err: f.lostErr()}
		case <-bb.link.Done():
			f.off = true
			return wire.Hello{}, &flash.OpError{Op: flash.OpRead, Err: f.lostErr()}
		case <-bb.ctx.Done():
			return wire.Hello{}, bb.ctx.Err()
		}
	}
}

// same checks that a Hello is from the board attached.
func (b *Board) same(h wire.Hello) error {
	a := b.hello
	if h.Board != a.Board || h.Serial != a.Serial || h.Loader != a.Loader || h.Size != a.Size || h.Sector != a.Sector || h.Proto != a.Proto {
		return fmt.Errorf("another board answered: %s %s (%s), attached to %s %s (%s)", h.Board, h.Serial, h.Loader, a.Board, a.Serial, a.Loader)
	}
	return nil
}

// Confirm is the board's own confirm of its running image.
func (l *Loader) Confirm(b *boards.Board) error {
	f, ok := b.Chip.(*Flash)
	if !ok {
		return l.Model.Confirm(b)
	}
	if b.Running == nil {
		return fmt.Errorf("%s: confirm: %w", l.Name(), boards.ErrNotRunning)
	}
	if f.off {
		return &flash.OpError{Op: flash.OpProgram, Err: f.lostErr()}
	}
	before := f.ops
	resp, err := f.b.do(wire.TypeConfirm, 0, nil)
	var e wire.ErrorResp
	switch {
	case errors.As(err, &e) && e.Code == wire.CodeNotRunning:
		return fmt.Errorf("%s: confirm: %w", l.Name(), boards.ErrNotRunning)
	case errors.As(err, &e) && e.Code == wire.CodeNotTrial:
		return fmt.Errorf("%s: confirm slot %s: %w", l.Name(), b.Running.Slot, boards.ErrNotTrial)
	case errors.As(err, &e):
		return fmt.Errorf("%s: confirm: %w", l.Name(), e)
	case err != nil:
		return f.failed(flash.OpProgram, 0, 0, err)
	}
	if err := f.opsAnswer(resp.Payload); err != nil {
		return f.failed(flash.OpProgram, 0, 0, err)
	}
	if f.ops != before {
		f.m.suspectAll()
	}
	return nil
}
