package device

import (
	"time"
	"unicode/utf8"

	"brickyard/usp"
	"brickyard/usp/dm"
	pb "brickyard/usp/uspmsg"
)

// Receive handles one Record from the MTP session.
//
//   - A session_context Record from an enabled Controller whose
//     E2ESession.SessionMode is not Forbid goes to its E2E session
//     (e2e.go); the Msgs the session completes are handled as below and
//     answered in the session.
//   - A Record that breaks a rule of usp.Codec.Open is answered as R-MTP.5
//     says (usp.Codec.Answer: an Error message, a DisconnectRecord 7106
//     for any other session_context Record) or dropped.
//   - A Record without a Msg (a Connect or Disconnect Record) is ignored;
//     a Disconnect drops the sender's E2E session (R-MTP.7).
//   - A Msg goes to the data model (dm.Model.Handle) on behalf of the
//     controller named by the Record's from_id. The response is sent
//     first, then the notifications it caused, then what the commands it
//     started do. A Reboot() or FactoryReset() then reboots the device
//     (DisconnectRecord last).
//   - A new image on trial confirms itself before the Msg is handled, if
//     the sender is one of its controllers and its application is healthy.
//
// A device that is off or dead ignores Records.
func (d *Device) Receive(now time.Time, rec []byte) Output {
	d.begin()
	if d.state != On {
		return d.finish()
	}
	if g, ok := d.codec().OpenGet(rec); ok && d.receiveGet(now, g) {
		return d.finish()
	}
	in, err := d.codec().Open(rec)
	if sr, ok := usp.IsSessionRecord(err); ok && d.sessionsAllowed(now, sr.GetFromId()) {
		d.receiveSession(now, sr)
		return d.finish()
	}
	if err != nil {
		if a := d.codec().Answer(err); a != nil {
			if b, err := d.codec().Marshal(a); err == nil {
				d.send(Record{To: a.GetToId(), Data: b})
			}
		}
		return d.finish()
	}
	if in.Msg == nil {
		if in.Record.GetDisconnect() != nil {
			d.dropSession(in.From()) // R-MTP.7: the peer cleared its session state
		}
		return d.finish()
	}
	d.handle(now, in.From(), in.Msg, false)
	return d.finish()
}

// handle passes one Msg from the controller from to the data model and
// sends what follows: the response (in the E2E session when the Msg came
// in one), the notifications and commands it caused, a reboot it asked
// for.
func (d *Device) handle(now time.Time, from string, msg *pb.Msg, inSession bool) {
	if d.trial {
		d.exchanged(now, from)
		if d.state != On {
			return
		}
	}
	before := d.Target(now)
	resp, fx := d.m.Handle(dm.Origin{EndpointID: from}, msg, now)
	if d.cut {
		d.cut = false
		d.powerLost(now, "activate", errPowerLost)
		return
	}
	if resp != nil {
		if inSession {
			d.sendInSession(now, from, resp)
		} else if b, err := d.seal(from, resp); err == nil {
			d.send(Record{To: from, Data: b})
		}
	}
	d.apply(now, fx)
	d.flushResets()
	d.onboardAnswered(now, from, msg)
	if x := d.x; x != nil && len(x.onboardAsk) > 0 && d.state == On {
		ask := x.onboardAsk
		x.onboardAsk = nil
		d.onboard(now, ask)
	}
	if q := d.restartReq; q != nil && d.state == On {
		d.restartReq = nil
		d.restart(now, *q)
	}
	if d.retarget && d.state == On {
		d.redial(now, before)
	}
}

// apply carries out the effects of a data-model call: notifications are
// sent (or kept while the session is down; retransmissions are dropped
// then, the model retries them later), new commands start, canceled ones
// stop. The model's timer is set by finish.
func (d *Device) apply(now time.Time, fx dm.Effects) {
	for _, n := range fx.Notify {
		d.notify(now, n)
	}
	for _, j := range fx.Jobs {
		if d.state != On {
			return
		}
		d.startJob(now, j)
	}
	for _, j := range fx.Cancel {
		if d.state != On {
			return
		}
		d.cancelJob(now, j)
	}
}

func (d *Device) notify(now time.Time, n dm.Notification) {
	if d.booting || (n.Retry && !d.conn) {
		return
	}
	if d.session(now, n.To, true) != nil {
		d.sendInSession(now, n.To, n.Msg)
		return
	}
	b, err := d.seal(n.To, n.Msg)
	if err != nil {
		return
	}
	d.send(Record{To: n.To, Data: b})
}

// Timer handles a timer the device set. Timers it no longer expects (set
// before a reboot, canceled, or replaced by a later time) are ignored.
func (d *Device) Timer(now time.Time, id TimerID) Output {
	d.begin()
	if d.state != On || !d.takeTimer(id, now) {
		return d.finish()
	}
	switch id {
	case TimerModel:
		d.apply(now, d.m.Tick(now))
	case TimerTrial:
		d.trialEnd(now)
	case TimerPeriodic:
		d.periodic(now)
	case TimerReconnect:
		if !d.conn {
			d.out.Connect = true
		}
	case TimerOnBoard:
		d.onboardTimer(now)
	case TimerSession:
		d.tickSessions(now)
	default:
		if !d.vendorTimer(now, id) {
			d.window(now, id)
		}
	}
	return d.finish()
}

// receiveGet answers a Get without building protobuf messages: the data
// model's results go straight to the wire (usp.Codec.AppendGetRespRecord),
// byte for byte what Receive's general path sends. It reports false when
// the Get must go the general way after all (an Error message is due, or
// a value is not valid UTF-8 and must be repaired as seal does).
func (d *Device) receiveGet(now time.Time, g usp.GetRequest) bool {
	if d.trial {
		d.exchanged(now, g.From) // the general path does it again: it is idempotent
		if d.state != On {
			return true
		}
	}
	results, fx, ok := d.m.Get(dm.Origin{EndpointID: g.From}, g.Paths, g.MaxDepth, now)
	if !ok || !validUTF8(results) {
		return false
	}
	d.send(Record{To: g.From, Data: d.codec().AppendGetRespRecord(nil, g.From, g.MsgID, results)})
	d.apply(now, fx)
	return true
}

// validUTF8 checks what a Get's answer may carry that is not valid UTF-8:
// values and error texts. Requested paths were checked by OpenGet;
// resolved paths and parameter names are the schema's.
func validUTF8(results []usp.GetResult) bool {
	for i := range results {
		r := &results[i]
		if !utf8.ValidString(r.ErrMsg) {
			return false
		}
		for _, rp := range r.Resolved {
			for _, p := range rp.Params {
				if !utf8.ValidString(p.Value) {
					return false
				}
			}
		}
	}
	return true
}
