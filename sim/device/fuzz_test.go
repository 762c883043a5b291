package device

import (
	"bytes"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"brickyard/usp"
	"brickyard/usp/e2e"
	pb "brickyard/usp/uspmsg"
	"brickyard/usp/usprecord"
)

// fuzzPaths and fuzzArgs steer generated messages to the interesting
// parts of the model.
var fuzzPaths = []string{
	"Device.", "Device.DeviceInfo.", "Device.DeviceInfo.FirmwareImage.", "Device.DeviceInfo.FirmwareImage.*.",
	"Device.DeviceInfo.FirmwareImage.1.", "Device.DeviceInfo.FirmwareImage.2.", "Device.DeviceInfo.FirmwareImage.2.Download()",
	"Device.DeviceInfo.FirmwareImage.2.Activate()", "Device.DeviceInfo.FirmwareImage.1.Download()", "Device.DeviceInfo.FirmwareImage.*.Activate()",
	"Device.DeviceInfo.BootFirmwareImage", "Device.Reboot()", "Device.FactoryReset()", "Device.Boot!",
	"Device.LocalAgent.", "Device.LocalAgent.Subscription.", "Device.LocalAgent.Subscription.1.", "Device.LocalAgent.Request.",
	"Device.LocalAgent.Request.1.Cancel()", "Device.LocalAgent.Request.*.Cancel()", "Device.LocalAgent.Controller.",
	"Device.LocalAgent.Controller.1.", "Device.LocalAgent.Controller.1.BootParameter.", "Device.LocalAgent.MTP.1.",
	"Device.DeviceInfo.FirmwareImage.[Status==\"Active\"].", "Device.DeviceInfo.ActiveFirmwareImage+.Version",
}

var fuzzArgs = []string{
	"URL", "AutoActivate", "CheckSumAlgorithm", "CheckSum", "FileSize", "Username", "Password",
	"TimeWindow.1.Start", "TimeWindow.1.End", "TimeWindow.1.Mode", "TimeWindow.2.Start", "TimeWindow.2.End", "TimeWindow.2.Mode",
	"TimeWindow.1.MaxRetries", "Cause", "Reason", "Enable", "ID", "NotifType", "ReferenceList", "Persistent", "NotifRetry",
	"BootFirmwareImage", "Available", "Alias", "ParameterName", "PeriodicNotifInterval", "EndpointID", "TimeToLive",
}

var fuzzValues = []string{
	"", "true", "false", "0", "1", "5", "120", "-1", "4294967296", "https://fw.example/good.img", "https://fw.example/bad.img",
	"https://fw.example/404.img", "Device.DeviceInfo.FirmwareImage.2", "Device.DeviceInfo.FirmwareImage.1", "Immediately", "AnyTime",
	"WhenIdle", "ConfirmationNeeded", "SHA-256", "SHA-1", "Event", "ValueChange", "OperationComplete", "Device.Boot!",
	"Device.DeviceInfo.", "RemoteReboot", "LocalFactoryReset", "abcd",
}

// gen builds a Msg from fuzz bytes.
type gen struct{ b []byte }

func (g *gen) byte() byte {
	if len(g.b) == 0 {
		return 0
	}
	c := g.b[0]
	g.b = g.b[1:]
	return c
}

func (g *gen) pick(list []string) string {
	c := g.byte()
	if c >= 0xf0 && len(g.b) > 0 { // a raw string from the input
		n := int(g.byte()) % 24
		n = min(n, len(g.b))
		s := string(g.b[:n])
		g.b = g.b[n:]
		return s
	}
	return list[int(c)%len(list)]
}

func (g *gen) kv() map[string]string {
	m := map[string]string{}
	for n := int(g.byte() % 5); n > 0; n-- {
		m[g.pick(fuzzArgs)] = g.pick(fuzzValues)
	}
	return m
}

