package dm

import (
	"errors"
	"testing"

	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

func opResults(t *testing.T, m *pb.Msg) []*pb.OperateResp_OperationResult {
	t.Helper()
	r := m.GetBody().GetResponse().GetOperateResp()
	if r == nil {
		t.Fatalf("not an OperateResp: %v", m)
	}
	return r.GetOperationResults()
}

func download(f *fixture, o Origin, cmd, key string, args map[string]string) (*pb.Msg, Effects) {
	return do(f, o, &pb.Operate{Command: cmd, CommandKey: key, SendResp: true, InputArgs: args})
}

func TestOperate_Sync_EmptyOutputArgs(t *testing.T) {
	f := newFixture(t)
	resp, _ := do(f, ctrl1, &pb.Operate{Command: "Device.Reboot()", CommandKey: "k", SendResp: true})
	res := opResults(t, resp)
	if len(res) != 1 || res[0].GetExecutedCommand() != "Device.Reboot()" || res[0].GetReqOutputArgs() == nil {
		t.Fatalf("%v", res)
	}
	// R-OPR.7: defaults for omitted optional inputs.
	if f.dev.reboots != 1 || f.dev.lastIn["Cause"] != "RemoteReboot" {
		t.Errorf("reboots %d, inputs %v", f.dev.reboots, f.dev.lastIn)
	}
}

func TestOperate_ROPR6_UnknownInputsIgnored(t *testing.T) {
	f := newFixture(t)
	do(f, ctrl1, &pb.Operate{Command: "Device.Reboot()", InputArgs: map[string]string{"Bogus": "1", "Reason": "test"}})
	if _, ok := f.dev.lastIn["Bogus"]; ok || f.dev.lastIn["Reason"] != "test" {
		t.Errorf("handler saw %v", f.dev.lastIn)
	}
}

func TestOperate_SyncFailure_CmdFailure(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		err  error
		code usp.Code
	}{
		{usp.Errorf(usp.RequestDenied, "not now"), usp.RequestDenied},
		{usp.Errorf(usp.InvalidValue, "bad"), usp.CommandFailure}, // not allowed in a CommandFailure
		{errors.New("disk on fire"), usp.InternalError},
	} {
		f.dev.failWith = tc.err
		resp, _ := do(f, ctrl1, &pb.Operate{Command: "Device.Reboot()", SendResp: true})
		if c := opResults(t, resp)[0].GetCmdFailure().GetErrCode(); usp.Code(c) != tc.code {
			t.Errorf("%v: err_code %d, want %d", tc.err, c, tc.code)
		}
	}
	resp, _ := do(f, ctrl1, &pb.Operate{Command: "Device.FactoryReset()", SendResp: true})
	if c := opResults(t, resp)[0].GetCmdFailure().GetErrCode(); usp.Code(c) != usp.CommandFailure {
		t.Errorf("command without handler: %d", c)
	}
}

func TestOperate_ROPR5_MissingMandatory7027(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		cmd  string
		args map[string]string
		ok   bool
	}{
		{"Device.DeviceInfo.FirmwareImage.2.Download()", map[string]string{"AutoActivate": "true"}, false},
		{"Device.DeviceInfo.FirmwareImage.2.Download()", map[string]string{"URL": "https://x/fw.bin"}, true},
		{"Device.DeviceInfo.FirmwareImage.2.Activate()", nil, false},
		{"Device.DeviceInfo.FirmwareImage.2.Activate()", map[string]string{"TimeWindow.1.Start": "1", "TimeWindow.1.End": "100"}, false},
		{"Device.DeviceInfo.FirmwareImage.2.Activate()", map[string]string{"TimeWindow.1.Start": "1", "TimeWindow.1.End": "100", "TimeWindow.1.Mode": "Immediately",
			"TimeWindow.2.Start": "200", "TimeWindow.2.Mode": "AnyTime"}, false},
		{"Device.DeviceInfo.FirmwareImage.1.Activate()", map[string]string{"TimeWindow.1.Start": "1", "TimeWindow.1.End": "100", "TimeWindow.1.Mode": "Immediately"}, true},
	} {
		resp, _ := download(f, ctrl1, tc.cmd, "", tc.args)
		r := opResults(t, resp)[0]
		if tc.ok != (r.GetReqObjPath() != "") {
			t.Errorf("%s %v: %v", tc.cmd, tc.args, r)
		}
		if !tc.ok && usp.Code(r.GetCmdFailure().GetErrCode()) != usp.InvalidCommandArguments {
			t.Errorf("%s %v: err_code %d", tc.cmd, tc.args, r.GetCmdFailure().GetErrCode())
		}
	}
}

