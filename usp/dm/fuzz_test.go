package dm

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

// specCodes are the codes TR-369 lets each message carry (its "Supported
// Error Codes" lists joined with the applicability column of the error
// code table), written out independently of the engine's own tables.
var specCodes = map[pb.Header_MsgType][]usp.Code{
	pb.Header_GET:                 span(7000, 7006, 7008, 7010, 7016, 7026),
	pb.Header_GET_INSTANCES:       span(7000, 7006, 7008, 7016, 7018, 7026),
	pb.Header_GET_SUPPORTED_DM:    span(7000, 7006, 7008, 7016, 7026),
	pb.Header_GET_SUPPORTED_PROTO: span(7000, 7006),
	pb.Header_SET:                 span(7000, 7016, 7020, 7021, 7025, 7026),
	pb.Header_ADD:                 span(7000, 7019, 7021, 7025, 7026),
	pb.Header_DELETE:              span(7000, 7008, 7015, 7016, 7018, 7024, 7026),
	pb.Header_OPERATE:             span(7000, 7008, 7016, 7022, 7026, 7027),
	pb.Header_NOTIFY:              span(7000, 7006),
	pb.Header_REGISTER:            span(7000, 7008, 7016, 7028, 7029),
	pb.Header_DEREGISTER:          span(7000, 7008, 7016, 7030),
}

func span(lo, hi usp.Code, extra ...usp.Code) []usp.Code {
	var out []usp.Code
	for c := lo; c <= hi; c++ {
		out = append(out, c)
	}
	return append(out, extra...)
}

func allowed(t pb.Header_MsgType, c uint32) bool {
	if c >= 7800 && c <= 7999 {
		return true
	}
	for _, a := range specCodes[t] {
		if uint32(a) == c {
			return true
		}
	}
	return false
}

func fuzzSeeds() []*pb.Msg {
	reqs := []*pb.Msg{
		usp.NewRequest("1", &pb.Get{ParamPaths: []string{"Device.", `Device.DeviceInfo.FirmwareImage.[Status=="Active"&&Available==true].Name`, "Device.DeviceInfo.BootFirmwareImage+.Alias"}, MaxDepth: 2}),
		usp.NewRequest("2", &pb.GetInstances{ObjPaths: []string{"Device.LocalAgent.Controller.", "Device.DeviceInfo.FirmwareImage.*."}}),
		usp.NewRequest("3", &pb.GetSupportedDM{ObjPaths: []string{"Device.", "Device.LocalAgent.Subscription.{i}.ID"}, ReturnParams: true, ReturnCommands: true}),
		usp.NewRequest("4", setMsg(false, upd("Device.DeviceInfo.", ps("FriendlyName", "x", true), ps("BootFirmwareImage", "Device.DeviceInfo.FirmwareImage.2", false)))),
		usp.NewRequest("5", addMsg(true, cobj("Device.LocalAgent.Subscription.", cps("Enable", "true", true), cps("NotifType", "ValueChange", true), cps("ReferenceList", "Device.DeviceInfo.", true), cps("NotifRetry", "true", false)))),
		usp.NewRequest("6", &pb.Delete{AllowPartial: true, ObjPaths: []string{"Device.LocalAgent.Controller.*.BootParameter.*.", "Device.LocalAgent.Controller.2."}}),
		usp.NewRequest("7", &pb.Operate{Command: "Device.DeviceInfo.FirmwareImage.*.Download()", CommandKey: "k", SendResp: true, InputArgs: map[string]string{"URL": "u"}}),
		usp.NewRequest("8", &pb.Operate{Command: "Device.LocalAgent.Request.1.Cancel()", SendResp: true}),
		usp.NewRequest("9", &pb.GetSupportedProtocol{}),
		usp.NewResponse("dm-1", &pb.NotifyResp{}),
	}
	return reqs
}

