package device

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"brickyard/boards"
	"brickyard/flash"
	"brickyard/usp/dm"
)

// PowerOn powers the device and boots it (Loader.Boot). A device that
// boots asks for its MTP session (Output.Connect); a bricked one is Dead
// (Output.Dead) and stays silent. A power cut armed by the device's
// PowerDuringTrial fault may land on the boot's own flash writes: the
// device is then off again (Output.Reboot). PowerOn on a device that is
// on does nothing.
func (d *Device) PowerOn(now time.Time) Output {
	d.begin()
	if d.state == On {
		return d.finish()
	}
	d.state = Off
	d.event(now, EvPowerOn, "")
	d.board.PowerOn()
	d.armTrialCut()
	r, err := d.board.Loader.Boot(d.board)
	switch {
	case err != nil:
		d.powerLost(now, "boot", err)
	case r.Bricked:
		d.state = Dead
		d.out.Dead = true
		d.event(now, EvBricked, "%s", r.Reason)
	default:
		d.start(now, r)
	}
	return d.finish()
}

// PowerCut loses power at once, as the fault plan's power switch does:
// RAM is gone (the MTP session, running commands, non-persistent data
// model state), the chip keeps what it holds. No DisconnectRecord is sent.
// Output.Reboot proposes when power returns; the shell may call PowerOn
// later instead.
func (d *Device) PowerCut(now time.Time) Output {
	d.begin()
	if d.state == Off {
		return d.finish()
	}
	d.powerLost(now, "power-switch", nil)
	return d.finish()
}

// start brings a booted device up: its data model from the non-volatile
// store (or the factory defaults), its FirmwareImage rows from the board,
// the verdict on the image activated before, and the next Boot!.
func (d *Device) start(now time.Time, r boards.Boot) {
	d.state = On
	d.bootAt = now
	d.running = d.slotIndex(r.Slot)
	d.m = dm.NewModel(d.schema, dm.Config{Env: d, Rand: d.rng, Intern: d.cfg.Intern, ACL: d.cfg.ACL})
	d.booting = true // changes made while booting notify no one
	if d.nv.model == nil || d.m.Restore(d.nv.model, now) != nil {
		if d.nv.seq > 0 {
			_ = d.m.Restore(seqSnapshot(d.nv.seq), now)
		}
		d.factory(now)
	}
	d.hardwareRows(now)
	d.reconcile(now, r)

	cur := imageID{slot: r.Slot, version: r.Image.VersionString()}
	b := bootInfo{cause: d.nv.cause, reason: d.nv.reason, key: d.nv.key}
	switch {
	case b.cause != "":
	case !d.nv.booted:
		b.cause, b.reason = "LocalFactoryReset", "first boot"
	default:
		b.cause, b.reason = "LocalReboot", "power loss"
	}
	b.fwUpdated = d.nv.good != (imageID{}) && cur != d.nv.good
	detail := fmt.Sprintf("slot=%s version=%s", r.Slot, cur.version)
	if r.Trial {
		detail += " trial"
	}
	if r.FellBack {
		detail += " fell-back"
	}
	d.event(now, EvBoot, "%s", detail)

	settled, failed := !r.Trial, false
	if t := d.nv.target; t != 0 {
		newRuns := cur.version == d.nv.targetVer && (d.nv.targetVer != d.nv.good.version || d.running == t-1)
		switch {
		case newRuns && r.Trial:
		case newRuns:
			d.event(now, EvUpdated, "row=%d version=%s", d.running+1, cur.version)
		default:
			d.rolledBack(now, t-1, r)
			b.fwUpdated, settled, failed = false, true, true
		}
	}
	if settled {
		d.nv.good = cur
		d.nv.target, d.nv.targetVer, d.nv.key = 0, "", ""
		if !failed { // after a fallback BootFirmwareImage keeps naming the failed row (T10)
			d.setValue(now, pathBootFW, d.activeRowPath())
		}
		d.setValue(now, rowPath(d.running)+"BootFailureLog", "")
	}
	if boot, _ := d.m.Value(pathBootFW, now); boot == "" {
		d.setValue(now, pathBootFW, d.activeRowPath())
	}
	if !d.nv.booted {
		d.nv.firstUse = now.Unix()
	}
	d.nv.booted = true
	d.nv.cause, d.nv.reason, d.nv.failLog = "", "", ""
	d.boot = &b
	if r.Trial {
		d.trial = true
		d.healthFail = r.Image.HealthFail() || d.cfg.Faults().HealthFail
		d.setTimer(TimerTrial, now.Add(d.cfg.TrialPeriod))
		d.event(now, EvTrial, "slot=%s version=%s period=%s", r.Slot, cur.version, d.cfg.TrialPeriod)
	}
	d.booting = false
	d.out.Connect = true
}

