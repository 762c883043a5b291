package device

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"brickyard/usp"
	"brickyard/usp/dm"
	"brickyard/usp/e2e"
	pb "brickyard/usp/uspmsg"
	rec "brickyard/usp/usprecord"
)

// End-to-end sessions (TR-369 E2E Message Exchange, run by usp/e2e): the
// device accepts a Session Context from a controller that starts one, as
// its Controller row's E2ESession allows, answers in it, and sends its
// notifications to that controller in it. Sessions are RAM: a reboot
// ends them (R-E2E.13), and the DisconnectRecord sent before it tells the
// controller (R-MTP.7).
//
//   - E2ESession.SessionMode Allow (the default) accepts sessions, Forbid
//     refuses them with a DisconnectRecord 7106 (R-E2E.6a), Require also
//     makes the device start one for the notifications it sends that
//     controller. A Record from an endpoint with no enabled Controller row
//     is refused with 7106 too.
//   - A Record with another session_id than the session in place starts
//     a new session (R-E2E.6).
//   - A failed session (usp/e2e says when), an expired one, or Reset() is
//     ended with a DisconnectRecord 7105 (R-E2E.6b); the controller starts
//     another.
//   - MaxUSPRecordSize (0: no segmentation, else at least 512) is the size
//     of the Records the device sends in the session; SessionExpiration
//     (seconds, 0: never) and MaxRetransmitTries come from the row too,
//     when the session starts.

// SessionMode values (TR-181 E2ESession.SessionMode).
const (
	sessionAllow   = "Allow"
	sessionForbid  = "Forbid"
	sessionRequire = "Require"
)

// declareE2E adds Controller.{i}.E2ESession. to the schema.
func declareE2E(b *dm.Builder) {
	e := b.Object("Device.LocalAgent.Controller.{i}.E2ESession.")
	e.String("SessionMode").Writable().Enum(sessionRequire, sessionAllow, sessionForbid).Default(sessionAllow)
	e.String("Status").Getter(func(c dm.Ctx) string {
		if eid := controllerEID(c); eid != "" && dev(c).findSession(eid) != nil {
			return "Up"
		}
		return "Down"
	})
	e.Uint("SessionExpiration").Writable().Default("3600")
	e.Uint("SessionRetryMinimumWaitInterval").Writable().Range(1, 65535).Default("5")
	e.Uint("SessionRetryIntervalMultiplier").Writable().Range(1000, 65535).Default("2000")
	e.Uint("MaxUSPRecordSize").Writable().Validator(func(_ dm.Ctx, v string) error {
		if n, _ := strconv.ParseUint(v, 10, 32); n != 0 && n < e2e.MinRecordSize {
			return usp.Errorf(usp.InvalidValue, "MaxUSPRecordSize %s: 0 (no segmentation) or at least %d", v, e2e.MinRecordSize)
		}
		return nil
	})
	e.Uint("MaxRetransmitTries").Writable().Range(0, 10).Default("3")
	e.Command("Reset()").Sync(func(c dm.Ctx, _ map[string]string) (map[string]string, error) {
		d := dev(c)
		if eid := controllerEID(c); eid != "" && d.findSession(eid) != nil {
			d.resets = append(d.resets, eid) // after the OperateResp
		}
		return nil, nil
	})
}

// controllerEID is the EndpointID of the Controller row of a binding on
// its E2ESession object.
func controllerEID(c dm.Ctx) string {
	row := strings.TrimSuffix(c.Path(), "E2ESession.")
	v, _ := c.Model.Value(row+"EndpointID", c.Now)
	return v
}

// e2eRow is the Controller row (with trailing dot) of an enabled
// Controller eid, or "".
func (d *Device) e2eRow(now time.Time, eid string) string {
	row := d.controllerRow(eid, now)
	if row == "" {
		return ""
	}
	if v, _ := d.m.Value(row+"Enable", now); v != "true" {
		return ""
	}
	return row
}

// sessionsAllowed reports whether the controller eid may run a session.
func (d *Device) sessionsAllowed(now time.Time, eid string) bool {
	row := d.e2eRow(now, eid)
	if row == "" {
		return false
	}
	mode, _ := d.m.Value(row+"E2ESession.SessionMode", now)
	return mode != sessionForbid
}

// sessionConfig reads the session settings of Controller row row.
func (d *Device) sessionConfig(now time.Time, row string) e2e.Config {
	num := func(name string) uint64 {
		v, _ := d.m.Value(row+"E2ESession."+name, now)
		n, _ := strconv.ParseUint(v, 10, 32)
		return n
	}
	return e2e.Config{MaxRecordSize: int(num("MaxUSPRecordSize")), Expiration: time.Duration(num("SessionExpiration")) * time.Second,
		MaxRetransmitTries: int(num("MaxRetransmitTries"))}
}

func (d *Device) findSession(eid string) *e2e.Session {
	for _, s := range d.sessions {
		if s.Remote() == eid {
			return s
		}
	}
	return nil
}

