package device

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"brickyard/usp"
	"brickyard/usp/e2e"
	pb "brickyard/usp/uspmsg"
	rec "brickyard/usp/usprecord"
)

// rig drives a booted device and a controller that runs an E2E session
// with it over a lossy, duplicating, reordering link, in virtual time.
type rig struct {
	t      *testing.T
	h      *harness
	ctrl   *e2e.Session
	rng    *rand.Rand
	loss   float64
	dup    float64
	delay  float64
	q      []flight
	timers map[TimerID]time.Time

	msgs        []*pb.Msg // what the controller received, in order (both framings)
	disconnects []*rec.DisconnectRecord
	devRecords  int // Records the device sent
	maxSize     int // the largest of them
	dropped     int
	duplicated  int
	dropDev     map[int]bool // the device's n-th Records (from 1) lost for sure, besides the random losses
}

type flight struct {
	at    time.Time
	toDev bool
	data  []byte
}

func newRig(t *testing.T, h *harness, ctrlCfg e2e.Config, seed uint64) *rig {
	s, err := e2e.New(ctrlCfg, ctrlID, agentID, 77, h.now)
	if err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, h: h, ctrl: s, rng: rand.New(rand.NewPCG(seed, 5)), timers: map[TimerID]time.Time{}}
}

func (r *rig) link(toDev bool, b []byte) {
	if r.rng.Float64() < r.loss {
		r.dropped++
		return
	}
	n := 1
	if r.rng.Float64() < r.dup {
		n = 2
		r.duplicated++
	}
	for range n {
		at := r.h.now.Add(time.Millisecond)
		if r.rng.Float64() < r.delay {
			at = at.Add(time.Duration(r.rng.IntN(400)) * time.Millisecond)
		}
		r.q = append(r.q, flight{at: at, toDev: toDev, data: b})
	}
}

// request sends m from the controller in the session.
func (r *rig) request(m *pb.Msg) {
	payload, err := usp.EncodeMsg(m)
	if err != nil {
		r.t.Fatal(err)
	}
	recs, err := r.ctrl.Send(payload, r.h.now)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, b := range recs {
		r.link(true, b)
	}
}

// deviceOut takes a device Output: Records onto the link, its session
// and model timers into the rig.
func (r *rig) deviceOut(out Output) {
	for _, x := range out.Records {
		r.devRecords++
		r.maxSize = max(r.maxSize, len(x.Data))
		if r.dropDev[r.devRecords] {
			r.dropped++
			continue
		}
		r.link(false, x.Data)
	}
	for _, tm := range out.Timers {
		if tm.ID != TimerSession && tm.ID != TimerModel {
			continue
		}
		if tm.At.IsZero() {
			delete(r.timers, tm.ID)
		} else {
			r.timers[tm.ID] = tm.At
		}
	}
}

// toController handles a Record the device sent.
func (r *rig) toController(b []byte) {
	x := &rec.Record{}
	if err := proto.Unmarshal(b, x); err != nil {
		r.t.Fatalf("the device sent an undecodable Record: %v", err)
	}
	switch {
	case x.GetSessionContext() != nil:
		if x.GetSessionContext().GetSessionId() != r.ctrl.ID() {
			r.t.Fatalf("a Record of session %d, not %d", x.GetSessionContext().GetSessionId(), r.ctrl.ID())
		}
		res, err := r.ctrl.Receive(x, r.h.now)
		if err != nil {
			r.t.Fatalf("controller's session failed: %v", err)
		}
		for _, o := range res.Out {
			r.link(true, o)
		}
		for _, p := range res.Payloads {
			m, err := usp.DecodeMsg(p)
			if err != nil {
				r.t.Fatal(err)
			}
			r.msgs = append(r.msgs, m)
		}
	case x.GetDisconnect() != nil:
		r.disconnects = append(r.disconnects, x.GetDisconnect())
	case x.GetNoSessionContext() != nil:
		m, err := usp.DecodeMsg(x.GetNoSessionContext().GetPayload())
		if err != nil {
			r.t.Fatal(err)
		}
		r.msgs = append(r.msgs, m)
	}
}

