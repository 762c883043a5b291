package dm

import (
	"testing"

	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

func setMsg(partial bool, objs ...*pb.Set_UpdateObject) *pb.Set {
	return &pb.Set{AllowPartial: partial, UpdateObjs: objs}
}

func upd(path string, settings ...*pb.Set_UpdateParamSetting) *pb.Set_UpdateObject {
	return &pb.Set_UpdateObject{ObjPath: path, ParamSettings: settings}
}

func ps(param, value string, required bool) *pb.Set_UpdateParamSetting {
	return &pb.Set_UpdateParamSetting{Param: param, Value: value, Required: required}
}

func setResp(t *testing.T, m *pb.Msg) *pb.SetResp {
	t.Helper()
	r := m.GetBody().GetResponse().GetSetResp()
	if r == nil {
		t.Fatalf("not a SetResp: %v", m)
	}
	return r
}

func TestSet_UpdatedParamsIncludeUnchanged(t *testing.T) {
	f := newFixture(t)
	f.mustSet("Device.DeviceInfo.FriendlyName", "box")
	resp, _ := do(f, ctrl1, setMsg(false, upd("Device.DeviceInfo.", ps("FriendlyName", "box", true), ps("Temperature", "+042", false))))
	ok := setResp(t, resp).GetUpdatedObjResults()[0].GetOperStatus().GetOperSuccess()
	res := ok.GetUpdatedInstResults()[0]
	if res.GetAffectedPath() != "Device.DeviceInfo." || res.GetUpdatedParams()["FriendlyName"] != "box" || res.GetUpdatedParams()["Temperature"] != "42" {
		t.Fatalf("got %v", res)
	}
	if f.value("Device.DeviceInfo.Temperature") != "42" {
		t.Error("Temperature not stored canonically")
	}
}

func TestSet_ParamErrorCodes(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		obj, param, value string
		code              usp.Code
	}{
		{"Device.DeviceInfo.", "Bogus", "1", usp.UnsupportedParameter},
		{"Device.DeviceInfo.", "ModelName", "x", usp.ParameterNotWritable},
		{"Device.DeviceInfo.", "SoftwareVersion", "x", usp.ParameterNotWritable}, // bound, read-only
		{"Device.DeviceInfo.", "Temperature", "warm", usp.InvalidType},
		{"Device.DeviceInfo.", "Temperature", "200", usp.InvalidValue},
		{"Device.DeviceInfo.", "FriendlyName", "0123456789012345678901234567890123", usp.InvalidValue},
		{"Device.DeviceInfo.", "BootFirmwareImage", "Device.DeviceInfo.FirmwareImage.2", usp.InvalidValue}, // validator: not Available
		{"Device.DeviceInfo.", "BootFirmwareImage", "Device.DeviceInfo.FirmwareImage.9", usp.InvalidValue}, // no such row
		{"Device.DeviceInfo.", "BootFirmwareImage", "Device.LocalAgent.Controller.1", usp.InvalidValue},    // wrong table
		{"Device.DeviceInfo.FirmwareImage.1.", "Alias", "other", usp.ParameterNotWritable},                 // writeOnceReadOnly, set
		{"Device.DeviceInfo.FirmwareImage.1.", "Status", "Available", usp.ParameterNotWritable},
		{"Device.DeviceInfo.FirmwareImage.1.", "Available", "maybe", usp.InvalidType},
	} {
		resp, _ := do(f, ctrl1, setMsg(true, upd(tc.obj, ps(tc.param, tc.value, false))))
		res := setResp(t, resp).GetUpdatedObjResults()[0].GetOperStatus().GetOperSuccess().GetUpdatedInstResults()
		if len(res) != 1 || len(res[0].GetParamErrs()) != 1 {
			t.Errorf("%s%s=%q: %v", tc.obj, tc.param, tc.value, resp)
			continue
		}
		if pe := res[0].GetParamErrs()[0]; usp.Code(pe.GetErrCode()) != tc.code || pe.GetParam() != tc.param {
			t.Errorf("%s%s=%q: param_err %v, want %d", tc.obj, tc.param, tc.value, pe, tc.code)
		}
		if len(res[0].GetUpdatedParams()) != 0 {
			t.Errorf("%s%s: failed param in updated_params", tc.obj, tc.param)
		}
	}
}

