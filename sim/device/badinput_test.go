package device

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
	"brickyard/usp/usprecord"
)

// Bad input gets the answer TR-369 prescribes, and the device keeps
// answering.
func TestBadInput(t *testing.T) {
	type check func(t *testing.T, h *harness, answers []*pb.Msg)
	errCode := func(code uint32) check {
		return func(t *testing.T, h *harness, a []*pb.Msg) {
			if len(a) != 1 || a[0].GetBody().GetError().GetErrCode() != code {
				t.Fatalf("want Error %d, got %v", code, a)
			}
		}
	}
	none := func(t *testing.T, h *harness, a []*pb.Msg) {
		if len(a) != 0 {
			t.Fatalf("want no answer, got %v", a)
		}
	}
	paramErr := func(code uint32) check {
		return func(t *testing.T, h *harness, a []*pb.Msg) {
			if len(a) != 1 {
				t.Fatalf("answers %v", a)
			}
			e := a[0].GetBody().GetError()
			if e == nil || len(e.GetParamErrs()) == 0 || e.GetParamErrs()[0].GetErrCode() != code {
				t.Fatalf("want a param_err %d, got %v", code, a[0])
			}
		}
	}
	getErr := func(code uint32) check {
		return func(t *testing.T, h *harness, a []*pb.Msg) {
			if len(a) != 1 || a[0].GetBody().GetResponse().GetGetResp().GetReqPathResults()[0].GetErrCode() != code {
				t.Fatalf("want GetResp err %d, got %v", code, a)
			}
		}
	}
	cmdFail := func(code uint32) check {
		return func(t *testing.T, h *harness, a []*pb.Msg) {
			if len(a) != 1 {
				t.Fatalf("answers %v", a)
			}
			rs := a[0].GetBody().GetResponse().GetOperateResp().GetOperationResults()
			if len(rs) != 1 || rs[0].GetCmdFailure().GetErrCode() != code {
				t.Fatalf("want cmd_failure %d, got %v", code, a[0])
			}
		}
	}
	// after a Download was accepted, its outcome.
	downloadFails := func(status string) check {
		return func(t *testing.T, h *harness, a []*pb.Msg) {
			if len(a) != 1 || a[0].GetBody().GetResponse().GetOperateResp().GetOperationResults()[0].GetReqObjPath() == "" {
				t.Fatalf("Download() not accepted: %v", a)
			}
			mark := len(h.msgs)
			tc := h.waitEvent("TransferComplete!", mark-1, 1, time.Minute)[0].GetParams()
			if tc["FaultCode"] == "0" || tc["FaultString"] == "" {
				t.Fatalf("TransferComplete %v", tc)
			}
			oc := h.operComplete("Download()", 0)
			if len(oc) != 1 || oc[0].GetCmdFailure().GetErrCode() != 7022 {
				t.Fatalf("OperationComplete %v", oc)
			}
			if st := h.value(newRow + ".Status"); st != status {
				t.Fatalf("Status %s, want %s", st, status)
			}
			if h.hasEvent(EvReboot) {
				t.Fatal("rebooted")
			}
		}
	}
	rec := func(mod func(r *usprecord.Record)) []byte {
		payload, _ := proto.Marshal(usp.NewRequest("bad-1", &pb.Get{ParamPaths: []string{"Device.DeviceInfo."}}))
		r := &usprecord.Record{Version: "1.4", ToId: agentID, FromId: ctrlID,
			RecordType: &usprecord.Record_NoSessionContext{NoSessionContext: &usprecord.NoSessionContextRecord{Payload: payload}}}
		mod(r)
		b, _ := proto.Marshal(r)
		return b
	}
	msgRec := func(m *pb.Msg) []byte {
		b, _ := usp.Codec{LocalID: ctrlID}.Seal(agentID, m)
		return b
	}
	op := func(cmd string, args ...string) []byte {
		in := map[string]string{}
		for i := 0; i+1 < len(args); i += 2 {
			in[args[i]] = args[i+1]
		}
		return msgRec(usp.NewRequest("bad-1", &pb.Operate{Command: cmd, CommandKey: "bk", SendResp: true, InputArgs: in}))
	}
	set := func(obj, param, value string) []byte {
		return msgRec(usp.NewRequest("bad-1", &pb.Set{UpdateObjs: []*pb.Set_UpdateObject{{ObjPath: obj,
			ParamSettings: []*pb.Set_UpdateParamSetting{{Param: param, Value: value, Required: true}}}}}))
	}
	const good, badSig, otherBoard, tooBig = "https://fw.example/good.img", "https://fw.example/badsig.img", "https://fw.example/other.img", "https://fw.example/big.img"

	cases := []struct {
		name  string
		board string
		in    []byte
		check check
	}{
		{"garbage bytes", "", []byte("\x00\x01not a record\xff"), none},
		{"empty record", "", nil, none},
		{"record to another agent", "", rec(func(r *usprecord.Record) { r.ToId = "os::other" }), none},
		{"record without from_id", "", rec(func(r *usprecord.Record) { r.FromId = "" }), none},
		{"record of version 2.0", "", rec(func(r *usprecord.Record) { r.Version = "2.0" }), errCode(7104)},
		{"payload not a Msg", "", rec(func(r *usprecord.Record) {
			r.RecordType = &usprecord.Record_NoSessionContext{NoSessionContext: &usprecord.NoSessionContextRecord{Payload: []byte{0xff, 0xff, 0xff}}}
		}), none},
		{"empty payload", "", rec(func(r *usprecord.Record) {
			r.RecordType = &usprecord.Record_NoSessionContext{NoSessionContext: &usprecord.NoSessionContextRecord{}}
		}), none},
		{"session context refused", "", rec(func(r *usprecord.Record) {
			r.RecordType = &usprecord.Record_SessionContext{SessionContext: &usprecord.SessionContextRecord{SessionId: 5, SequenceId: 1}}
		}), none}, // answered with a DisconnectRecord, not a Msg
		{"msg with empty body", "", msgRec(&pb.Msg{Header: &pb.Header{MsgId: "bad-1", MsgType: pb.Header_GET}, Body: &pb.Body{}}), none}, // not a request: dropped (R-MTP.5)
		{"request with no member", "", msgRec(&pb.Msg{Header: &pb.Header{MsgId: "bad-1"}, Body: &pb.Body{MsgBody: &pb.Body_Request{Request: &pb.Request{}}}}), errCode(7004)},
		{"notify to an agent", "", msgRec(usp.NewRequest("bad-1", usp.Event("x", true, "Device.", "Boot!", nil))), errCode(7001)},
		{"unknown path", "", msgRec(usp.NewRequest("bad-1", &pb.Get{ParamPaths: []string{"Device.NoSuchThing."}})), getErr(7026)},
		{"bad path syntax", "", msgRec(usp.NewRequest("bad-1", &pb.Get{ParamPaths: []string{"Device..[["}})), getErr(7008)},
		{"set a read-only parameter", "", set("Device.DeviceInfo.", "SoftwareVersion", "9.9.9"), paramErr(7013)},
		{"set the wrong type", "", set("Device.LocalAgent.Controller.1.", "PeriodicNotifInterval", "soon"), paramErr(7011)},
		{"set BootFirmwareImage to an empty row", "", set("Device.DeviceInfo.", "BootFirmwareImage", newRow), paramErr(7012)},
		{"set BootFirmwareImage to no row", "", set("Device.DeviceInfo.", "BootFirmwareImage", "Device.DeviceInfo.FirmwareImage.9"), paramErr(7012)},
		{"set BootFirmwareImage empty", "", set("Device.DeviceInfo.", "BootFirmwareImage", ""), paramErr(7012)},
		{"Available=false on the active row", "", set("Device.DeviceInfo.FirmwareImage.1.", "Available", "false"), paramErr(7014)},
		// usp/dm cuts long names at 64 bytes inside a UTF-8 sequence; the
		// device repairs the text so that the answer can be encoded.
		{"set a name cut mid-character", "", set("Device.DeviceInfo.", strings.Repeat("a", 63)+"éé", "x"), paramErr(7010)},
		{"set a firmware Alias twice", "", set("Device.DeviceInfo.FirmwareImage.1.", "Alias", "mine"), paramErr(7013)},
		{"add to a static table", "", msgRec(usp.NewRequest("bad-1", &pb.Add{CreateObjs: []*pb.Add_CreateObject{{ObjPath: "Device.DeviceInfo.FirmwareImage."}}})), errCode(7019)},
		{"delete a firmware row", "", msgRec(usp.NewRequest("bad-1", &pb.Delete{ObjPaths: []string{"Device.DeviceInfo.FirmwareImage.1."}})), errCode(7024)},
		{"command on the wrong object", "", op("Device.DeviceInfo.Download()", "URL", good), errCode(7026)},
		{"command on a missing row", "", op("Device.DeviceInfo.FirmwareImage.7.Download()", "URL", good), errCode(7016)},
		{"Download without URL", "", op(newRow + ".Download()"), cmdFail(7027)},
		{"Download of an ftp URL", "", op(newRow+".Download()", "URL", "ftp://fw.example/x.img"), cmdFail(7027)},
		{"Download with userinfo", "", op(newRow+".Download()", "URL", "https://u:p@fw.example/x.img"), cmdFail(7027)},
		{"Download AutoActivate not a boolean", "", op(newRow+".Download()", "URL", good, "AutoActivate", "maybe"), cmdFail(7027)},
		{"Download unknown checksum algorithm", "", op(newRow+".Download()", "URL", good, "CheckSumAlgorithm", "MD5", "CheckSum", "00"), cmdFail(7027)},
		{"Download checksum not hex", "", op(newRow+".Download()", "URL", good, "CheckSumAlgorithm", "SHA-256", "CheckSum", "xyz"), cmdFail(7027)},
		{"Download into the active row", "", op("Device.DeviceInfo.FirmwareImage.1.Download()", "URL", good), cmdFail(7022)},
		{"Download announcing more than the slot", "", op(newRow+".Download()", "URL", good, "FileSize", "4294967295"), cmdFail(7022)},
		{"Download of a missing file", "", op(newRow+".Download()", "URL", "https://fw.example/404.img"), downloadFails("DownloadFailed")},
		{"Download of a badly signed image", "", op(newRow+".Download()", "URL", badSig), downloadFails("ValidationFailed")},
		{"Download of another board's image", "", op(newRow+".Download()", "URL", otherBoard), downloadFails("ValidationFailed")},
		{"Download of an image too large", "mcuboot-nrf52", op(newRow+".Download()", "URL", tooBig), downloadFails("InstallationFailed")},
		{"Activate without window", "", op(newRow + ".Activate()"), cmdFail(7027)},
		{"Activate an empty row", "", op(newRow+".Activate()", "TimeWindow.1.Start", "0", "TimeWindow.1.End", "10", "TimeWindow.1.Mode", "AnyTime"), cmdFail(7022)},
		{"Activate the active row", "", op("Device.DeviceInfo.FirmwareImage.1.Activate()", "TimeWindow.1.Start", "0", "TimeWindow.1.End", "10", "TimeWindow.1.Mode", "AnyTime"), cmdFail(7022)},
		{"Activate with a bad mode", "", op(newRow+".Activate()", "TimeWindow.1.Start", "0", "TimeWindow.1.End", "10", "TimeWindow.1.Mode", "Later"), cmdFail(7027)},
		{"Activate with overlapping windows", "", op(newRow+".Activate()", "TimeWindow.1.Start", "0", "TimeWindow.1.End", "100", "TimeWindow.1.Mode", "AnyTime",
			"TimeWindow.2.Start", "50", "TimeWindow.2.End", "200", "TimeWindow.2.Mode", "AnyTime"), cmdFail(7027)},
		{"Activate with too many windows", "", op(newRow+".Activate()", manyWindows(MaxTimeWindows+1)...), cmdFail(7027)},
		{"Reboot with a bad Cause", "", op("Device.Reboot()", "Cause", "Overheat"), cmdFail(7027)},
		{"Cancel a Request that does not exist", "", op("Device.LocalAgent.Request.3.Cancel()"), errCode(7016)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			board := c.board
			if board == "" {
				board = "uboot-nor"
			}
			h := newHarness(t, board, nil).boot()
			h.standardSubs()
			h.serve(good, fwImage(board, "2.0.0", 0))
			bad := fwImage(board, "2.0.0", 0)
			bad[len(bad)-1] ^= 1
			h.serve(badSig, bad)
			h.serve(otherBoard, fwImage("esp32-ota", "2.0.0", 0))
			h.serve(tooBig, boardtestBig(board))
			mark := len(h.msgs)
			h.sendRaw(c.in)
			h.run(time.Second)
			var answers []*pb.Msg
			for _, m := range h.msgs[mark:] {
				if m.GetHeader().GetMsgId() == "bad-1" {
					answers = append(answers, m)
				}
			}
			c.check(t, h, answers)
			// Still answering.
			if v := h.value("Device.DeviceInfo.SoftwareVersion"); v != "1.0.0" || h.d.State() != On {
				t.Fatalf("after bad input: %s %v", v, h.d.State())
			}
		})
	}
}