func TestOperate_Async_RequestRowJobAndOperationComplete(t *testing.T) {
	f := newFixture(t)
	f.subscribe(ctrl1, "oc", "OperationComplete", "Device.DeviceInfo.FirmwareImage.*.Download()", false)
	f.subscribe(ctrl2, "all", "OperationComplete", "Device.DeviceInfo.FirmwareImage.", false)
	f.subscribe(ctrl2, "other", "OperationComplete", "Device.DeviceInfo.FirmwareImage.2.Activate()", false)
	resp, fx := download(f, ctrl1, "Device.DeviceInfo.FirmwareImage.2.Download()", "k1", map[string]string{"URL": "https://x/fw.bin", "Junk": "1"})
	r := opResults(t, resp)[0]
	if r.GetExecutedCommand() != "Device.DeviceInfo.FirmwareImage.2.Download()" || r.GetReqObjPath() != "Device.LocalAgent.Request.1." {
		t.Fatalf("%v", r)
	}
	if len(fx.Jobs) != 1 {
		t.Fatalf("jobs %v", fx.Jobs)
	}
	j := fx.Jobs[0]
	if j.Key != "k1" || j.Input["AutoActivate"] != "false" || j.Input["Junk"] != "" || j.Request != "Device.LocalAgent.Request.1." ||
		j.Obj != "Device.DeviceInfo.FirmwareImage.2." || j.Nums[0] != 2 || j.Origin.EndpointID != ctrl1.EndpointID {
		t.Errorf("job %+v", j)
	}
	for p, want := range map[string]string{"Originator": ctrl1.EndpointID, "Command": j.Command, "CommandKey": "k1", "Status": "Active"} {
		if got := f.value("Device.LocalAgent.Request.1." + p); got != want {
			t.Errorf("Request.1.%s = %q, want %q", p, got, want)
		}
	}
	fx, err := f.m.Complete(j.ID, nil, nil, f.now)
	if err != nil {
		t.Fatal(err)
	}
	if len(fx.Notify) != 2 {
		t.Fatalf("notifies %d, want one per matching subscription", len(fx.Notify))
	}
	for _, n := range fx.Notify {
		oc := n.Msg.GetBody().GetRequest().GetNotify().GetOperComplete()
		if oc.GetObjPath() != "Device.DeviceInfo.FirmwareImage.2." || oc.GetCommandName() != "Download()" || oc.GetCommandKey() != "k1" || oc.GetReqOutputArgs() == nil {
			t.Errorf("oper_complete %v", oc)
		}
	}
	if n := f.value("Device.LocalAgent.RequestNumberOfEntries"); n != "0" {
		t.Errorf("Request rows left: %s", n)
	}
	if _, err := f.m.Complete(j.ID, nil, nil, f.now); !errorIs(err, usp.InvalidArguments) {
		t.Errorf("second Complete: %v", err)
	}
}

func TestOperate_SendRespFalse_RowAndCompletionStillHappen(t *testing.T) {
	f := newFixture(t)
	f.subscribe(ctrl1, "oc", "OperationComplete", "Device.SelfTestDiagnostics()", false)
	resp, fx := do(f, ctrl1, &pb.Operate{Command: "Device.SelfTestDiagnostics()", SendResp: false})
	if resp != nil || len(fx.Jobs) != 1 || f.value("Device.LocalAgent.RequestNumberOfEntries") != "1" {
		t.Fatalf("resp %v jobs %v", resp, fx.Jobs)
	}
	fx, _ = f.m.Complete(fx.Jobs[0].ID, map[string]string{"Status": "Complete"}, nil, f.now)
	if len(fx.Notify) != 1 || fx.Notify[0].Msg.GetBody().GetRequest().GetNotify().GetOperComplete().GetReqOutputArgs().GetOutputArgs()["Status"] != "Complete" {
		t.Errorf("%v", fx.Notify)
	}
}

