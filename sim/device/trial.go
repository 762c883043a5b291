package device

import (
	"fmt"
	"time"

	"brickyard/boards"
	"brickyard/flash"
	"brickyard/sim/faults"
)

// A new image boots on trial (boards.Boot.Trial). Its application
// confirms it (Loader.Confirm) once it has exchanged a Record with one of
// its controllers — a NotifyResp to Boot!, or any request — unless it
// fails its health check (the image's FlagHealthFail, or the device's
// HealthFail fault). If the trial period ends first, the application
// resets the device and the bootloader falls back.

// exchanged is called for every Msg received while on trial.
func (d *Device) exchanged(now time.Time, from string) {
	if from != d.cfg.ControllerID() && d.controllerRow(from, now) == "" {
		return
	}
	r := d.board.Running
	if d.healthFail {
		if d.trial && !d.warned {
			d.warned = true
			d.event(now, EvHealthFail, "slot=%s version=%s: not confirmed", r.Slot, r.Image.VersionString())
		}
		return
	}
	if err := d.board.Loader.Confirm(d.board); err != nil {
		if d.lost(now, "confirm", err) {
			return
		}
		d.healthFail, d.warned = true, true // it cannot confirm: the trial will end
		d.event(now, EvHealthFail, "confirm failed: %v", err)
		return
	}
	d.trial = false
	d.setTimer(TimerTrial, time.Time{})
	d.nv.good = imageID{slot: r.Slot, version: r.Image.VersionString()}
	d.nv.target, d.nv.targetVer, d.nv.key = 0, "", ""
	d.setValue(now, pathBootFW, d.activeRowPath())
	d.setValue(now, rowPath(d.running)+"BootFailureLog", "")
	d.event(now, EvConfirmed, "slot=%s version=%s", r.Slot, r.Image.VersionString())
}

// trialEnd resets a device whose image is still on trial when the trial
// period ends, so that the bootloader falls back. The reason is kept for
// the failed row's BootFailureLog.
func (d *Device) trialEnd(now time.Time) {
	if !d.trial {
		return
	}
	why := "no Record exchanged with the controller"
	if d.healthFail {
		why = "the application failed its health check"
	}
	r := d.board.Running
	d.nv.failLog = fmt.Sprintf("image %s on trial in %s: %s within the trial period (%s); reset to fall back",
		r.Image.VersionString(), r.Slot, why, d.cfg.TrialPeriod)
	d.event(now, EvTrialEnd, "slot=%s version=%s: %s", r.Slot, r.Image.VersionString(), why)
	d.restart(now, restartReq{cause: "LocalReboot", reason: "trial failed: " + why, key: d.nv.key})
}

// countOps runs f on a copy of the board (its chip shared copy-on-write)
// and returns the flash operations it performed: the dry run that places
// a fault's power cut. A board that cannot be copied (a real one, on a
// link) is rehearsed on boards.Board.StandIn: a blank chip of its
// geometry, which counts a Write's operations (they depend on the layout
// and the image's size alone) but not a boot's.
func (d *Device) countOps(f func(b *boards.Board) error) uint64 {
	var c *boards.Board
	if d.board.CanClone() {
		c = d.board.Clone()
	} else if c = d.board.StandIn(); c == nil {
		return 0
	}
	before := c.Chip.Ops()
	_ = f(c)
	return c.Chip.Ops() - before
}

// armCut arms the board's chip to lose power at the operation that lies
// at fraction c.Fraction of the next n operations: before it, or torn.
func (d *Device) armCut(c *faults.Cut, n uint64) {
	k := uint64(c.Fraction * float64(n))
	if k >= n {
		k = n - 1
	}
	_ = d.board.Chip.ArmCut(d.board.Chip.Ops()+k, cutMode(c), d.rng)
}

// armTrialCut arms the PowerDuringTrial fault for the boot about to run,
// when an activated image is expected to boot on trial: the cut lands at
// its fraction of the trial's flash operations (the boot's own writes,
// then the confirm's, if the image is healthy), counted by a dry run. A
// real board's boot cannot be rehearsed: its flash, a boards.BootCutter,
// places the cut at the fraction of the boot itself (boards/bench: of its
// duration).
func (d *Device) armTrialCut() {
	c := d.cfg.Faults().PowerDuringTrial
	if c == nil || d.used&faultTrial != 0 || d.nv.target == 0 {
		return
	}
	if !d.board.CanClone() {
		bc, ok := d.board.Chip.(boards.BootCutter)
		if ok && bc.ArmBootCut(c.Fraction, cutMode(c), d.rng) == nil {
			d.used |= faultTrial
		}
		return
	}
	n := d.countOps(func(b *boards.Board) error {
		r, err := b.Loader.Boot(b)
		if err != nil || !r.Trial || r.Image.HealthFail() || d.cfg.Faults().HealthFail {
			return err
		}
		return b.Loader.Confirm(b)
	})
	if n > 0 {
		d.used |= faultTrial
		d.armCut(c, n)
	}
}

func cutMode(c *faults.Cut) flash.CutMode {
	if c.Torn {
		return flash.CutTorn
	}
	return flash.CutBefore
}
