package dm

import (
	"slices"
	"testing"

	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

func gsdm(t *testing.T, f *fixture, req *pb.GetSupportedDM) []*pb.GetSupportedDMResp_RequestedObjectResult {
	t.Helper()
	resp, _ := do(f, ctrl1, req)
	r := resp.GetBody().GetResponse().GetGetSupportedDmResp()
	if r == nil {
		t.Fatalf("not a GetSupportedDMResp: %v", resp)
	}
	return r.GetReqObjResults()
}

func objPaths(objs []*pb.GetSupportedDMResp_SupportedObjectResult) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.GetSupportedObjPath())
	}
	return out
}

func TestGSDM_FirstLevelOnly(t *testing.T) {
	f := newFixture(t)
	res := gsdm(t, f, &pb.GetSupportedDM{ObjPaths: []string{"Device.LocalAgent."}, FirstLevelOnly: true,
		ReturnParams: true, ReturnCommands: true, ReturnEvents: true, ReturnUniqueKeySets: true})[0]
	if res.GetDataModelInstUri() != "urn:broadband-forum-org:tr-181-2-19-0" {
		t.Errorf("uri %q", res.GetDataModelInstUri())
	}
	want := []string{"Device.LocalAgent.", "Device.LocalAgent.Controller.{i}.", "Device.LocalAgent.Subscription.{i}.", "Device.LocalAgent.Request.{i}."}
	if got := objPaths(res.GetSupportedObjs()); !slices.Equal(got, want) {
		t.Fatalf("objects %v, want %v", got, want)
	}
	la, ctl := res.GetSupportedObjs()[0], res.GetSupportedObjs()[1]
	if len(la.GetSupportedParams()) != 4 || len(la.GetSupportedEvents()) != 1 || la.GetIsMultiInstance() {
		t.Errorf("LocalAgent. %v", la)
	}
	if len(ctl.GetSupportedParams()) != 0 || !ctl.GetIsMultiInstance() || ctl.GetAccess() != pb.GetSupportedDMResp_OBJ_ADD_DELETE || len(ctl.GetUniqueKeySets()) != 2 {
		t.Errorf("child without details but with keys: %v", ctl)
	}
}

func TestGSDM_FullTreeDetails(t *testing.T) {
	f := newFixture(t)
	res := gsdm(t, f, &pb.GetSupportedDM{ObjPaths: []string{"Device.DeviceInfo.FirmwareImage.{i}."},
		ReturnParams: true, ReturnCommands: true})[0]
	if res.GetErrCode() != 0 || len(res.GetSupportedObjs()) != 1 {
		t.Fatalf("%v", res)
	}
	fw := res.GetSupportedObjs()[0]
	if fw.GetAccess() != pb.GetSupportedDMResp_OBJ_READ_ONLY || len(fw.GetUniqueKeySets()) != 0 || len(fw.GetSupportedEvents()) != 0 {
		t.Errorf("%v", fw)
	}
	params := map[string]*pb.GetSupportedDMResp_SupportedParamResult{}
	for _, p := range fw.GetSupportedParams() {
		params[p.GetParamName()] = p
	}
	if p := params["Alias"]; p.GetAccess() != pb.GetSupportedDMResp_PARAM_READ_WRITE || p.GetValueType() != pb.GetSupportedDMResp_PARAM_STRING {
		t.Errorf("writeOnceReadOnly Alias: %v", p)
	}
	if p := params["Available"]; p.GetValueType() != pb.GetSupportedDMResp_PARAM_BOOLEAN || p.GetValueChange() != pb.GetSupportedDMResp_VALUE_CHANGE_ALLOWED {
		t.Errorf("Available: %v", p)
	}
	cmds := fw.GetSupportedCommands()
	if len(cmds) != 2 || cmds[1].GetCommandName() != "Activate()" || cmds[1].GetCommandType() != pb.GetSupportedDMResp_CMD_ASYNC ||
		!slices.Contains(cmds[1].GetInputArgNames(), "TimeWindow.{i}.Mode") {
		t.Errorf("commands %v", cmds)
	}
}

func TestGSDM_PathForms(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		path string
		code usp.Code
		objs []string
	}{
		{"Device.DeviceInfo.FirmwareImage.", 0, []string{"Device.DeviceInfo.FirmwareImage.{i}."}},
		{"Device.DeviceInfo.FirmwareImage.2.", 0, []string{"Device.DeviceInfo.FirmwareImage.{i}."}},
		{"Device.DeviceInfo.FirmwareImage.7.", usp.ObjectDoesNotExist, nil},
		{"Device.DeviceInfo.FirmwareImage.{i}.Download()", 0, []string{"Device.DeviceInfo.FirmwareImage.{i}."}},
		{"Device.Boot!", 0, []string{"Device."}},
		{"Device.DeviceInfo.UpTime", 0, []string{"Device.DeviceInfo."}},
		{"Device.DeviceInfo.Nope", usp.InvalidPath, nil},
		{"Device.Nope.", usp.InvalidPath, nil},
		{"Device..", usp.InvalidPathSyntax, nil},
	} {
		res := gsdm(t, f, &pb.GetSupportedDM{ObjPaths: []string{tc.path}, FirstLevelOnly: true})[0]
		if usp.Code(res.GetErrCode()) != tc.code || !slices.Equal(objPaths(res.GetSupportedObjs()), tc.objs) {
			t.Errorf("%s: %v", tc.path, res)
		}
	}
	// A single element is reported whatever the return flags.
	res := gsdm(t, f, &pb.GetSupportedDM{ObjPaths: []string{"Device.DeviceInfo.UpTime"}})[0]
	if p := res.GetSupportedObjs()[0].GetSupportedParams(); len(p) != 1 || p[0].GetValueChange() != pb.GetSupportedDMResp_VALUE_CHANGE_WILL_IGNORE ||
		p[0].GetValueType() != pb.GetSupportedDMResp_PARAM_UNSIGNED_INT {
		t.Errorf("UpTime: %v", p)
	}
}

func TestSchema_BuildErrors(t *testing.T) {
	b := NewBuilder(Options{})
	b.Object("Device.X.{i}.").Keys("Nope")
	b.Object("Device.Y.").Keys("A")
	b.Object("Other.")
	b.Object("Device.Z.").String("A").Default("x").Enum("y")
	b.Object("Device.Z.").Int("N").Default("abc")
	b.Object("Device.Z.").String("R").RefTo("Device.Z.")
	b.Object("Device.Z.").Command("Bad")
	b.Object("Device.Z.").Event("Bad")
	b.Subscriptions("Device.Y.Sub.{i}.")
	b.UseSubscriptions("Device.X.{i}.", DefaultSubscriptionNames())
	if _, err := b.Build(); err == nil {
		t.Fatal("Build accepted a broken schema")
	} else {
		t.Log(err)
	}
}

func TestSchema_Lookup(t *testing.T) {
	s := testSchema(t)
	if o := s.Object("Device.DeviceInfo.FirmwareImage."); o == nil || !o.IsTable() || o.Path() != "Device.DeviceInfo.FirmwareImage.{i}." {
		t.Errorf("%v", o)
	}
	if p := s.Param("Device.DeviceInfo.FirmwareImage.{i}.Status"); p == nil || p.DefaultValue() != "NoImage" {
		t.Errorf("%v", p)
	}
	if s.Param("Device.DeviceInfo.Nope") != nil || s.Object("Device.Nope.") != nil {
		t.Error("found what does not exist")
	}
}