func TestSet_StrongReferenceStoredAsInstancePath(t *testing.T) {
	f := newFixture(t)
	f.mustSet("Device.DeviceInfo.FirmwareImage.2.Available", "true")
	resp, _ := do(f, ctrl1, setMsg(false, upd("Device.DeviceInfo.", ps("BootFirmwareImage", `Device.DeviceInfo.FirmwareImage.[Alias=="cpe-2"].`, true))))
	res := setResp(t, resp).GetUpdatedObjResults()[0].GetOperStatus().GetOperSuccess().GetUpdatedInstResults()[0]
	if got := res.GetUpdatedParams()["BootFirmwareImage"]; got != "Device.DeviceInfo.FirmwareImage.2" {
		t.Errorf("updated %q, want the instance-number form without dot", got)
	}
}

// TR-369 allow_partial/required table, rows 1-6.
func TestSet_AllowPartialTable(t *testing.T) {
	good := ps("FriendlyName", "ok", false)
	badOpt := ps("Temperature", "hot", false)
	goodReq := ps("FriendlyName", "ok", true)
	badReq := ps("Temperature", "hot", true)
	for _, tc := range []struct {
		name     string
		partial  bool
		settings []*pb.Set_UpdateParamSetting
		wantErr  bool // whole-message Error
		failure  bool // oper_failure
		perrs    int
	}{
		{"NoRequired_NoFail", false, []*pb.Set_UpdateParamSetting{good}, false, false, 0},
		{"NoRequired_OtherFails", false, []*pb.Set_UpdateParamSetting{good, badOpt}, false, false, 1},
		{"Required_NoFail", true, []*pb.Set_UpdateParamSetting{goodReq}, false, false, 0},
		{"Required_OtherFails", false, []*pb.Set_UpdateParamSetting{goodReq, badOpt}, false, false, 1},
		{"AllowPartialTrue_RequiredFails", true, []*pb.Set_UpdateParamSetting{good, badReq}, false, true, 1},
		{"AllowPartialFalse_RequiredFails", false, []*pb.Set_UpdateParamSetting{good, badReq}, true, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			resp, _ := do(f, ctrl1, setMsg(tc.partial, upd("Device.DeviceInfo.", tc.settings...)))
			if tc.wantErr {
				e := resp.GetBody().GetError()
				if e == nil || usp.Code(e.GetErrCode()) != usp.RequiredParameterFailed || len(e.GetParamErrs()) != tc.perrs {
					t.Fatalf("want Error 7021 with %d param_errs, got %v", tc.perrs, resp)
				}
				if e.GetParamErrs()[0].GetParamPath() != "Device.DeviceInfo.Temperature" {
					t.Errorf("param_path %q", e.GetParamErrs()[0].GetParamPath())
				}
				if f.value("Device.DeviceInfo.FriendlyName") != "" {
					t.Error("a change survived the Error")
				}
				return
			}
			st := setResp(t, resp).GetUpdatedObjResults()[0].GetOperStatus()
			if tc.failure {
				fl := st.GetOperFailure()
				if fl == nil || usp.Code(fl.GetErrCode()) != usp.RequiredParameterFailed ||
					len(fl.GetUpdatedInstFailures()) != 1 || len(fl.GetUpdatedInstFailures()[0].GetParamErrs()) != tc.perrs {
					t.Fatalf("want oper_failure, got %v", st)
				}
				if f.value("Device.DeviceInfo.FriendlyName") != "" {
					t.Error("a change of the failed object survived")
				}
				return
			}
			res := st.GetOperSuccess().GetUpdatedInstResults()[0]
			if len(res.GetParamErrs()) != tc.perrs || res.GetUpdatedParams()["FriendlyName"] != "ok" {
				t.Fatalf("got %v", res)
			}
		})
	}
}