func (g *gen) msg(id string) *pb.Msg {
	switch g.byte() % 10 {
	case 0:
		return usp.NewRequest(id, &pb.Get{ParamPaths: []string{g.pick(fuzzPaths), g.pick(fuzzPaths)}, MaxDepth: uint32(g.byte() % 3)})
	case 1:
		return usp.NewRequest(id, &pb.GetInstances{ObjPaths: []string{g.pick(fuzzPaths)}, FirstLevelOnly: g.byte()%2 == 0})
	case 2:
		return usp.NewRequest(id, &pb.GetSupportedDM{ObjPaths: []string{g.pick(fuzzPaths)}, ReturnCommands: true, ReturnEvents: true, ReturnParams: g.byte()%2 == 0})
	case 3:
		var ps []*pb.Set_UpdateParamSetting
		for k, v := range g.kv() {
			ps = append(ps, &pb.Set_UpdateParamSetting{Param: k, Value: v, Required: g.byte()%2 == 0})
		}
		return usp.NewRequest(id, &pb.Set{AllowPartial: g.byte()%2 == 0, UpdateObjs: []*pb.Set_UpdateObject{{ObjPath: g.pick(fuzzPaths), ParamSettings: ps}}})
	case 4:
		var ps []*pb.Add_CreateParamSetting
		for k, v := range g.kv() {
			ps = append(ps, &pb.Add_CreateParamSetting{Param: k, Value: v, Required: g.byte()%2 == 0})
		}
		return usp.NewRequest(id, &pb.Add{AllowPartial: g.byte()%2 == 0, CreateObjs: []*pb.Add_CreateObject{{ObjPath: g.pick(fuzzPaths), ParamSettings: ps}}})
	case 5:
		return usp.NewRequest(id, &pb.Delete{AllowPartial: g.byte()%2 == 0, ObjPaths: []string{g.pick(fuzzPaths)}})
	case 6, 7:
		return usp.NewRequest(id, &pb.Operate{Command: g.pick(fuzzPaths), CommandKey: g.pick(fuzzValues), SendResp: g.byte()%4 != 0, InputArgs: g.kv()})
	case 8:
		return usp.NewResponse(id, &pb.NotifyResp{SubscriptionId: g.pick(fuzzValues)})
	}
	return usp.NewRequest(id, &pb.GetSupportedProtocol{ControllerSupportedProtocolVersions: g.pick(fuzzValues)})
}

// fuzzShell drives a device through its outputs: timers fire in time
// order, fetches are answered from a small file set, reboots power it on
// again, connects succeed.
type fuzzShell struct {
	t      *testing.T
	d      *Device
	now    time.Time
	timers map[TimerID]time.Time
	fetch  []Fetch
	files  map[string][]byte
	ctrl   usp.Codec
	sess   *e2e.Session // the controller's end of the latest E2E session
}

func (s *fuzzShell) apply(out Output) {
	for len(out.Records) > 0 || out.Connect || !out.Reboot.IsZero() || len(out.Timers) > 0 || len(out.Fetches) > 0 {
		for _, r := range out.Records {
			_, err := (usp.Codec{LocalID: r.To}).Open(r.Data)
			if _, session := usp.IsSessionRecord(err); err != nil && !session && r.To != "" {
				s.t.Fatalf("the device sent a Record its recipient cannot open: %v", err)
			}
		}
		for _, tm := range out.Timers {
			if tm.At.IsZero() {
				delete(s.timers, tm.ID)
			} else {
				s.timers[tm.ID] = tm.At
			}
		}
		s.fetch = append(s.fetch, out.Fetches...)
		switch {
		case !out.Reboot.IsZero():
			clear(s.timers)
			s.fetch = nil
			s.now = out.Reboot
			out = s.d.PowerOn(s.now)
			continue
		case out.Dead:
			return
		case out.Connect:
			out = s.d.Connected(s.now)
			continue
		}
		return
	}
}

// settle runs the device's timers and fetches for up to d of virtual time.
func (s *fuzzShell) settle(d time.Duration) {
	limit := s.now.Add(d)
	for n := 0; n < 200; n++ {
		if len(s.fetch) > 0 {
			f := s.fetch[0]
			s.fetch = s.fetch[1:]
			data, ok := s.files[f.URL]
			var err error
			if !ok {
				err = errNotFound
			}
			s.apply(s.d.FetchDone(s.now, f.ID, data, err))
			continue
		}
		var id TimerID
		var at time.Time
		for k, v := range s.timers {
			if at.IsZero() || v.Before(at) || (v.Equal(at) && k < id) {
				id, at = k, v
			}
		}
		if at.IsZero() || at.After(limit) {
			return
		}
		delete(s.timers, id)
		if at.After(s.now) {
			s.now = at
		}
		s.apply(s.d.Timer(s.now, id))
	}
}