// session returns the session with eid; with initiate, one is started
// when the controller's SessionMode is Require.
func (d *Device) session(now time.Time, eid string, initiate bool) *e2e.Session {
	if s := d.findSession(eid); s != nil || !initiate || d.m == nil {
		return s
	}
	row := d.e2eRow(now, eid)
	if row == "" {
		return nil
	}
	if mode, _ := d.m.Value(row+"E2ESession.SessionMode", now); mode != sessionRequire {
		return nil
	}
	s, err := e2e.New(d.sessionConfig(now, row), d.cfg.EndpointID, eid, 2+d.rng.Uint64N(1<<62), now)
	if err != nil {
		return nil
	}
	d.sessions = append(d.sessions, s)
	return s
}

// receiveSession handles a session_context Record (Open refused it:
// 7106 is only for endpoints that run no sessions).
func (d *Device) receiveSession(now time.Time, r *rec.Record) {
	if d.codec().CheckSessionRecord(r) != nil {
		return // not ours, no sender, a bad version: dropped (R-MTP.5)
	}
	from := r.GetFromId()
	id := r.GetSessionContext().GetSessionId()
	s := d.findSession(from)
	if s == nil || s.ID() != id {
		d.dropSession(from)
		var err error
		s, err = e2e.Accept(d.sessionConfig(now, d.e2eRow(now, from)), d.cfg.EndpointID, from, id, now)
		if err != nil { // session_id 0 or 1 (R-E2E.3)
			d.disconnect(from, err.Error(), usp.InvalidRecordValue)
			return
		}
		d.sessions = append(d.sessions, s)
	}
	res, err := s.Receive(r, now)
	for _, b := range res.Out {
		d.send(Record{To: from, Data: b})
	}
	if err != nil {
		d.endSession(from, err)
		return
	}
	for _, p := range res.Payloads {
		if d.state != On || d.findSession(from) != s {
			return // the device went down, or the session ended, meanwhile
		}
		msg, err := usp.DecodeMsg(p)
		if err != nil {
			if id := msg.GetHeader().GetMsgId(); id != "" && usp.IsRequest(msg) {
				var re *usp.RecordError
				code := usp.InvalidArguments
				if errors.As(err, &re) {
					code = re.Code
				}
				d.sendInSession(now, from, usp.ErrorMsg(id, &usp.Error{Code: code, Msg: err.Error()}, nil))
			}
			continue
		}
		d.handle(now, from, msg, true)
	}
}

// sendInSession sends m to eid in its session, segmented as its
// MaxUSPRecordSize asks; without a session (or when it fails) it goes as
// a no_session_context Record.
func (d *Device) sendInSession(now time.Time, eid string, m *pb.Msg) {
	s := d.findSession(eid)
	if s != nil {
		payload, err := usp.EncodeMsg(m)
		if err != nil { // a string that is not UTF-8: repaired, as seal does
			m = proto.Clone(m).(*pb.Msg)
			repair(m.ProtoReflect())
			payload, err = usp.EncodeMsg(m)
		}
		if err == nil {
			recs, err := s.Send(payload, now)
			for _, b := range recs {
				d.send(Record{To: eid, Data: b})
			}
			if err == nil {
				return
			}
			d.endSession(eid, err)
		}
	}
	if b, err := d.seal(eid, m); err == nil {
		d.send(Record{To: eid, Data: b})
	}
}

// dropSession forgets the session with eid, if any.
func (d *Device) dropSession(eid string) {
	for i, s := range d.sessions {
		if s.Remote() == eid {
			d.sessions = append(d.sessions[:i], d.sessions[i+1:]...)
			return
		}
	}
}

// endSession ends the session with eid with a DisconnectRecord 7105
// carrying why (R-E2E.6b).
func (d *Device) endSession(eid string, why error) {
	if d.findSession(eid) == nil {
		return
	}
	d.dropSession(eid)
	d.disconnect(eid, "session context terminated: "+why.Error(), usp.SessionContextTerminated)
}

// disconnect sends a DisconnectRecord to eid.
func (d *Device) disconnect(eid, reason string, code usp.Code) {
	if b, err := d.codec().Marshal(d.codec().Disconnect(eid, clip(reason, 256), code)); err == nil {
		d.send(Record{To: eid, Data: b})
	}
}

// flushResets ends the sessions Reset() asked to end, once the
// OperateResp has gone.
func (d *Device) flushResets() {
	for _, eid := range d.resets {
		d.endSession(eid, errors.New("Reset() by a controller"))
	}
	d.resets = d.resets[:0]
}

// tickSessions runs the sessions' timers.
func (d *Device) tickSessions(now time.Time) {
	for _, s := range append([]*e2e.Session(nil), d.sessions...) {
		if w := s.Wake(); w.IsZero() || now.Before(w) {
			continue
		}
		out, err := s.Tick(now)
		for _, b := range out {
			d.send(Record{To: s.Remote(), Data: b})
		}
		if err != nil {
			d.endSession(s.Remote(), err)
		}
	}
}

// sessionWake is the sessions' earliest timer.
func (d *Device) sessionWake() time.Time {
	var t time.Time
	for _, s := range d.sessions {
		if w := s.Wake(); !w.IsZero() && (t.IsZero() || w.Before(t)) {
			t = w
		}
	}
	return t
}
