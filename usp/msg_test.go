package usp_test

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

func TestNewRequestResponse_HeaderTypeFollowsBody(t *testing.T) {
	tests := []struct {
		msg  *pb.Msg
		want pb.Header_MsgType
	}{
		{usp.NewRequest("1", &pb.Get{}), pb.Header_GET},
		{usp.NewRequest("1", &pb.GetSupportedDM{}), pb.Header_GET_SUPPORTED_DM},
		{usp.NewRequest("1", &pb.GetInstances{}), pb.Header_GET_INSTANCES},
		{usp.NewRequest("1", &pb.Set{}), pb.Header_SET},
		{usp.NewRequest("1", &pb.Add{}), pb.Header_ADD},
		{usp.NewRequest("1", &pb.Delete{}), pb.Header_DELETE},
		{usp.NewRequest("1", &pb.Operate{}), pb.Header_OPERATE},
		{usp.NewRequest("1", &pb.Notify{}), pb.Header_NOTIFY},
		{usp.NewRequest("1", &pb.GetSupportedProtocol{}), pb.Header_GET_SUPPORTED_PROTO},
		{usp.NewRequest("1", &pb.Register{}), pb.Header_REGISTER},
		{usp.NewRequest("1", &pb.Deregister{}), pb.Header_DEREGISTER},
		{usp.NewResponse("1", &pb.GetResp{}), pb.Header_GET_RESP},
		{usp.NewResponse("1", &pb.GetSupportedDMResp{}), pb.Header_GET_SUPPORTED_DM_RESP},
		{usp.NewResponse("1", &pb.GetInstancesResp{}), pb.Header_GET_INSTANCES_RESP},
		{usp.NewResponse("1", &pb.SetResp{}), pb.Header_SET_RESP},
		{usp.NewResponse("1", &pb.AddResp{}), pb.Header_ADD_RESP},
		{usp.NewResponse("1", &pb.DeleteResp{}), pb.Header_DELETE_RESP},
		{usp.NewResponse("1", &pb.OperateResp{}), pb.Header_OPERATE_RESP},
		{usp.NewResponse("1", &pb.NotifyResp{}), pb.Header_NOTIFY_RESP},
		{usp.NewResponse("1", &pb.GetSupportedProtocolResp{}), pb.Header_GET_SUPPORTED_PROTO_RESP},
		{usp.NewResponse("1", &pb.RegisterResp{}), pb.Header_REGISTER_RESP},
		{usp.NewResponse("1", &pb.DeregisterResp{}), pb.Header_DEREGISTER_RESP},
		{usp.ErrorMsg("1", usp.InvalidPath, nil), pb.Header_ERROR},
	}
	for _, tt := range tests {
		if got := tt.msg.GetHeader().GetMsgType(); got != tt.want || usp.TypeOf(tt.msg) != tt.want {
			t.Errorf("header %v / body %v, want %v", got, usp.TypeOf(tt.msg), tt.want)
		}
		if err := usp.Validate(tt.msg); err != nil {
			t.Errorf("%v: %v", tt.want, err)
		}
	}
}

// TR-369: the body wins over a disagreeing header.
func TestTypeOf_BodyWinsOverHeader(t *testing.T) {
	m := usp.NewRequest("1", &pb.Get{})
	m.Header.MsgType = pb.Header_SET
	if usp.TypeOf(m) != pb.Header_GET {
		t.Fatal("TypeOf followed the header")
	}
}

func TestAnswers_RMSG9(t *testing.T) {
	get := usp.NewRequest("a", &pb.Get{})
	tests := []struct {
		name string
		resp *pb.Msg
		want bool
	}{
		{"matching response", usp.NewResponse("a", &pb.GetResp{}), true},
		{"error answers anything", usp.ErrorMsg("a", usp.InvalidPathSyntax, nil), true},
		{"other msg_id", usp.NewResponse("b", &pb.GetResp{}), false},
		{"wrong response type", usp.NewResponse("a", &pb.SetResp{}), false},
	}
	for _, tt := range tests {
		if got := usp.Answers(get, tt.resp); got != tt.want {
			t.Errorf("%s: Answers = %v", tt.name, got)
		}
	}
	notify := usp.NewRequest("n", usp.Event("s", true, "Device.", "Boot!", nil))
	if !usp.Answers(notify, usp.NewResponse("n", &pb.NotifyResp{SubscriptionId: "s"})) {
		t.Error("NotifyResp does not answer Notify")
	}
	if _, ok := usp.ResponseTo(pb.Header_GET_RESP); ok {
		t.Error("a response has a response type")
	}
}

