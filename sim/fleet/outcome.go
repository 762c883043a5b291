package fleet

import (
	"time"

	"brickyard/boards"
	"brickyard/sim/device"
)

// Cut is one power cut a device went through, for reports.
type Cut struct {
	At time.Time
	// Phase is where it landed: download (the switch while the image was
	// downloading), install, activate, boot (the trial boot's own writes),
	// confirm, or power-switch (the switch at any other moment).
	Phase string
	// The flash operation it landed on (Kind "program" or "erase", the
	// chip address and the partition holding it); Kind is empty for a cut
	// between operations (the power switch).
	Kind      string
	Addr      int
	Partition string
}

// finalOutcome is a device's outcome from its core and its board: the
// truth at the end of a run (see the package comment). A device that is
// off (rebooting, or cut) is judged by what its loader boots at its next
// power-on, found on a copy of its board. A board that cannot be copied
// (a real one on the bench) is not rebooted to ask: its outcome is what
// it last booted, as the board itself reported.
func finalOutcome(tr *track, d *device.Device, target string) string {
	if tr.boots == 0 && tr.phase != phDead {
		return tr.outcome(tr.mirror(), target) // never booted: nothing happened to it
	}
	fw := d.Firmware()
	switch {
	case !d.Board().CanClone():
	case fw.Power == device.Off:
		fw = NextBoot(d.Board())
	case fw.Power == device.On && !fw.Trial && fw.Version == tr.targetOf(target):
		// It runs the target: for good only if its flash boots it again,
		// not on trial (a single-bank board may hold another image by now,
		// an A/B one may be set to boot the other slot).
		if nb := NextBoot(d.Board()); nb.Power != device.On || nb.Version != fw.Version || nb.Trial {
			fw.Trial = true
		}
	}
	return tr.outcome(fw, target)
}

// NextBoot is what b's bootloader starts at the next power-on, found on a
// copy of b (its chip shared copy-on-write): b itself is not changed. It
// is the flash's own answer to "what does this device run", without the
// device's RAM. b must be copyable (Board.CanClone).
func NextBoot(b *boards.Board) device.Firmware {
	c := b.Clone()
	c.PowerOn()
	r, err := c.Loader.Boot(c)
	if err != nil || r.Bricked {
		return device.Firmware{Power: device.Dead}
	}
	return device.Firmware{Power: device.On, Version: r.Image.Version.String(), Trial: r.Trial}
}

// cuts turns a track's power cuts into Cuts, with each operation's
// partition from layout.
func cuts(tr *track, layout boards.Layout) []Cut {
	if tr.extra == nil {
		return nil
	}
	out := make([]Cut, len(tr.extra.cuts))
	for i, c := range tr.extra.cuts {
		out[i] = Cut{At: time.Unix(0, c.at).UTC(), Phase: c.phase, Kind: c.kind, Addr: c.addr}
		if c.hasOps {
			if p, ok := layout.At(c.addr); ok {
				out[i].Partition = p.Name
			}
		}
	}
	return out
}

// brick is why a device's last boot found nothing bootable, as its loader
// said it; empty unless it bricked.
func brick(tr *track) string {
	if tr.extra == nil || tr.phase != phDead {
		return ""
	}
	return tr.extra.brick
}

// target is the version a device's outcome is measured against: the
// group's Target, or the one its downloads gave ("" when none did, "?"
// while a download's header has not arrived).
func target(tr *track, group string) string {
	if t := tr.targetOf(group); t != "?" {
		return t
	}
	return ""
}

// Target is the version device n's outcome is measured against (see the
// package comment); empty when it has none yet.
func (v *Virtual) Target(n int) string { return target(&v.devs[n].tr, v.target[v.devs[n].group]) }

// Target is the version device n's outcome is measured against (see the
// package comment); empty when it has none yet. Call it only after Run has
// returned.
func (r *Real) Target(n int) string { return target(&r.devs[n].tr, r.devs[n].target) }
