package dm

import (
	"fmt"
	"slices"
	"testing"

	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

func addMsg(partial bool, objs ...*pb.Add_CreateObject) *pb.Add {
	return &pb.Add{AllowPartial: partial, CreateObjs: objs}
}

func cobj(path string, settings ...*pb.Add_CreateParamSetting) *pb.Add_CreateObject {
	return &pb.Add_CreateObject{ObjPath: path, ParamSettings: settings}
}

func cps(param, value string, required bool) *pb.Add_CreateParamSetting {
	return &pb.Add_CreateParamSetting{Param: param, Value: value, Required: required}
}

func addResults(t *testing.T, m *pb.Msg) []*pb.AddResp_CreatedObjectResult {
	t.Helper()
	r := m.GetBody().GetResponse().GetAddResp()
	if r == nil {
		t.Fatalf("not an AddResp: %v", m)
	}
	return r.GetCreatedObjResults()
}

func TestAdd_RADD5_InstantiatedPathAndAllUniqueKeys(t *testing.T) {
	f := newFixture(t)
	resp, _ := do(f, ctrl1, addMsg(false, cobj("Device.LocalAgent.Controller.", cps("EndpointID", "proto::ctrl-3", true))))
	ok := addResults(t, resp)[0].GetOperStatus().GetOperSuccess()
	if ok.GetInstantiatedPath() != "Device.LocalAgent.Controller.3." {
		t.Errorf("instantiated_path %q", ok.GetInstantiatedPath())
	}
	if k := ok.GetUniqueKeys(); len(k) != 2 || k["Alias"] != "cpe-3" || k["EndpointID"] != "proto::ctrl-3" {
		t.Errorf("unique_keys %v", k)
	}
}

func TestAdd_InstanceNumbersNeverReused(t *testing.T) {
	f := newFixture(t)
	add := func() string {
		resp, _ := do(f, ctrl1, addMsg(false, cobj("Device.LocalAgent.Controller.1.BootParameter.")))
		return addResults(t, resp)[0].GetOperStatus().GetOperSuccess().GetInstantiatedPath()
	}
	if p := add(); p != "Device.LocalAgent.Controller.1.BootParameter.1." {
		t.Fatalf("first %q", p)
	}
	do(f, ctrl1, &pb.Delete{ObjPaths: []string{"Device.LocalAgent.Controller.1.BootParameter.1."}})
	// The second row's ParameterName key is empty like the first's was;
	// the first is gone, so no clash.
	if p := add(); p != "Device.LocalAgent.Controller.1.BootParameter.2." {
		t.Errorf("after delete %q, want number 2", p)
	}
	// Another Controller's BootParameter table counts on its own.
	resp, _ := do(f, ctrl1, addMsg(false, cobj("Device.LocalAgent.Controller.2.BootParameter.")))
	if p := addResults(t, resp)[0].GetOperStatus().GetOperSuccess().GetInstantiatedPath(); p != "Device.LocalAgent.Controller.2.BootParameter.1." {
		t.Errorf("nested table of another row: %q", p)
	}
}

func TestAdd_Errors(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		path string
		code usp.Code
	}{
		{"Device.DeviceInfo.FirmwareImage.", usp.ObjectNotCreatable}, // read-only table
		{"Device.LocalAgent.Request.", usp.ObjectNotCreatable},
		{"Device.DeviceInfo.", usp.ObjectNotATable},
		{"Device.LocalAgent.Controller.1.", usp.ObjectNotATable},
		{"Device.LocalAgent.Nope.", usp.InvalidPath},
		{"Device.LocalAgent.Controller.9.BootParameter.", usp.ObjectDoesNotExist},
		{"Device.LocalAgent.Controller.[", usp.InvalidPathSyntax},
	} {
		resp, _ := do(f, ctrl1, addMsg(false, cobj(tc.path)))
		if errCode(resp) != tc.code {
			t.Errorf("%s allow_partial=false: %v, want Error %d", tc.path, resp, tc.code)
		}
		resp, _ = do(f, ctrl1, addMsg(true, cobj(tc.path)))
		if c := addResults(t, resp)[0].GetOperStatus().GetOperFailure().GetErrCode(); usp.Code(c) != tc.code {
			t.Errorf("%s allow_partial=true: oper_failure %d, want %d", tc.path, c, tc.code)
		}
	}
}