// run runs events until done() or the time bound.
func (r *rig) run(d time.Duration, done func() bool) {
	limit := r.h.now.Add(d)
	for !done() {
		next := limit
		for _, f := range r.q {
			if f.at.Before(next) {
				next = f.at
			}
		}
		for _, at := range r.timers {
			if at.Before(next) {
				next = at
			}
		}
		if w := r.ctrl.Wake(); !w.IsZero() && w.Before(next) {
			next = w
		}
		if !next.Before(limit) {
			return
		}
		r.h.now = next
		slices.SortStableFunc(r.q, func(a, b flight) int { return a.at.Compare(b.at) })
		for len(r.q) > 0 && !r.q[0].at.After(r.h.now) {
			f := r.q[0]
			r.q = r.q[1:]
			if f.toDev {
				r.deviceOut(r.h.d.Receive(r.h.now, f.data))
			} else {
				r.toController(f.data)
			}
		}
		for id, at := range r.timers {
			if !at.After(r.h.now) {
				delete(r.timers, id)
				r.deviceOut(r.h.d.Timer(r.h.now, id))
			}
		}
		if w := r.ctrl.Wake(); !w.IsZero() && !w.After(r.h.now) {
			out, err := r.ctrl.Tick(r.h.now)
			if err != nil {
				r.t.Fatalf("controller's session: %v", err)
			}
			for _, o := range out {
				r.link(true, o)
			}
		}
	}
}

func (r *rig) answer(id string) *pb.Msg {
	for _, m := range r.msgs {
		if m.GetHeader().GetMsgId() == id && !usp.IsRequest(m) {
			return m
		}
	}
	return nil
}

var fullGSDM = &pb.GetSupportedDM{ObjPaths: []string{"Device."}, ReturnParams: true, ReturnCommands: true, ReturnEvents: true, ReturnUniqueKeySets: true}

// A GetSupportedDM answer larger than the MTP's limit goes segmented in
// the controller's E2E session (Controller.1.E2ESession.MaxUSPRecordSize
// 1024) with Records lost, duplicated and reordered on the way; the
// controller gets it once, whole, equal to the unsegmented answer, and no
// Record of the device is over the limit.
func TestE2ESegmentedGSDM(t *testing.T) {
	for _, tc := range []struct {
		name             string
		loss, dup, delay float64
	}{{"clean", 0, 0, 0}, {"lossy", 0.2, 0.2, 0.3}, {"loss30", 0.3, 0, 0}} {
		for seed := uint64(1); seed <= 5; seed++ {
			t.Run(tc.name+"/"+itoa(int(seed)), func(t *testing.T) {
				h := newHarness(t, "uboot-nor", nil).boot()
				want := h.request(usp.NewRequest(h.nextID(), fullGSDM))
				wantSize := proto.Size(want)
				h.set("Device.LocalAgent.Controller.1.E2ESession.", true, "MaxUSPRecordSize", "1024", "MaxRetransmitTries", "10")
				r := newRig(t, h, e2e.Config{MaxRecordSize: 1024, MaxRetransmitTries: 10}, seed)
				r.loss, r.dup, r.delay = tc.loss, tc.dup, tc.delay
				if tc.loss > 0 {
					// Whatever the seed: the first segment and one in
					// the middle are lost at least once.
					r.dropDev = map[int]bool{1: true, 3: true}
				}
				req := usp.NewRequest("gsdm-1", fullGSDM)
				r.request(req)
				r.run(10*time.Minute, func() bool { return r.answer("gsdm-1") != nil && len(r.q) == 0 && r.ctrl.Pending() == 0 })
				got := r.answer("gsdm-1")
				if got == nil {
					t.Fatalf("no answer (%d Records from the device, %d lost, %d messages)", r.devRecords, r.dropped, len(r.msgs))
				}
				got = proto.Clone(got).(*pb.Msg)
				got.Header.MsgId = want.Header.MsgId
				if !proto.Equal(got, want) {
					t.Fatal("the reassembled answer differs from the unsegmented one")
				}
				if r.maxSize > 1024 || r.devRecords < wantSize/1024 {
					t.Fatalf("device Records: %d, largest %d bytes, for a %d-byte answer", r.devRecords, r.maxSize, wantSize)
				}
				if tc.loss > 0 && r.dropped == 0 {
					t.Fatalf("the link lost nothing (%d Records from the device, %d messages)", r.devRecords, len(r.msgs))
				}
				n := 0
				for _, m := range r.msgs {
					if m.GetHeader().GetMsgId() == "gsdm-1" {
						n++
					}
				}
				if n != 1 || len(r.disconnects) != 0 {
					t.Fatalf("%d answers, disconnects %v", n, r.disconnects)
				}
				if st := h.d.findSession(ctrlID); st == nil {
					t.Fatal("the device holds no session")
				}
			})
		}
	}
}

