package campaign

import (
	"strings"
	"testing"
	"time"

	"brickyard/sim/fleet"
	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func config() Config {
	return Config{
		Start:   t0.Add(10 * time.Second),
		Devices: []Device{{ID: "os::A-1", Board: "b", Wave: 1}, {ID: "os::A-2", Board: "b", Wave: 1}},
		Waves:   []Wave{{Name: "w", Images: map[string]Image{"b": {URL: "http://x/b.img", Version: "2.0.0", Size: 10}}}},
	}
}

func TestNewRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"procedure", func(c *Config) { c.Procedure = "pray" }, "unknown procedure"},
		{"no start", func(c *Config) { c.Start = time.Time{} }, "no start"},
		{"duplicate", func(c *Config) { c.Devices[1].ID = c.Devices[0].ID }, "listed twice"},
		{"wave range", func(c *Config) { c.Devices[0].Wave = 2 }, "wave 2 of 1"},
		{"no image", func(c *Config) { c.Devices[0].Board = "other" }, `no image for board "other"`},
	} {
		c := config()
		tc.edit(&c)
		if _, err := New(c); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestRowOf(t *testing.T) {
	for in, want := range map[string]int{"Device.DeviceInfo.FirmwareImage.2": 2, "Device.DeviceInfo.FirmwareImage.1.": 1,
		"Device.DeviceInfo.FirmwareImage.x": 0, "Device.LocalAgent.": 0, "Device.DeviceInfo.FirmwareImage.0": 0} {
		if got := rowOf(in); got != want {
			t.Errorf("rowOf(%q) = %d, want %d", in, got, want)
		}
	}
}

func msgOf(t *testing.T, rec []byte) *pb.Msg {
	t.Helper()
	in, err := (usp.Codec{LocalID: "os::A-1"}).Open(rec)
	if err != nil {
		t.Fatal(err)
	}
	return in.Msg
}

// An unanswered request goes again under a new msg_id after the timeout,
// Retries times, then the campaign gives up on it; an agent that is away
// gets it when it reconnects.
func TestRetries(t *testing.T) {
	c := config()
	c.RequestTimeout, c.Retries = 5*time.Second, 2
	camp, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	out := camp.Connected("os::A-1", t0)
	if len(out) != 2 {
		t.Fatalf("first contact sent %d records, want the setup Add and the Get", len(out))
	}
	ids := map[string]bool{}
	for _, s := range out {
		ids[msgOf(t, s.Data).GetHeader().GetMsgId()] = true
	}
	now := t0
	for round := 1; round <= 3; round++ {
		now = now.Add(6 * time.Second)
		out, _ = camp.Tick(now)
		var resent []string
		for _, s := range out {
			m := msgOf(t, s.Data)
			if usp.TypeOf(m) == pb.Header_ADD || usp.TypeOf(m) == pb.Header_GET {
				resent = append(resent, m.GetHeader().GetMsgId())
			}
		}
		want := 2
		if round == 3 {
			want = 0 // two retries, then it gives up
		}
		if len(resent) != want {
			t.Fatalf("round %d: %d requests sent again, want %d", round, len(resent), want)
		}
		for _, id := range resent {
			if ids[id] {
				t.Fatalf("round %d: msg_id %s reused", round, id)
			}
			ids[id] = true
		}
	}
	// Away at the timeout: sent again on the next session.
	out = camp.Connected("os::A-2", now)
	camp.Disconnected("os::A-2", now)
	now = now.Add(6 * time.Second)
	for _, s := range must(camp.Tick(now)) {
		if s.To == "os::A-2" {
			t.Fatal("a request went to an agent that is not connected")
		}
	}
	now = now.Add(6 * time.Second)
	out = camp.Connected("os::A-2", now)
	if len(out) != 2 {
		t.Fatalf("reconnect: %d requests sent again, want 2", len(out))
	}
}

func must[T any](v T, _ time.Time) T { return v }

// A wave whose devices never answer closes at its deadline with every
// device unreachable; Done follows.
func TestDeadline(t *testing.T) {
	c := config()
	c.Waves[0].Deadline = time.Minute
	camp, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	camp.Tick(t0.Add(10 * time.Second)) // wave 1 opens
	if camp.Done() {
		t.Fatal("done before the deadline")
	}
	camp.Tick(t0.Add(71 * time.Second))
	if !camp.Done() || camp.Seen("os::A-1") != Unreachable || camp.Seen("os::A-2") != Unreachable {
		t.Fatalf("done %v, seen %q %q", camp.Done(), camp.Seen("os::A-1"), camp.Seen("os::A-2"))
	}
	if w := camp.Waves()[0]; !w.Closed || w.Done != 2 || w.Fail != 2 {
		t.Fatalf("wave %+v", w)
	}
}

// agentSays seals m from agent id to the campaign.
func agentSays(t *testing.T, id string, m *pb.Msg) []byte {
	t.Helper()
	rec, err := (usp.Codec{LocalID: id}).Seal("proto::controller", m)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// sent finds the requests of typ to agent id in out.
func sent(t *testing.T, out []fleet.Send, id string, typ pb.Header_MsgType) []*pb.Msg {
	t.Helper()
	var ms []*pb.Msg
	for _, s := range out {
		if s.To != id {
			continue
		}
		in, err := (usp.Codec{LocalID: id}).Open(s.Data)
		if err != nil {
			t.Fatal(err)
		}
		if m := in.Msg; usp.TypeOf(m) == typ {
			ms = append(ms, m)
		}
	}
	return ms
}

// A new session means the Records of the old one may be lost (a broker
// restart): the reads go again at once, the Download() after a grace, and
// only once; a refusal of the repeat ("already in progress") decides
// nothing; a Boot! inside the grace drops the pending operation instead.
func TestNewSessionSendsAgain(t *testing.T) {
	c := config()
	c.RequestTimeout, c.Retries = time.Minute, 1
	camp, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	const a = "os::A-1"
	out := camp.Connected(a, t0)
	gets := sent(t, out, a, pb.Header_GET)
	if len(gets) != 1 || len(sent(t, out, a, pb.Header_ADD)) != 1 {
		t.Fatalf("first contact: %d records", len(out))
	}
	// The same agent again, the first session's Records lost: the Add and
	// the Get go again at once, under new msg_ids.
	out = camp.Connected(a, t0.Add(time.Second))
	again := sent(t, out, a, pb.Header_GET)
	if len(again) != 1 || len(sent(t, out, a, pb.Header_ADD)) != 1 || again[0].GetHeader().GetMsgId() == gets[0].GetHeader().GetMsgId() {
		t.Fatalf("new session: %d records, Get %v", len(out), again)
	}
	// The old Get's answer is late: ignored. The new one's counts.
	getResp := func(id string) *pb.Msg {
		return usp.NewResponse(id, &pb.GetResp{ReqPathResults: []*pb.GetResp_RequestedPathResult{{
			RequestedPath: "Device.DeviceInfo.", ResolvedPathResults: []*pb.GetResp_ResolvedPathResult{{
				ResolvedPath: "Device.DeviceInfo.", ResultParams: map[string]string{"SoftwareVersion": "1.0.0", "ActiveFirmwareImage": "Device.DeviceInfo.FirmwareImage.1", "FirmwareImageNumberOfEntries": "2"}}}}}})
	}
	camp.Receive(a, agentSays(t, a, getResp(gets[0].GetHeader().GetMsgId())), t0.Add(2*time.Second))
	camp.Receive(a, agentSays(t, a, getResp(again[0].GetHeader().GetMsgId())), t0.Add(2*time.Second))
	// The wave opens: the Download() goes.
	out, _ = camp.Tick(t0.Add(10 * time.Second))
	dl := sent(t, out, a, pb.Header_OPERATE)
	if len(dl) != 1 {
		t.Fatalf("wave open: %d Operates to %s", len(dl), a)
	}
	// A new session: nothing at once, the Download() again after the grace.
	if out = camp.Connected(a, t0.Add(11*time.Second)); len(sent(t, out, a, pb.Header_OPERATE)) != 0 {
		t.Fatal("the Download() went again at once")
	}
	if out, _ = camp.Tick(t0.Add(11*time.Second + reconnectGrace - time.Millisecond)); len(sent(t, out, a, pb.Header_OPERATE)) != 0 {
		t.Fatal("the Download() went again before the grace ended")
	}
	out, _ = camp.Tick(t0.Add(11*time.Second + reconnectGrace))
	dl2 := sent(t, out, a, pb.Header_OPERATE)
	if len(dl2) != 1 {
		t.Fatalf("after the grace: %d Operates", len(dl2))
	}
	// The repeat is refused: the first is under way. Nothing concluded.
	refused := usp.NewResponse(dl2[0].GetHeader().GetMsgId(), &pb.OperateResp{OperationResults: []*pb.OperateResp_OperationResult{{
		ExecutedCommand: dl2[0].GetBody().GetRequest().GetOperate().GetCommand(),
		OperationResp:   &pb.OperateResp_OperationResult_CmdFailure{CmdFailure: &pb.OperateResp_OperationResult_CommandFailure{ErrCode: 7005, ErrMsg: "a download is already in progress"}}}}})
	camp.Receive(a, agentSays(t, a, refused), t0.Add(17*time.Second))
	if s := camp.Seen(a); s != "" {
		t.Fatalf("the refused repeat concluded %q", s)
	}

	// The other agent: its Download() pending, a new session, then a Boot!
	// with the old version inside the grace: the download was interrupted,
	// and the Download() is not sent again.
	const b = "os::A-2"
	camp.Connected(b, t0.Add(20*time.Second))
	out, _ = camp.Tick(t0.Add(20 * time.Second))
	for _, m := range sent(t, append(out, camp.Connected(b, t0.Add(20*time.Second))...), b, pb.Header_GET) {
		camp.Receive(b, agentSays(t, b, getResp(m.GetHeader().GetMsgId())), t0.Add(21*time.Second))
	}
	_ = camp.Connected(b, t0.Add(22*time.Second))
	boot := usp.NewRequest("boot-1", &pb.Notify{SubscriptionId: "campaign-boot", Notification: &pb.Notify_Event_{Event: &pb.Notify_Event{
		ObjPath: "Device.", EventName: "Boot!", Params: map[string]string{"ParameterMap": `{"Device.DeviceInfo.SoftwareVersion":"1.0.0"}`}}}})
	camp.Receive(b, agentSays(t, b, boot), t0.Add(23*time.Second))
	out, _ = camp.Tick(t0.Add(22*time.Second + reconnectGrace))
	if ops := sent(t, out, b, pb.Header_OPERATE); len(ops) != 0 {
		t.Fatalf("a Download() went again after the device rebooted: %v", ops)
	}
}

// A device away when its wave opens is sent its Download() as it comes
// back; the Boot! it sends on that session reports the boot before the
// Download(), not one after it: nothing is concluded, the Download() is
// not dropped, and the device's real progress decides. A Boot! on a later
// session does judge the Download() (interrupted).
func TestBootOfTheSessionBeforeTheDownload(t *testing.T) {
	camp, err := New(config())
	if err != nil {
		t.Fatal(err)
	}
	getResp := func(id string) *pb.Msg {
		return usp.NewResponse(id, &pb.GetResp{ReqPathResults: []*pb.GetResp_RequestedPathResult{{
			RequestedPath: "Device.DeviceInfo.", ResolvedPathResults: []*pb.GetResp_ResolvedPathResult{{
				ResolvedPath: "Device.DeviceInfo.", ResultParams: map[string]string{"SoftwareVersion": "1.0.0", "ActiveFirmwareImage": "Device.DeviceInfo.FirmwareImage.1", "FirmwareImageNumberOfEntries": "2"}}}}}})
	}
	bootMsg := func(id, version string) []byte {
		return agentSays(t, id, usp.NewRequest("boot-"+version, &pb.Notify{SubscriptionId: "campaign-boot", Notification: &pb.Notify_Event_{Event: &pb.Notify_Event{
			ObjPath: "Device.", EventName: "Boot!", Params: map[string]string{"ParameterMap": `{"Device.DeviceInfo.SoftwareVersion":"` + version + `"}`}}}}))
	}
	for _, a := range []string{"os::A-1", "os::A-2"} {
		for _, m := range sent(t, camp.Connected(a, t0), a, pb.Header_GET) {
			camp.Receive(a, agentSays(t, a, getResp(m.GetHeader().GetMsgId())), t0.Add(time.Second))
		}
		camp.Disconnected(a, t0.Add(5*time.Second)) // away when the wave opens
	}
	if out, _ := camp.Tick(t0.Add(10 * time.Second)); len(out) != 0 {
		t.Fatalf("%d Records to agents that are away", len(out))
	}

	// A-1 comes back: its Download() goes at once, then its Boot! (the
	// boot it came back with) arrives.
	const a = "os::A-1"
	dl := sent(t, camp.Connected(a, t0.Add(12*time.Second)), a, pb.Header_OPERATE)
	if len(dl) != 1 {
		t.Fatalf("on its return: %d Operates", len(dl))
	}
	camp.Receive(a, bootMsg(a, "1.0.0"), t0.Add(12*time.Second+20*time.Millisecond))
	if s := camp.Seen(a); s != "" {
		t.Fatalf("the Boot! of the session the Download() went out on concluded %q", s)
	}
	// The Download() completes, the device activates and reboots into
	// the new image: updated.
	done := usp.NewRequest("oc-1", &pb.Notify{SubscriptionId: "campaign-oper", Notification: &pb.Notify_OperComplete{OperComplete: &pb.Notify_OperationComplete{
		ObjPath: "Device.DeviceInfo.FirmwareImage.2.", CommandName: "Download()", CommandKey: dl[0].GetBody().GetRequest().GetOperate().GetCommandKey(),
		OperationResp: &pb.Notify_OperationComplete_ReqOutputArgs{ReqOutputArgs: &pb.Notify_OperationComplete_OutputArgs{}}}}})
	camp.Receive(a, agentSays(t, a, done), t0.Add(13*time.Second))
	camp.Disconnected(a, t0.Add(13*time.Second))
	camp.Connected(a, t0.Add(20*time.Second))
	camp.Receive(a, bootMsg(a, "2.0.0"), t0.Add(20*time.Second+20*time.Millisecond))
	if s := camp.Seen(a); s != Updated {
		t.Fatalf("after the new image's Boot!: %q, want %q", s, Updated)
	}

	// A-2 comes back, is sent its Download(), loses power before any
	// result and comes back with the old version: interrupted.
	const b = "os::A-2"
	if dl := sent(t, camp.Connected(b, t0.Add(12*time.Second)), b, pb.Header_OPERATE); len(dl) != 1 {
		t.Fatalf("on its return: %d Operates", len(dl))
	}
	camp.Receive(b, bootMsg(b, "1.0.0"), t0.Add(12*time.Second+20*time.Millisecond))
	camp.Disconnected(b, t0.Add(14*time.Second))
	camp.Connected(b, t0.Add(20*time.Second))
	camp.Receive(b, bootMsg(b, "1.0.0"), t0.Add(20*time.Second+20*time.Millisecond))
	if s := camp.Seen(b); s != Interrupted {
		t.Fatalf("a reboot after the Download(): %q, want %q", s, Interrupted)
	}
}
