package device

import (
	"math"
	"strconv"
	"time"

	"brickyard/usp"
)

// Connected tells the device that its MTP session to the controller is
// up. The first time after a boot it sends Device.Boot! (one Notify per
// matching Event subscription, each with its controller's ParameterMap,
// §7.5), then the Records it kept while the session was down, then the
// Notify retries that are due, and starts Periodic!.
func (d *Device) Connected(now time.Time) Output {
	d.begin()
	if d.state != On || d.conn {
		return d.finish()
	}
	d.conn, d.retries, d.connAt = true, 0, now.UnixNano()
	d.setTimer(TimerReconnect, time.Time{})
	d.event(now, EvConnected, "")
	if !d.bootSent {
		d.bootSent = true
		d.sendBoot(now)
		d.setTimer(TimerPeriodic, d.nextPeriodic(now))
	}
	kept := d.outbox
	d.outbox = nil
	d.out.Records = append(d.out.Records, kept...)
	d.apply(now, d.m.Tick(now))
	if !d.onboardDone {
		d.onboardDone = true
		d.onboard(now, nil)
	}
	return d.finish()
}

// Disconnected tells the device that its MTP session was lost, or that
// an attempt to open it failed. It asks again after the TR-369 retry wait
// (Config.RetryMinimumWait and RetryIntervalMultiplier: by default 5–10 s,
// then 10–20 s, …, drawn from the device's generator).
func (d *Device) Disconnected(now time.Time) Output {
	d.begin()
	if d.state != On {
		return d.finish()
	}
	if d.conn {
		d.event(now, EvDisconnected, "")
	}
	d.conn = false
	if d.retries < math.MaxUint16 {
		d.retries++
	}
	wait := usp.RetryWait(int(d.retries), d.cfg.RetryMinimumWait, d.cfg.RetryIntervalMultiplier, d.rng)
	d.setTimer(TimerReconnect, now.Add(wait))
	return d.finish()
}

// sendBoot fires Device.Boot!.
func (d *Device) sendBoot(now time.Time) {
	var b bootInfo
	if d.boot != nil {
		b = *d.boot
	}
	d.boot = nil // sent once per boot (bootSent)
	fw := strconv.FormatBool(b.fwUpdated)
	n := len(d.out.Records)
	fx, err := d.m.EventFor(eventBoot, func(ctrl string) map[string]string {
		return map[string]string{"CommandKey": b.key, "Cause": b.cause, "Reason": b.reason,
			"FirmwareUpdated": fw, "ParameterMap": d.m.ParameterMap(ctrl, now)}
	}, now)
	if err != nil {
		return
	}
	d.apply(now, fx)
	d.event(now, EvBootNotify, "cause=%s firmware-updated=%s command-key=%q notifies=%d", b.cause, fw, b.key, len(d.out.Records)-n)
}

// periodic fires Periodic! and sets the next one.
func (d *Device) periodic(now time.Time) {
	fx, err := d.m.Event(eventPeriodic, nil, now)
	if err == nil {
		d.apply(now, fx)
	}
	d.setTimer(TimerPeriodic, d.nextPeriodic(now))
}

// nextPeriodic is when the Periodic! after one at now fires: the
// controller's interval later, plus the device's jitter.
func (d *Device) nextPeriodic(now time.Time) time.Time {
	next := now.Add(d.periodicInterval(now))
	if j := d.cfg.PeriodicJitter; j > 0 {
		next = next.Add(time.Duration(d.rng.Int64N(int64(j))))
	}
	return next
}

// periodicInterval is the controller's PeriodicNotifInterval.
func (d *Device) periodicInterval(now time.Time) time.Duration {
	secs := uint64(d.cfg.PeriodicInterval)
	if row := d.controllerRow(d.cfg.ControllerID(), now); row != "" {
		if v, err := d.m.Value(row+"PeriodicNotifInterval", now); err == nil {
			if n, err := strconv.ParseUint(v, 10, 32); err == nil && n > 0 {
				secs = n
			}
		}
	}
	return time.Duration(secs) * time.Second
}

// controllerRow is the Controller row (with trailing dot) whose EndpointID
// is eid, or "".
func (d *Device) controllerRow(eid string, now time.Time) string {
	rows, _ := d.m.Instances(pathController, now)
	for _, r := range rows {
		if v, _ := d.m.Value(r+"EndpointID", now); v == eid {
			return r
		}
	}
	return ""
}