var errNotFound = &fetchError{"HTTP 404"}

type fetchError struct{ s string }

func (e *fetchError) Error() string { return e.s }

// answered reports whether records hold the answer to msg id.
func (s *fuzzShell) answered(records []Record, id string) bool {
	for _, r := range records {
		in, err := s.ctrl.Open(r.Data)
		if err == nil && in.Msg != nil && in.Msg.GetHeader().GetMsgId() == id && !usp.IsRequest(in.Msg) {
			return true
		}
	}
	return false
}

// inSession sends msg in a new E2E session id of the controller,
// segmented at 512 bytes, and returns the device's Output for the last
// Record; false when msg cannot be encoded.
func (s *fuzzShell) inSession(id uint64, msg *pb.Msg) (Output, bool) {
	payload, err := usp.EncodeMsg(msg)
	if err != nil {
		return Output{}, false
	}
	sess, err := e2e.New(e2e.Config{MaxRecordSize: e2e.MinRecordSize}, ctrlID, agentID, id, s.now)
	if err != nil {
		s.t.Fatal(err)
	}
	s.sess = sess
	recs, err := sess.Send(payload, s.now)
	if err != nil {
		s.t.Fatal(err)
	}
	var out Output
	for i, r := range recs {
		if i > 0 {
			s.apply(out)
		}
		out = s.d.Receive(s.now, r)
	}
	return out, true
}

// answeredInSession reports whether records hold, in session id, the
// answer to msg id.
func (s *fuzzShell) answeredInSession(records []Record, id uint64, msgID string) bool {
	for _, r := range records {
		x := new(usprecord.Record)
		if proto.Unmarshal(r.Data, x) != nil || x.GetSessionContext().GetSessionId() != id {
			continue
		}
		res, err := s.sess.Receive(x, s.now)
		if err != nil {
			s.t.Fatalf("the device's session Record fails the controller's session: %v", err)
		}
		for _, p := range res.Payloads {
			m, err := usp.DecodeMsg(p)
			if err != nil {
				s.t.Fatalf("the device sent an undecodable Msg in the session: %v", err)
			}
			if m.GetHeader().GetMsgId() == msgID && !usp.IsRequest(m) {
				return true
			}
		}
	}
	return false
}