func TestSet_AllowPartialFalse_RequiredFails_WholeMessageError(t *testing.T) {
	f := newFixture(t)
	resp, fx := do(f, ctrl1, setMsg(false,
		upd("Device.DeviceInfo.", ps("FriendlyName", "first", true)),
		upd("Device.DeviceInfo.FirmwareImage.2.", ps("Available", "nope", true))))
	e := resp.GetBody().GetError()
	if e == nil || usp.Code(e.GetErrCode()) != usp.RequiredParameterFailed {
		t.Fatalf("want Error 7021, got %v", resp)
	}
	if len(e.GetParamErrs()) != 1 || e.GetParamErrs()[0].GetParamPath() != "Device.DeviceInfo.FirmwareImage.2.Available" ||
		usp.Code(e.GetParamErrs()[0].GetErrCode()) != usp.InvalidType {
		t.Errorf("param_errs %v", e.GetParamErrs())
	}
	if f.value("Device.DeviceInfo.FriendlyName") != "" {
		t.Error("the first update_obj was not undone")
	}
	if len(fx.Notify) != 0 {
		t.Error("notifications for an undone Set")
	}
}

func TestSet_RSET2a_SearchPathAtomicPerObjPath(t *testing.T) {
	for _, partial := range []bool{true, false} {
		f := newFixture(t)
		resp, _ := do(f, ctrl1, setMsg(partial,
			upd("Device.DeviceInfo.", ps("FriendlyName", "kept", false)),
			upd("Device.DeviceInfo.FirmwareImage.*.", ps("Available", "false", false), ps("Alias", "x", true))))
		if f.value("Device.DeviceInfo.FirmwareImage.1.Available") != "true" {
			t.Errorf("allow_partial=%v: change of a failed obj_path kept", partial)
		}
		if !partial {
			if errCode(resp) != usp.RequiredParameterFailed {
				t.Fatalf("allow_partial=false: %v", resp)
			}
			continue
		}
		res := setResp(t, resp).GetUpdatedObjResults()
		if res[0].GetOperStatus().GetOperSuccess() == nil || f.value("Device.DeviceInfo.FriendlyName") != "kept" {
			t.Fatalf("first obj_path: %v", res[0])
		}
		fl := res[1].GetOperStatus().GetOperFailure()
		if fl == nil || len(fl.GetUpdatedInstFailures()) != 2 {
			t.Fatalf("second obj_path: %v", res[1])
		}
	}
	// A search matching two rows where one fails: both undone.
	f := newFixture(t)
	resp, _ := do(f, ctrl1, setMsg(true, upd("Device.LocalAgent.Controller.*.",
		ps("USPNotifRetryMinimumWaitInterval", "7", false), ps("EndpointID", "proto::ctrl-2", true))))
	fl := setResp(t, resp).GetUpdatedObjResults()[0].GetOperStatus().GetOperFailure()
	if fl == nil || len(fl.GetUpdatedInstFailures()) != 1 || fl.GetUpdatedInstFailures()[0].GetAffectedPath() != "Device.LocalAgent.Controller.1." {
		t.Fatalf("want oper_failure naming Controller.1., got %v", resp)
	}
	if usp.Code(fl.GetErrCode()) != usp.DuplicateKey {
		t.Errorf("err_code %d, want 7025", fl.GetErrCode())
	}
	if f.value("Device.LocalAgent.Controller.2.USPNotifRetryMinimumWaitInterval") != "5" {
		t.Error("Controller.2 kept its change although the obj_path failed")
	}
}