// Require: the device starts a session for the notifications it sends
// that controller; Reset() ends it with a DisconnectRecord 7105 after the
// OperateResp; an idle session expires.
func TestE2ERequireResetExpire(t *testing.T) {
	h := newHarness(t, "uboot-nor", nil).boot()
	h.subscribe("vc", "ValueChange", "Device.LocalAgent.Controller.1.PeriodicNotifInterval", false, false)
	h.set("Device.LocalAgent.Controller.1.E2ESession.", true, "SessionMode", "Require", "SessionExpiration", "60")
	out := h.d.Receive(h.now, mustSeal(t, h, usp.NewRequest("s1", &pb.Set{UpdateObjs: []*pb.Set_UpdateObject{{ObjPath: "Device.LocalAgent.Controller.1.",
		ParamSettings: []*pb.Set_UpdateParamSetting{{Param: "PeriodicNotifInterval", Value: "3600", Required: true}}}}})))
	var kinds []string
	var sid uint64
	for _, x := range out.Records {
		r := &rec.Record{}
		_ = proto.Unmarshal(x.Data, r)
		switch {
		case r.GetSessionContext() != nil:
			kinds = append(kinds, "session")
			sid = r.GetSessionContext().GetSessionId()
			if r.GetSessionContext().GetSequenceId() != 1 {
				t.Errorf("first Record of the session is sequence %d", r.GetSessionContext().GetSequenceId())
			}
		default:
			kinds = append(kinds, "plain")
		}
	}
	// The SetResp answers in kind (no session); the ValueChange it
	// caused goes in the session the device starts.
	if strings.Join(kinds, ",") != "plain,session" || sid <= 1 {
		t.Fatalf("records %v, session %d", kinds, sid)
	}
	if v := mustValue(t, h, "Device.LocalAgent.Controller.1.E2ESession.Status"); v != "Up" {
		t.Fatalf("Status %s", v)
	}
	// Reset() from the controller.
	out = h.d.Receive(h.now, mustSeal(t, h, usp.NewRequest("r1", &pb.Operate{Command: "Device.LocalAgent.Controller.1.E2ESession.Reset()", SendResp: true})))
	if len(out.Records) != 2 || !isDisconnect(t, out.Records[1].Data, 7105) {
		t.Fatalf("Reset(): %d Records", len(out.Records))
	}
	if v := mustValue(t, h, "Device.LocalAgent.Controller.1.E2ESession.Status"); v != "Down" {
		t.Fatalf("Status after Reset() %s", v)
	}
	// A new session (the next ValueChange), acknowledged by the
	// controller, then 60 s without a Record: expired, 7105.
	setInterval := func(v string) Output {
		return h.d.Receive(h.now, mustSeal(t, h, usp.NewRequest("s-"+v, &pb.Set{UpdateObjs: []*pb.Set_UpdateObject{{ObjPath: "Device.LocalAgent.Controller.1.",
			ParamSettings: []*pb.Set_UpdateParamSetting{{Param: "PeriodicNotifInterval", Value: v, Required: true}}}}})))
	}
	var sess *e2e.Session
	for _, x := range setInterval("7200").Records {
		r := &rec.Record{}
		if proto.Unmarshal(x.Data, r) != nil || r.GetSessionContext() == nil {
			continue
		}
		var err error
		if sess, err = e2e.Accept(e2e.Config{}, ctrlID, agentID, r.GetSessionContext().GetSessionId(), h.now); err != nil {
			t.Fatal(err)
		}
		if res, err := sess.Receive(r, h.now); err != nil || len(res.Payloads) != 1 {
			t.Fatalf("the controller's end: %v", err)
		}
	}
	if sess == nil || h.d.findSession(ctrlID) == nil {
		t.Fatal("no new session")
	}
	h.now = sess.Wake() // the controller's acknowledgement is due
	acks, err := sess.Tick(h.now)
	if err != nil || len(acks) != 1 {
		t.Fatalf("acknowledgement: %d Records, %v", len(acks), err)
	}
	out = h.d.Receive(h.now, acks[0])
	acked := h.now
	var wake time.Time
	for _, tm := range out.Timers {
		if tm.ID == TimerSession {
			wake = tm.At
		}
	}
	if want := acked.Add(60 * time.Second); !wake.Equal(want) {
		t.Fatalf("session timer at %v, want the expiry at %v", wake, want)
	}
	h.now = wake
	out = h.d.Timer(h.now, TimerSession)
	if len(out.Records) != 1 || !isDisconnect(t, out.Records[0].Data, 7105) ||
		!strings.Contains(disconnectReason(t, out.Records[0].Data), "expired") || h.d.findSession(ctrlID) != nil {
		t.Fatalf("the idle session did not expire with 7105: %d Records", len(out.Records))
	}
	// A reboot ends a session (R-E2E.13).
	setInterval("1800")
	if h.d.findSession(ctrlID) == nil {
		t.Fatal("no session")
	}
	h.d.Receive(h.now, mustSeal(t, h, usp.NewRequest("s3", &pb.Operate{Command: "Device.Reboot()", SendResp: false})))
	if h.d.State() != Off || h.d.findSession(ctrlID) != nil {
		t.Fatal("the reboot kept the session")
	}
}