// FuzzReceive feeds a device arbitrary bytes as Records, arbitrary
// protobuf Msgs in valid Records, and generated Msgs aimed at the model,
// several in a row. The device never panics, answers every request due
// an answer, and keeps answering.
func FuzzReceive(f *testing.F) {
	ctrl := usp.Codec{LocalID: ctrlID}
	seal := func(m *pb.Msg) []byte { b, _ := ctrl.Seal(agentID, m); return b }
	f.Add([]byte("garbage"))
	f.Add(append([]byte{0}, seal(usp.NewRequest("1", &pb.Get{ParamPaths: []string{"Device."}}))...))
	m, _ := proto.Marshal(usp.NewRequest("2", &pb.Operate{Command: newRow + ".Download()", SendResp: true,
		InputArgs: map[string]string{"URL": "https://fw.example/good.img", "AutoActivate": "true"}}))
	f.Add(append([]byte{1}, m...))
	f.Add([]byte{2, 6, 6, 4, 0, 9, 2, 0})                                // generated Operate
	f.Add([]byte{2, 4, 15, 4, 18, 7, 16, 19, 0, 0, '|', 2, 6, 11, 0, 1}) // Add then Operate
	f.Add([]byte{2, 6, 7, 0, 3, 7, 5, 8, 14, 9, 0, '|', 2, 6, 19, 0, 0})
	f.Add([]byte{3, 2, 0, 0, '|', 3, 0, 4, 14}) // GetSupportedDM, then Get, in sessions
	sc, _ := proto.Marshal(&usprecord.SessionContextRecord{SessionId: 7, SequenceId: 1, ExpectedId: 1, PayloadSarState: 1, PayloadrecSarState: 1, Payload: [][]byte{{0x0a}}})
	f.Add(append([]byte{4}, sc...))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := New(Config{EndpointID: agentID, ControllerID: ctrlID, Seed: 1}, factory(t, "uboot-nor").Clone(), schema(t))
		if err != nil {
			t.Fatal(err)
		}
		s := &fuzzShell{t: t, d: d, now: t0, timers: map[TimerID]time.Time{}, ctrl: ctrl,
			files: map[string][]byte{"https://fw.example/good.img": fwImage("uboot-nor", "2.0.0", 0),
				"https://fw.example/bad.img": fwImage("uboot-nor", "2.0.0", 1)}}
		s.apply(d.PowerOn(s.now))
		for i, chunk := range bytes.SplitN(data, []byte{'|'}, 4) {
			if len(chunk) == 0 || d.State() != On {
				continue
			}
			id := "f-" + string(rune('a'+i))
			var rec []byte
			var msg *pb.Msg
			sessionMsg := false
			switch chunk[0] % 5 {
			case 0:
				rec = chunk[1:]
			case 3: // a generated Msg in a new E2E session, segmented
				g := &gen{b: chunk[1:]}
				msg = g.msg(id)
				sessionMsg = d.sessionsAllowed(s.now, ctrlID)
				out, ok := s.inSession(uint64(10+i), msg)
				if !ok {
					msg = nil
					continue
				}
				if sessionMsg && usp.Validate(msg) == nil && usp.IsRequest(msg) {
					op := msg.GetBody().GetRequest().GetOperate()
					if (op == nil || op.GetSendResp()) && !s.answeredInSession(out.Records, uint64(10+i), msg.GetHeader().GetMsgId()) {
						t.Fatalf("request %v not answered in the session; output %+v", msg, out)
					}
				}
				s.apply(out)
				s.settle(10 * time.Minute)
				continue
			case 4: // arbitrary session_context fields in a valid Record
				sc := new(usprecord.SessionContextRecord)
				if proto.Unmarshal(chunk[1:], sc) != nil {
					continue
				}
				rec, _ = proto.Marshal(&usprecord.Record{Version: "1.4", ToId: agentID, FromId: ctrlID,
					RecordType: &usprecord.Record_SessionContext{SessionContext: sc}})
			case 1:
				msg = new(pb.Msg)
				if proto.Unmarshal(chunk[1:], msg) != nil {
					msg = nil
					r := &usprecord.Record{Version: "1.4", ToId: agentID, FromId: ctrlID,
						RecordType: &usprecord.Record_NoSessionContext{NoSessionContext: &usprecord.NoSessionContextRecord{Payload: chunk[1:]}}}
					rec, _ = proto.Marshal(r)
				} else {
					rec = seal(msg)
				}
			default:
				g := &gen{b: chunk[1:]}
				msg = g.msg(id)
				rec = seal(msg)
			}
			if rec == nil {
				msg = nil // not encodable (a string that is not UTF-8)
			}
			out := d.Receive(s.now, rec)
			if msg != nil && usp.Validate(msg) == nil && usp.IsRequest(msg) {
				op := msg.GetBody().GetRequest().GetOperate()
				if (op == nil || op.GetSendResp()) && !s.answered(out.Records, msg.GetHeader().GetMsgId()) {
					t.Fatalf("request %v not answered; output %+v", msg, out)
				}
			}
			s.apply(out)
			s.settle(10 * time.Minute)
		}
		if d.State() == On {
			if !d.Online() {
				s.apply(d.Connected(s.now))
			}
			out := d.Receive(s.now, seal(usp.NewRequest("last", &pb.Get{ParamPaths: []string{"Device.DeviceInfo.SoftwareVersion"}})))
			if !s.answered(out.Records, "last") {
				t.Fatalf("the device stopped answering; output %+v", out)
			}
		}
	})
}