// FuzzHandle feeds arbitrary messages to a model: it must never panic,
// must answer every request with its response or an Error (Operate with
// send_resp=false excepted) carrying the request's msg_id, and every code
// in the answer must be one TR-369 allows for that message.
func FuzzHandle(f *testing.F) {
	for _, m := range fuzzSeeds() {
		b, _ := proto.Marshal(m)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		msg := &pb.Msg{}
		if proto.Unmarshal(b, msg) != nil {
			return
		}
		fx := newFixture(t)
		fx.subscribe(ctrl1, "all", "ValueChange", "Device.", true)
		fx.subscribe(ctrl2, "oc", "ObjectCreation", "Device.", false)
		download(fx, ctrl1, "Device.DeviceInfo.FirmwareImage.2.Download()", "k", map[string]string{"URL": "u"})
		for round := 0; round < 2; round++ {
			resp, effects := fx.m.Handle(ctrl1, msg, fx.now)
			checkAnswer(t, msg, resp)
			for _, n := range effects.Notify {
				if usp.Validate(n.Msg) != nil || n.Msg.GetBody().GetRequest().GetNotify() == nil || n.To == "" {
					t.Fatalf("bad notification %v", n)
				}
			}
			for _, j := range effects.Jobs {
				fx.m.Complete(j.ID, nil, nil, fx.now)
			}
			if !effects.Wake.IsZero() {
				fx.m.Tick(effects.Wake)
			}
			fx.m.Snapshot()
		}
		// The same message from a Controller with a restricted role, and
		// from one the Agent refuses.
		tf := newTrustFixture(t, nil)
		role := tf.mustAdd("Device.LocalAgent.ControllerTrust.Role.", map[string]string{"Name": "R", "Enable": "true"})
		tf.mustAdd(role+"Permission.", map[string]string{"Order": "1", "Targets": "Device.", "Param": "r--n", "Obj": "rw-n", "InstantiatedObj": "r---", "CommandEvent": "r-x-", "Enable": "true"})
		tf.mustAdd(role+"Permission.", map[string]string{"Order": "2", "Targets": "Device.DeviceInfo.FirmwareImage.1.,Device.LocalAgent.Controller.*.Enable", "Param": "rw--", "InstantiatedObj": "rw--", "Enable": "true"})
		tf.mustAdd("Device.LocalAgent.Controller.", map[string]string{"EndpointID": ctrl1.EndpointID, "Enable": "true", "AssignedRole": strings.TrimSuffix(role, ".")})
		tf.mustAdd("Device.LocalAgent.Subscription.", map[string]string{"Enable": "true", "ID": "all", "NotifType": "ValueChange",
			"ReferenceList": "Device.", "NotifRetry": "true", "Recipient": "Device.LocalAgent.Controller.1"})
		for _, o := range []Origin{ctrl1, ctrl2} {
			resp, effects := tf.m.Handle(o, msg, tf.now)
			checkAnswer(t, msg, resp)
			for _, j := range effects.Jobs {
				tf.m.Complete(j.ID, nil, nil, tf.now)
			}
		}
	})
}

func checkAnswer(t *testing.T, req, resp *pb.Msg) {
	id := req.GetHeader().GetMsgId()
	isReq := usp.Validate(req) == nil && usp.IsRequest(req)
	if !isReq {
		if resp != nil && !(id != "" && usp.IsRequest(req) && usp.IsError(resp)) {
			t.Fatalf("answered a non-request: %v", resp)
		}
		if resp != nil && resp.GetBody().GetError().GetErrCode() != uint32(usp.InvalidArguments) {
			t.Fatalf("malformed request answered with %v", resp)
		}
		return
	}
	typ := usp.TypeOf(req)
	if resp == nil {
		if typ == pb.Header_OPERATE && !req.GetBody().GetRequest().GetOperate().GetSendResp() {
			return
		}
		t.Fatalf("no answer to %v", req)
	}
	if !usp.Answers(req, resp) || usp.Validate(resp) != nil {
		t.Fatalf("%v does not answer %v", resp, req)
	}
	var codes []uint32
	if e := resp.GetBody().GetError(); e != nil {
		codes = append(codes, e.GetErrCode())
		for _, p := range e.GetParamErrs() {
			codes = append(codes, p.GetErrCode())
		}
	}
	r := resp.GetBody().GetResponse()
	for _, x := range r.GetGetResp().GetReqPathResults() {
		codes = append(codes, x.GetErrCode())
	}
	for _, x := range r.GetGetInstancesResp().GetReqPathResults() {
		codes = append(codes, x.GetErrCode())
	}
	for _, x := range r.GetGetSupportedDmResp().GetReqObjResults() {
		codes = append(codes, x.GetErrCode())
	}
	for _, x := range r.GetSetResp().GetUpdatedObjResults() {
		fl := x.GetOperStatus().GetOperFailure()
		codes = append(codes, fl.GetErrCode())
		for _, f := range fl.GetUpdatedInstFailures() {
			for _, p := range f.GetParamErrs() {
				codes = append(codes, p.GetErrCode())
			}
		}
		for _, s := range x.GetOperStatus().GetOperSuccess().GetUpdatedInstResults() {
			for _, p := range s.GetParamErrs() {
				codes = append(codes, p.GetErrCode())
			}
		}
	}
	for _, x := range r.GetAddResp().GetCreatedObjResults() {
		codes = append(codes, x.GetOperStatus().GetOperFailure().GetErrCode())
		for _, p := range x.GetOperStatus().GetOperSuccess().GetParamErrs() {
			codes = append(codes, p.GetErrCode())
		}
	}
	for _, x := range r.GetDeleteResp().GetDeletedObjResults() {
		codes = append(codes, x.GetOperStatus().GetOperFailure().GetErrCode())
		for _, p := range x.GetOperStatus().GetOperSuccess().GetUnaffectedPathErrs() {
			codes = append(codes, p.GetErrCode())
		}
	}
	for _, x := range r.GetOperateResp().GetOperationResults() {
		codes = append(codes, x.GetCmdFailure().GetErrCode())
		if x.GetOperationResp() == nil {
			t.Fatalf("operation result without outcome: %v", x)
		}
	}
	for _, c := range codes {
		if c != 0 && !allowed(typ, c) {
			t.Fatalf("%v answers %s with code %d", resp, typ, c)
		}
	}
}