// rolledBack records that row i, activated before this boot, is not what
// runs: its Status becomes ActivationFailed with a BootFailureLog saying
// why. BootFirmwareImage is left as it was (T10).
func (d *Device) rolledBack(now time.Time, i int, r boards.Boot) {
	why := d.nv.failLog
	switch {
	case why != "":
	case r.Reason != "":
		why = r.Reason
	default:
		why = fmt.Sprintf("the bootloader started %s %s instead of %s", r.Slot, r.Image.VersionString(), d.nv.targetVer)
	}
	if i >= 0 && i < len(d.slots) && i != d.running {
		d.setValue(now, rowPath(i)+"Status", stActivationFailed)
	}
	if i >= 0 && i < len(d.slots) {
		d.setValue(now, rowPath(i)+"BootFailureLog", clip(why, 1024))
	}
	d.event(now, EvRolledBack, "row=%d version=%s running=%s: %s", i+1, d.nv.targetVer, r.Image.VersionString(), why)
}

// factory gives the data model its factory rows: one FirmwareImage row
// per slot, the agent's MTP, and the controller of Config with its MTP.
func (d *Device) factory(now time.Time) {
	for i := range d.slots {
		d.m.AddRow(pathFW, uint32(i+1), nil, now)
	}
	d.m.AddRow(pathController, 1, map[string]string{"Enable": "true", "EndpointID": d.cfg.ControllerID(),
		"PeriodicNotifInterval": strconv.FormatUint(uint64(d.cfg.PeriodicInterval), 10), "AssignedRole": RoleFullAccess}, now)
	d.factoryMTP(now)
	d.factoryTrust(now)
	d.m.AddRow("Device.IP.Interface.", 1, map[string]string{"Enable": "true"}, now)
	d.m.AddRow("Device.IP.Interface.1.IPv4Address.", 1, map[string]string{"Enable": "true"}, now)
	d.vendorRows(now, true)
}

// restart reboots the device on purpose (a command, an activation, the
// end of a trial): the DisconnectRecord goes out last (R-MTP.7), the
// session is closed, the device is off until PowerOn.
func (d *Device) restart(now time.Time, q restartReq) {
	d.nv.cause, d.nv.reason, d.nv.key = q.cause, q.reason, q.key
	if q.factory {
		d.nv.seq = notifySeq(d.m.Snapshot())
		d.nv.model, d.nv.bootReq = nil, false
	} else {
		d.nv.model = d.m.Snapshot()
	}
	if d.conn {
		if b, err := d.codec().Marshal(d.codec().Disconnect(d.cfg.ControllerID(), "rebooting: "+q.cause, 7105)); err == nil {
			d.out.Records = append(d.out.Records, Record{To: d.cfg.ControllerID(), Data: b})
		}
		d.out.Disconnect = true
	}
	d.event(now, EvReboot, "cause=%s reason=%s", q.cause, q.reason)
	d.board.Running = nil
	d.off(now)
}

// powerLost handles a loss of power: from the switch (err nil), or a
// fault-armed cut that landed on a flash operation (err wraps
// flash.ErrPowerLost). The non-volatile store keeps what the data model
// held at the moment of the cut.
func (d *Device) powerLost(now time.Time, phase string, err error) {
	if d.state == On {
		d.nv.model = d.m.Snapshot()
	}
	if err != nil && errors.Is(err, flash.ErrPowerLost) {
		op := d.board.Chip.LastOp()
		d.event(now, EvPowerCut, "phase=%s op=%d %s@0x%x", phase, op.Index, op.Kind, op.Addr)
	} else if err != nil {
		d.event(now, EvPowerCut, "phase=%s: %v", phase, err)
	} else {
		d.event(now, EvPowerCut, "phase=%s", phase)
	}
	d.board.PowerCut()
	if d.conn {
		d.out.Disconnect = true
	}
	d.off(now)
}

// off drops the RAM and asks for power to return after the reboot time.
func (d *Device) off(now time.Time) {
	d.state = Off
	d.m = nil
	d.conn, d.bootSent, d.trial, d.healthFail, d.warned, d.booting, d.cut = false, false, false, false, false, false, false
	d.retries = 0
	d.timers, d.downloads, d.activations, d.outbox, d.restartReq = nil, nil, nil, nil, nil
	d.x, d.retarget, d.onboardDone = nil, false, false
	d.sessions, d.resets = nil, nil // E2E sessions are RAM (R-E2E.13, R-SEC.21)
	d.boot = nil
	d.out.Reboot = now.Add(d.cfg.RebootDuration)
}

// lost reports whether err says power was lost during a flash operation
// (the chip is off), and handles it.
func (d *Device) lost(now time.Time, phase string, err error) bool {
	if err == nil || d.board.Chip.Powered() {
		return false
	}
	d.powerLost(now, phase, err)
	return true
}

func (d *Device) slotIndex(slot string) int {
	for i, s := range d.slots {
		if s == slot {
			return i
		}
	}
	return 0
}