func TestOperate_FunctionalKeyCollision7005(t *testing.T) {
	f := newFixture(t)
	args := map[string]string{"URL": "https://x"}
	download(f, ctrl1, "Device.DeviceInfo.FirmwareImage.2.Download()", "same", args)
	resp, fx := download(f, ctrl1, "Device.DeviceInfo.FirmwareImage.2.Download()", "same", args)
	if c := opResults(t, resp)[0].GetCmdFailure().GetErrCode(); usp.Code(c) != usp.ResourcesExceeded || len(fx.Jobs) != 0 {
		t.Errorf("same (Originator, Command, CommandKey): %v", resp)
	}
	resp, _ = download(f, ctrl2, "Device.DeviceInfo.FirmwareImage.2.Download()", "same", args)
	if opResults(t, resp)[0].GetReqObjPath() != "Device.LocalAgent.Request.2." {
		t.Errorf("other originator: %v", resp)
	}
}

func TestOperate_ROPR2_SearchPathOneResultEach(t *testing.T) {
	f := newFixture(t)
	resp, fx := download(f, ctrl1, "Device.DeviceInfo.FirmwareImage.*.Download()", "k", map[string]string{"URL": "u"})
	res := opResults(t, resp)
	if len(res) != 2 || res[0].GetReqObjPath() != "Device.LocalAgent.Request.1." || res[1].GetReqObjPath() != "Device.LocalAgent.Request.2." || len(fx.Jobs) != 2 {
		t.Fatalf("%v", res)
	}
	resp, _ = download(f, ctrl1, `Device.DeviceInfo.FirmwareImage.[Status=="Downloading"].Download()`, "k", nil)
	if len(opResults(t, resp)) != 0 {
		t.Errorf("empty search: %v", resp)
	}
}

func TestOperate_MessageErrors(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		cmd  string
		code usp.Code
	}{
		{"Device.DeviceInfo.FirmwareImage.9.Download()", usp.ObjectDoesNotExist},
		{"Device.DeviceInfo.FirmwareImage.1.Bogus()", usp.InvalidPath},
		{"Device.DeviceInfo.", usp.InvalidPath},
		{"Device.Reboot(", usp.InvalidPathSyntax},
	} {
		resp, _ := download(f, ctrl1, tc.cmd, "", nil)
		if errCode(resp) != tc.code {
			t.Errorf("%s: %v, want Error %d", tc.cmd, resp, tc.code)
		}
	}
}

func TestOperate_CancelThenComplete7023(t *testing.T) {
	f := newFixture(t)
	f.subscribe(ctrl1, "oc", "OperationComplete", "Device.DeviceInfo.FirmwareImage.2.Activate()", false)
	_, fx := download(f, ctrl1, "Device.DeviceInfo.FirmwareImage.2.Activate()", "ak",
		map[string]string{"TimeWindow.1.Start": "120", "TimeWindow.1.End": "500", "TimeWindow.1.Mode": "AnyTime"})
	j := fx.Jobs[0]
	resp, fx := do(f, ctrl1, &pb.Operate{Command: j.Request + "Cancel()", SendResp: true})
	if opResults(t, resp)[0].GetReqOutputArgs() == nil || len(fx.Cancel) != 1 || fx.Cancel[0].ID != j.ID {
		t.Fatalf("cancel: %v %v", resp, fx.Cancel)
	}
	if st := f.value(j.Request + "Status"); st != "Canceling" {
		t.Errorf("Status %q", st)
	}
	fx, _ = f.m.Complete(j.ID, nil, usp.Errorf(usp.CommandCanceled, "canceled"), f.now)
	if len(fx.Notify) != 1 || fx.Notify[0].Msg.GetBody().GetRequest().GetNotify().GetOperComplete().GetCmdFailure().GetErrCode() != uint32(usp.CommandCanceled) {
		t.Errorf("%v", fx.Notify)
	}
	resp, _ = do(f, ctrl1, &pb.Operate{Command: j.Request + "Cancel()", SendResp: true})
	if errCode(resp) != usp.ObjectDoesNotExist {
		t.Errorf("cancel of a finished request: %v", resp)
	}
}