func TestFuzzSeeds(t *testing.T) {
	f := newFixture(t)
	for _, m := range fuzzSeeds() {
		resp, _ := f.m.Handle(ctrl1, m, f.now)
		checkAnswer(t, m, resp)
	}
}

// FuzzHandlePaths reaches deeper than FuzzHandle: the fuzzer writes the
// path, parameter and value of each kind of request, which then goes
// through the same checks.
func FuzzHandlePaths(f *testing.F) {
	for _, s := range []string{"Device.DeviceInfo.", "Device.DeviceInfo.FirmwareImage.*.Status",
		`Device.LocalAgent.Controller.[EndpointID=="proto::ctrl-2"].`, "Device.DeviceInfo.ActiveFirmwareImage+.Name",
		"Device.DeviceInfo.FirmwareImage.2.Download()", "Device.LocalAgent.Subscription.", "Device.LocalAgent.Request.1.Cancel()",
		"Device.LocalAgent.Controller.*.BootParameter."} {
		f.Add(s, "Enable", "true", uint8(0))
	}
	f.Fuzz(func(t *testing.T, p, param, value string, kind uint8) {
		fx := newFixture(t)
		fx.subscribe(ctrl1, "all", "ValueChange", "Device.", true)
		fx.subscribe(ctrl2, "del", "ObjectDeletion", p, false)
		download(fx, ctrl1, "Device.DeviceInfo.FirmwareImage.2.Download()", "k", map[string]string{"URL": "u"})
		var req *pb.Msg
		switch kind % 8 {
		case 0:
			req = usp.NewRequest("f", &pb.Get{ParamPaths: []string{p}, MaxDepth: uint32(len(value) % 4)})
		case 1:
			req = usp.NewRequest("f", &pb.GetInstances{ObjPaths: []string{p}, FirstLevelOnly: len(value)%2 == 0})
		case 2:
			req = usp.NewRequest("f", &pb.GetSupportedDM{ObjPaths: []string{p}, FirstLevelOnly: len(value)%2 == 0, ReturnParams: true, ReturnCommands: true, ReturnEvents: true, ReturnUniqueKeySets: true})
		case 3, 4:
			req = usp.NewRequest("f", setMsg(kind%8 == 3, upd(p, ps(param, value, len(param)%2 == 0))))
		case 5:
			req = usp.NewRequest("f", addMsg(len(value)%2 == 0, cobj(p, cps(param, value, len(param)%2 == 0))))
		case 6:
			req = usp.NewRequest("f", &pb.Delete{AllowPartial: len(value)%2 == 0, ObjPaths: []string{p}})
		case 7:
			req = usp.NewRequest("f", &pb.Operate{Command: p, SendResp: len(value)%2 == 0, InputArgs: map[string]string{param: value}})
		}
		resp, effects := fx.m.Handle(ctrl1, req, fx.now)
		checkAnswer(t, req, resp)
		for _, j := range effects.Jobs {
			fx.m.Complete(j.ID, nil, nil, fx.now)
		}
		fx.m.SetValue(p, value, fx.now)
		fx.m.Changed(p, fx.now)
		fx.m.Event(p, nil, fx.now)
		fx.m.AddRow(p, 0, map[string]string{param: value}, fx.now)
		fx.m.DeleteRow(p, fx.now)
		fx.m.Instances(p, fx.now)
		fx.m.Tick(fx.now.Add(time.Hour))
		if err := NewModel(fx.m.s, Config{}).Restore(fx.m.Snapshot(), fx.now); err != nil {
			t.Fatal(err)
		}
	})
}