func boardtestBig(board string) []byte {
	return fwImageSize(board, "2.0.0", 400<<10)
}

// A session_context Record from a controller whose SessionMode is
// Forbid, or from an endpoint that is no enabled Controller, is refused
// with a DisconnectRecord 7106 (R-E2E.6a).
func TestSessionContextRefused(t *testing.T) {
	h := newHarness(t, "uboot-nor", nil).boot()
	h.set("Device.LocalAgent.Controller.1.E2ESession.", true, "SessionMode", "Forbid")
	for _, from := range []string{ctrlID, "proto::stranger"} {
		r := &usprecord.Record{Version: "1.4", ToId: agentID, FromId: from,
			RecordType: &usprecord.Record_SessionContext{SessionContext: &usprecord.SessionContextRecord{SessionId: 5, SequenceId: 1}}}
		b, _ := proto.Marshal(r)
		out := h.d.Receive(h.now, b)
		if len(out.Records) != 1 || out.Records[0].To != from {
			t.Fatalf("records %v", out.Records)
		}
		in, err := usp.Codec{LocalID: from}.Open(out.Records[0].Data)
		if err != nil || in.Record.GetDisconnect().GetReasonCode() != 7106 {
			t.Fatalf("answer %v %v", in.Record, err)
		}
	}
}

// Off and dead devices answer nothing.
func TestSilentWhenOff(t *testing.T) {
	h := newHarness(t, "uboot-nor", nil)
	rec, _ := h.ctrl.Seal(agentID, usp.NewRequest("1", &pb.Get{ParamPaths: []string{"Device."}}))
	if out := h.d.Receive(t0, rec); len(out.Records) != 0 {
		t.Fatal("an unpowered device answered")
	}
	if out := h.d.Timer(t0, TimerTrial); len(out.Records)+len(out.Timers) != 0 || out.Connect {
		t.Fatal("an unpowered device acted on a timer")
	}
}

// manyWindows is n back-to-back AnyTime windows of one second, as
// flattened Activate() arguments.
func manyWindows(n int) []string {
	var kv []string
	for i := 1; i <= n; i++ {
		kv = append(kv, fmt.Sprintf("TimeWindow.%d.Start", i), strconv.Itoa(i-1), fmt.Sprintf("TimeWindow.%d.End", i), strconv.Itoa(i),
			fmt.Sprintf("TimeWindow.%d.Mode", i), "AnyTime")
	}
	return kv
}