func TestAdd_DuplicateKey7025(t *testing.T) {
	f := newFixture(t)
	resp, _ := do(f, ctrl1, addMsg(true,
		cobj("Device.LocalAgent.Controller.", cps("EndpointID", ctrl1.EndpointID, false)),
		cobj("Device.LocalAgent.Controller.", cps("EndpointID", "proto::new", false))))
	res := addResults(t, resp)
	if c := res[0].GetOperStatus().GetOperFailure().GetErrCode(); usp.Code(c) != usp.DuplicateKey {
		t.Errorf("duplicate EndpointID: %v", res[0])
	}
	if res[1].GetOperStatus().GetOperSuccess() == nil {
		t.Errorf("second object: %v", res[1])
	}
	// The same with allow_partial=false: Error, nothing created.
	resp, fx := do(f, ctrl1, addMsg(false,
		cobj("Device.LocalAgent.Controller.", cps("EndpointID", "proto::other", false)),
		cobj("Device.LocalAgent.Controller.", cps("Alias", "cpe-1", false))))
	if errCode(resp) != usp.DuplicateKey {
		t.Fatalf("%v", resp)
	}
	if n := f.value("Device.LocalAgent.ControllerNumberOfEntries"); n != "3" || len(fx.Notify) != 0 {
		t.Errorf("rows %s, notifies %d after Error", n, len(fx.Notify))
	}
}

func TestAdd_RequiredAndKeyParamsAreRequired(t *testing.T) {
	f := newFixture(t)
	// A unique key (Alias) that fails counts as required even if not flagged.
	resp, _ := do(f, ctrl1, addMsg(true, cobj("Device.LocalAgent.Controller.", cps("Alias", "9bad", false), cps("EndpointID", "e", false))))
	fl := addResults(t, resp)[0].GetOperStatus().GetOperFailure()
	if fl == nil || usp.Code(fl.GetErrCode()) != usp.RequiredParameterFailed {
		t.Fatalf("bad Alias: %v", resp)
	}
	// A failed optional setting: object created, param_errs reported.
	resp, _ = do(f, ctrl1, addMsg(false, cobj("Device.LocalAgent.Controller.", cps("EndpointID", "e", true), cps("USPNotifRetryIntervalMultiplier", "5", false))))
	ok := addResults(t, resp)[0].GetOperStatus().GetOperSuccess()
	if ok == nil || len(ok.GetParamErrs()) != 1 || ok.GetParamErrs()[0].GetParam() != "USPNotifRetryIntervalMultiplier" ||
		usp.Code(ok.GetParamErrs()[0].GetErrCode()) != usp.InvalidValue {
		t.Fatalf("optional failure: %v", resp)
	}
	// A failed required setting with allow_partial=false: Error 7021 with param_errs.
	resp, _ = do(f, ctrl1, addMsg(false, cobj("Device.LocalAgent.Controller.", cps("EndpointID", "f", true), cps("Enable", "yes", true))))
	e := resp.GetBody().GetError()
	if e == nil || usp.Code(e.GetErrCode()) != usp.RequiredParameterFailed || len(e.GetParamErrs()) != 1 ||
		e.GetParamErrs()[0].GetParamPath() != "Device.LocalAgent.Controller.Enable" {
		t.Fatalf("required failure: %v", resp)
	}
	// Read-only parameters cannot be given at creation.
	resp, _ = do(f, ctrl1, addMsg(true, cobj("Device.LocalAgent.Subscription.", cps("CreationDate", "2020-01-01T00:00:00Z", false))))
	ok = addResults(t, resp)[0].GetOperStatus().GetOperSuccess()
	if ok == nil || usp.Code(ok.GetParamErrs()[0].GetErrCode()) != usp.ParameterNotWritable {
		t.Fatalf("read-only at Add: %v", resp)
	}
}

func TestAdd_SubscriptionFilledByAgent(t *testing.T) {
	f := newFixture(t)
	p := f.subscribe(ctrl2, "boot-1", "Event", "Device.Boot!", true)
	if got := f.value(p + "Recipient"); got != "Device.LocalAgent.Controller.2" {
		t.Errorf("Recipient %q", got)
	}
	if got := f.value(p + "CreationDate"); got != "2025-06-09T12:00:00Z" {
		t.Errorf("CreationDate %q", got)
	}
	// The same ID for another Controller is a different key (Recipient, ID).
	f.subscribe(ctrl1, "boot-1", "Event", "Device.Boot!", true)
	resp, _ := do(f, ctrl2, addMsg(true, cobj("Device.LocalAgent.Subscription.", cps("ID", "boot-1", true))))
	if c := addResults(t, resp)[0].GetOperStatus().GetOperFailure().GetErrCode(); usp.Code(c) != usp.DuplicateKey {
		t.Errorf("same Recipient+ID: %v", resp)
	}
	// Invalid ReferenceList items are refused.
	resp, _ = do(f, ctrl2, addMsg(true, cobj("Device.LocalAgent.Subscription.", cps("ReferenceList", "Device..X", false))))
	if ok := addResults(t, resp)[0].GetOperStatus().GetOperSuccess(); ok == nil || usp.Code(ok.GetParamErrs()[0].GetErrCode()) != usp.InvalidValue {
		t.Errorf("bad ReferenceList: %v", resp)
	}
}