// A session Record the session refuses (payload_security TLS12, a
// segment out of order) ends the session with 7105; the device keeps
// answering.
func TestE2EBadRecords(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*rec.Record)
	}{
		{"tls12", func(r *rec.Record) { r.PayloadSecurity = rec.Record_TLS12 }},
		{"sar-out-of-order", func(r *rec.Record) {
			r.GetSessionContext().PayloadSarState, r.GetSessionContext().PayloadrecSarState = rec.SessionContextRecord_COMPLETE, rec.SessionContextRecord_COMPLETE
		}},
		{"sequence-jump", func(r *rec.Record) { r.GetSessionContext().SequenceId = 1 << 40 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, "uboot-nor", nil).boot()
			s, _ := e2e.New(e2e.Config{}, ctrlID, agentID, 9, h.now)
			payload, _ := usp.EncodeMsg(usp.NewRequest("g", &pb.Get{ParamPaths: []string{"Device.DeviceInfo."}}))
			recs, _ := s.Send(payload, h.now)
			r := &rec.Record{}
			_ = proto.Unmarshal(recs[0], r)
			tc.mod(r)
			b, _ := proto.Marshal(r)
			out := h.d.Receive(h.now, b)
			if len(out.Records) == 0 || !isDisconnect(t, out.Records[len(out.Records)-1].Data, 7105) {
				t.Fatalf("no DisconnectRecord 7105: %d Records", len(out.Records))
			}
			if h.d.findSession(ctrlID) != nil {
				t.Fatal("the failed session is kept")
			}
			if v := h.value("Device.DeviceInfo.SoftwareVersion"); v != "1.0.0" {
				t.Fatalf("after the bad Record: %s", v)
			}
		})
	}
}

func mustSeal(t *testing.T, h *harness, m *pb.Msg) []byte {
	t.Helper()
	b, err := h.ctrl.Seal(agentID, m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustValue(t *testing.T, h *harness, p string) string {
	t.Helper()
	v, err := h.d.Value(p, h.now)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func isDisconnect(t *testing.T, b []byte, code uint32) bool {
	t.Helper()
	r := &rec.Record{}
	if err := proto.Unmarshal(b, r); err != nil {
		t.Fatal(err)
	}
	return r.GetDisconnect() != nil && r.GetDisconnect().GetReasonCode() == code
}

func disconnectReason(t *testing.T, b []byte) string {
	t.Helper()
	r := &rec.Record{}
	if err := proto.Unmarshal(b, r); err != nil {
		t.Fatal(err)
	}
	return r.GetDisconnect().GetReason()
}

// A message in a session passes the same access control as any other: a
// Controller with the Untrusted role reads Device.DeviceInfo. in its
// session and nothing else.
func TestE2EAccessControl(t *testing.T) {
	h := newHarness(t, "uboot-nor", nil).boot()
	const viewer = "proto::viewer"
	if r := h.add("Device.LocalAgent.Controller.", "EndpointID", viewer, "Enable", "true", "OnBoardingComplete", "true", "AssignedRole", RoleUntrusted); r.GetBody().GetError() != nil {
		t.Fatal(r)
	}
	s, err := e2e.New(e2e.Config{}, viewer, agentID, 3, h.now)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := usp.EncodeMsg(usp.NewRequest("g", &pb.Get{ParamPaths: []string{"Device.DeviceInfo.SoftwareVersion", "Device.LocalAgent.Controller.1.EndpointID"}}))
	recs, _ := s.Send(payload, h.now)
	out := h.d.Receive(h.now, recs[0])
	var answer *pb.Msg
	for _, x := range out.Records {
		r := &rec.Record{}
		if proto.Unmarshal(x.Data, r) != nil || x.To != viewer {
			continue
		}
		if r.GetSessionContext() == nil {
			t.Fatalf("the answer left the session: %v", r)
		}
		res, err := s.Receive(r, h.now)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range res.Payloads {
			answer, _ = usp.DecodeMsg(p)
		}
	}
	results := answer.GetBody().GetResponse().GetGetResp().GetReqPathResults()
	if len(results) != 2 || results[0].GetErrCode() != 0 || len(results[0].GetResolvedPathResults()) != 1 ||
		results[1].GetErrCode() != uint32(usp.InvalidPath) {
		t.Fatalf("the untrusted Controller's Get in its session: %v", answer)
	}
}