func TestSet_PathErrors(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		path string
		code usp.Code
	}{
		{"Device.DeviceInfo.FirmwareImage.9.", usp.ObjectDoesNotExist},
		{"Device.Nope.", usp.InvalidPath},
		{"Device.DeviceInfo.FirmwareImage.", usp.ObjectNotUpdated},
		{"Device.DeviceInfo.FriendlyName", usp.InvalidPath},
		{"Device..", usp.InvalidPathSyntax},
	} {
		resp, _ := do(f, ctrl1, setMsg(false, upd(tc.path, ps("Name", "x", false))))
		if errCode(resp) != tc.code {
			t.Errorf("%s allow_partial=false: %v, want Error %d", tc.path, resp, tc.code)
		}
		resp, _ = do(f, ctrl1, setMsg(true, upd(tc.path, ps("Name", "x", false))))
		if c := setResp(t, resp).GetUpdatedObjResults()[0].GetOperStatus().GetOperFailure().GetErrCode(); usp.Code(c) != tc.code {
			t.Errorf("%s allow_partial=true: oper_failure %d, want %d", tc.path, c, tc.code)
		}
	}
	// A search path matching nothing is a success (R-MSG.4a).
	resp, _ := do(f, ctrl1, setMsg(false, upd(`Device.DeviceInfo.FirmwareImage.[Status=="Downloading"].`, ps("Available", "true", true))))
	if ok := setResp(t, resp).GetUpdatedObjResults()[0].GetOperStatus().GetOperSuccess(); ok == nil || len(ok.GetUpdatedInstResults()) != 0 {
		t.Errorf("empty search: %v", resp)
	}
}

func TestSet_WriteOnceReadOnly_EmptyThenLocked(t *testing.T) {
	f := newFixture(t)
	sub := f.subscribe(ctrl1, "s1", "ValueChange", "", false)
	resp, _ := do(f, ctrl1, setMsg(false, upd(sub, ps("ReferenceList", "Device.DeviceInfo.FriendlyName", true))))
	if setResp(t, resp).GetUpdatedObjResults()[0].GetOperStatus().GetOperSuccess() == nil {
		t.Fatalf("first set of an empty ReferenceList refused: %v", resp)
	}
	resp, _ = do(f, ctrl1, setMsg(false, upd(sub, ps("ReferenceList", "Device.DeviceInfo.", true))))
	if e := resp.GetBody().GetError(); e == nil || e.GetParamErrs()[0].GetErrCode() != uint32(usp.ParameterNotWritable) {
		t.Fatalf("second set of ReferenceList: %v", resp)
	}
}

func TestSet_ValidatorSeesCanonicalValue(t *testing.T) {
	f := newFixture(t)
	f.mustSet("Device.DeviceInfo.FirmwareImage.2.Available", "1")
	if v := f.value("Device.DeviceInfo.FirmwareImage.2.Available"); v != "true" {
		t.Fatalf("boolean stored as %q", v)
	}
	resp, _ := do(f, ctrl1, setMsg(false, upd("Device.DeviceInfo.", ps("BootFirmwareImage", "Device.DeviceInfo.FirmwareImage.2.", true))))
	if setResp(t, resp).GetUpdatedObjResults()[0].GetOperStatus().GetOperSuccess() == nil {
		t.Fatalf("%v", resp)
	}
	if v := f.value("Device.DeviceInfo.BootFirmwareImage"); v != "Device.DeviceInfo.FirmwareImage.2" {
		t.Errorf("BootFirmwareImage %q", v)
	}
}

func TestSet_SetterRolledBack(t *testing.T) {
	b := NewBuilder(Options{})
	var log []string
	o := b.Object("Device.X.")
	o.String("A").Writable().Setter(func(c Ctx, v string) error { log = append(log, "A="+v); return nil })
	o.Int("B").Writable()
	s, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	m := NewModel(s, Config{})
	req := setMsg(false, upd("Device.X.", ps("A", "new", true)), upd("Device.X.", ps("B", "x", true)))
	resp, _ := m.Handle(ctrl1, usp.NewRequest("1", req), t0)
	if errCode(resp) != usp.RequiredParameterFailed {
		t.Fatalf("%v", resp)
	}
	if len(log) != 2 || log[0] != "A=new" || log[1] != "A=" {
		t.Errorf("setter calls %v, want the write and its undo", log)
	}
}