func TestAdd_SearchParentCreatesOnePerMatch(t *testing.T) {
	f := newFixture(t)
	resp, _ := do(f, ctrl1, addMsg(false, cobj("Device.LocalAgent.Controller.*.BootParameter.", cps("Enable", "true", true))))
	res := addResults(t, resp)
	if len(res) != 2 || res[0].GetRequestedPath() != res[1].GetRequestedPath() ||
		res[1].GetOperStatus().GetOperSuccess().GetInstantiatedPath() != "Device.LocalAgent.Controller.2.BootParameter.1." {
		t.Errorf("%v", res)
	}
	// No match: success without instance.
	resp, _ = do(f, ctrl1, addMsg(false, cobj("Device.LocalAgent.Controller.[Enable==false].BootParameter.")))
	if ok := addResults(t, resp)[0].GetOperStatus().GetOperSuccess(); ok == nil || ok.GetInstantiatedPath() != "" {
		t.Errorf("%v", resp)
	}
}

func TestAdd_TableFull7005(t *testing.T) {
	f := newFixture(t)
	f.mustAdd("Device.DeviceInfo.FirmwareImage.", nil)
	f.mustAdd("Device.DeviceInfo.FirmwareImage.", nil)
	if _, _, err := f.m.AddRow("Device.DeviceInfo.FirmwareImage.", 0, nil, f.now); !errorIs(err, usp.ResourcesExceeded) {
		t.Errorf("fifth image: %v", err)
	}
}

func TestAdd_ObjectCreationAfterResponse(t *testing.T) {
	f := newFixture(t)
	f.subscribe(ctrl1, "oc", "ObjectCreation", "Device.LocalAgent.Controller.", false)
	resp, fx := do(f, ctrl2, addMsg(false, cobj("Device.LocalAgent.Controller.", cps("EndpointID", "x", false))))
	if addResults(t, resp)[0].GetOperStatus().GetOperSuccess() == nil || len(fx.Notify) != 1 {
		t.Fatalf("resp %v, %d notifies", resp, len(fx.Notify))
	}
	oc := fx.Notify[0].Msg.GetBody().GetRequest().GetNotify().GetObjCreation()
	if oc.GetObjPath() != "Device.LocalAgent.Controller.3." || oc.GetUniqueKeys()["EndpointID"] != "x" || fx.Notify[0].To != ctrl1.EndpointID {
		t.Errorf("notify %v to %s", oc, fx.Notify[0].To)
	}
}

func TestAdd_OnRowsHookToldAfterOutcome(t *testing.T) {
	b := NewBuilder(Options{})
	var log []string
	tb := b.Object("Device.T.{i}.").Access(AddDelete).Keys("Name").OnRows(func(c Ctx, added bool) {
		name, _ := c.Get("Name")
		log = append(log, fmt.Sprint(added, " ", c.Path(), " ", name))
	})
	tb.String("Name").Writable()
	s, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	m := NewModel(s, Config{})
	// A message that fails as a whole tells nothing.
	m.Handle(ctrl1, usp.NewRequest("1", addMsg(false, cobj("Device.T.", cps("Name", "a", true)), cobj("Device.T.", cps("Name", "a", true)))), t0)
	m.Handle(ctrl1, usp.NewRequest("2", addMsg(false, cobj("Device.T.", cps("Name", "b", true)))), t0)
	m.Handle(ctrl1, usp.NewRequest("3", &pb.Delete{ObjPaths: []string{"Device.T.*."}}), t0)
	m.AddRow("Device.T.", 0, nil, t0) // the device's own rows are not reported
	if want := []string{"true Device.T.3. b", "false Device.T.3. b"}; !slices.Equal(log, want) {
		t.Errorf("hook calls %q, want %q", log, want)
	}
}