func TestReason_OneBoundary(t *testing.T) {
	var logged []string
	logf := func(format string, args ...any) { logged = append(logged, fmt.Sprintf(format, args...)) }
	tests := []struct {
		name     string
		err      error
		code     usp.Code
		text     string // substring of what the peer reads
		leaked   string // must not appear in what the peer reads
		wantLogs int
	}{
		{"bare code", usp.InvalidPath, usp.InvalidPath, "Invalid path", "", 0},
		{"wrapped code", fmt.Errorf("path %q: bad bracket: %w", "Device.[", usp.InvalidPathSyntax), usp.InvalidPathSyntax, `path "Device.["`, "", 0},
		{"Error value", usp.Errorf(usp.InvalidValue, "row %d is not Available", 3), usp.InvalidValue, "row 3 is not Available", "", 0},
		{"Error wrapping a cause", usp.Errorf(usp.CommandFailure, "download: %w", io.ErrUnexpectedEOF), usp.CommandFailure, "download: unexpected EOF", "", 0},
		{"unknown error becomes 7003 and is logged", errors.New("flash: sector 12 at 0x3000: power lost"), usp.InternalError, "Internal error", "sector 12", 1},
		{"unknown code is not trusted", fmt.Errorf("odd: %w", usp.Code(1234)), usp.InternalError, "Internal error", "odd", 1},
		{"vendor code passes", fmt.Errorf("quota: %w", usp.Code(7801)), usp.Code(7801), "quota", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logged = nil
			code, text := usp.Reason(tt.err, logf)
			if code != tt.code || !strings.Contains(text, tt.text) {
				t.Fatalf("Reason = %d %q, want %d containing %q", code, text, tt.code, tt.text)
			}
			if tt.leaked != "" && strings.Contains(text, tt.leaked) {
				t.Fatalf("internal detail %q leaked to the peer: %q", tt.leaked, text)
			}
			if len(logged) != tt.wantLogs {
				t.Fatalf("logged %q, want %d lines", logged, tt.wantLogs)
			}
			m := usp.ErrorMsg("x", tt.err, nil)
			if m.GetBody().GetError().GetErrCode() != uint32(tt.code) || m.GetBody().GetError().GetErrMsg() != text {
				t.Fatalf("ErrorMsg %v disagrees with Reason", m)
			}
		})
	}
}

func TestErrorMsg_ParamErrs(t *testing.T) {
	err := &usp.Error{Code: usp.InvalidArguments, Msg: "Set refused", Params: []usp.ParamError{
		{Path: "Device.DeviceInfo.BootFirmwareImage", Code: usp.InvalidValue, Msg: "row 3 is not Available"}}}
	e := usp.ErrorMsg("set-2", err, nil).GetBody().GetError()
	if len(e.GetParamErrs()) != 1 || e.GetParamErrs()[0].GetErrCode() != uint32(usp.InvalidValue) ||
		e.GetParamErrs()[0].GetParamPath() != "Device.DeviceInfo.BootFirmwareImage" {
		t.Fatalf("param_errs %v", e.GetParamErrs())
	}
}

func TestCodes_EveryTableCodeIsNamed(t *testing.T) {
	for c := usp.Code(7000); c <= 7031; c++ {
		if !c.Known() || strings.HasPrefix(c.Text(), "Unknown") {
			t.Errorf("%d has no name", c)
		}
	}
	for c := usp.Code(7100); c <= 7106; c++ {
		if !c.Known() || strings.HasPrefix(c.Text(), "Unknown") {
			t.Errorf("%d has no name", c)
		}
	}
	for _, c := range []usp.Code{7032, 7107, 7199, 7300, 7799, 8000, 0} {
		if c.Known() {
			t.Errorf("%d is not a TR-369 code", c)
		}
	}
	if usp.CommandCanceled.Error() != "7023 Command canceled" {
		t.Errorf("Error() = %q", usp.CommandCanceled.Error())
	}
}

func TestOperateAndNotifyBuilders(t *testing.T) {
	out := usp.OperOutput("Device.Reboot()", nil)
	if out.GetReqOutputArgs() == nil {
		t.Fatal("sync success without req_output_args (TP-469 1.61)")
	}
	if r := usp.OperRequested("Device.DeviceInfo.FirmwareImage.2.Download()", "Device.LocalAgent.Request.1."); r.GetReqObjPath() == "" {
		t.Fatal("async result without req_obj_path")
	}
	if f := usp.OperFailure("X()", fmt.Errorf("no URL: %w", usp.InvalidCommandArguments), nil); f.GetCmdFailure().GetErrCode() != 7027 {
		t.Fatalf("failure %v", f)
	}
	oc := usp.OperComplete("s", false, "Device.DeviceInfo.FirmwareImage.2.", "Download()", "k", nil, nil, nil)
	if oc.GetOperComplete().GetReqOutputArgs() == nil {
		t.Fatal("OperationComplete success without output args")
	}
	ocf := usp.OperComplete("s", false, "Device.DeviceInfo.FirmwareImage.2.", "Activate()", "k", nil, usp.CommandCanceled, nil)
	if ocf.GetOperComplete().GetCmdFailure().GetErrCode() != 7023 {
		t.Fatalf("cancel %v", ocf)
	}
	ob := usp.OnBoardRequest("012345", "SIM", "000001")
	if !ob.GetSendResp() || ob.GetSubscriptionId() != "" || ob.GetOnBoardReq().GetAgentSupportedProtocolVersions() != usp.SupportedVersions {
		t.Fatalf("OnBoardRequest %v (R-NOT.7)", ob)
	}
	for _, n := range []*pb.Notify{
		usp.ValueChange("v", false, "Device.DeviceInfo.SoftwareVersion", "2.5.0"),
		usp.ObjCreation("c", false, "Device.LocalAgent.Subscription.3.", map[string]string{"Alias": "cpe-3"}),
		usp.ObjDeletion("d", false, "Device.LocalAgent.Subscription.3."),
	} {
		if err := usp.Validate(usp.NewRequest("n", n)); err != nil || n.GetNotification() == nil {
			t.Fatalf("%v: %v", n, err)
		}
	}
}

func TestTypeName(t *testing.T) {
	for typ, want := range map[pb.Header_MsgType]string{pb.Header_GET_RESP: "GetResp", pb.Header_GET_SUPPORTED_DM: "GetSupportedDM",
		pb.Header_GET_SUPPORTED_PROTO: "GetSupportedProtocol", pb.Header_NOTIFY_RESP: "NotifyResp", pb.Header_OPERATE: "Operate",
		pb.Header_GET_INSTANCES_RESP: "GetInstancesResp", pb.Header_ERROR: "Error"} {
		if got := usp.TypeName(typ); got != want {
			t.Errorf("TypeName(%v) = %q, want %q", typ, got, want)
		}
	}
}
