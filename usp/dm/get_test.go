package dm

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/prototext"

	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

func TestGet_RGET2_ResolvedPathIsParent(t *testing.T) {
	f := newFixture(t)
	resp, _ := do(f, ctrl1, &pb.Get{ParamPaths: []string{"Device.DeviceInfo.SoftwareVersion"}})
	rr := getResp(t, resp).GetReqPathResults()[0]
	if rr.GetErrCode() != 0 || len(rr.GetResolvedPathResults()) != 1 {
		t.Fatalf("got %v", rr)
	}
	res := rr.GetResolvedPathResults()[0]
	if res.GetResolvedPath() != "Device.DeviceInfo." {
		t.Errorf("resolved_path = %q, want the parent object", res.GetResolvedPath())
	}
	// R-GET.3: only the parameter asked for, by its relative name.
	if len(res.GetResultParams()) != 1 || res.GetResultParams()["SoftwareVersion"] != "1.0.0" {
		t.Errorf("result_params = %v", res.GetResultParams())
	}
}

func TestGet_WildcardParam_OneResultPerInstance(t *testing.T) {
	f := newFixture(t)
	resp, _ := do(f, ctrl1, &pb.Get{ParamPaths: []string{"Device.DeviceInfo.FirmwareImage.*.Status"}})
	res := getResp(t, resp).GetReqPathResults()[0].GetResolvedPathResults()
	var got []string
	for _, r := range res {
		got = append(got, r.GetResolvedPath()+"="+r.GetResultParams()["Status"])
	}
	want := []string{"Device.DeviceInfo.FirmwareImage.1.=Active", "Device.DeviceInfo.FirmwareImage.2.=NoImage"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestGet_ObjectPath_EachObjectOwnParams(t *testing.T) {
	f := newFixture(t)
	resp, _ := do(f, ctrl1, &pb.Get{ParamPaths: []string{"Device.DeviceInfo."}})
	res := getResp(t, resp).GetReqPathResults()[0].GetResolvedPathResults()
	var paths []string
	for _, r := range res {
		paths = append(paths, r.GetResolvedPath())
	}
	want := []string{"Device.DeviceInfo.", "Device.DeviceInfo.FirmwareImage.1.", "Device.DeviceInfo.FirmwareImage.2."}
	if !slices.Equal(paths, want) {
		t.Fatalf("resolved paths %v, want %v", paths, want)
	}
	if _, ok := res[0].GetResultParams()["Status"]; ok {
		t.Error("Device.DeviceInfo. carries a FirmwareImage parameter")
	}
	if res[0].GetResultParams()["FirmwareImageNumberOfEntries"] != "2" {
		t.Errorf("FirmwareImageNumberOfEntries = %q", res[0].GetResultParams()["FirmwareImageNumberOfEntries"])
	}
	if res[0].GetResultParams()["UpTime"] != "3600" {
		t.Errorf("UpTime (bound) = %q", res[0].GetResultParams()["UpTime"])
	}
}

func TestGet_RGET5_MaxDepth(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		path  string
		depth uint32
		want  int
	}{
		{"Device.DeviceInfo.", 1, 1},
		{"Device.DeviceInfo.", 2, 3},
		{"Device.DeviceInfo.", 0, 3},
		{"Device.", 1, 0}, // Device. has no parameters of its own
		{"Device.", 2, 2}, // DeviceInfo. and LocalAgent.
		{"Device.DeviceInfo.FirmwareImage.", 1, 2},
	} {
		resp, _ := do(f, ctrl1, &pb.Get{ParamPaths: []string{tc.path}, MaxDepth: tc.depth})
		if n := len(getResp(t, resp).GetReqPathResults()[0].GetResolvedPathResults()); n != tc.want {
			t.Errorf("%s max_depth %d: %d results, want %d", tc.path, tc.depth, n, tc.want)
		}
	}
}

func TestGet_Errors(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		path string
		code usp.Code
		n    int // resolved results when no error
	}{
		{"Device.DeviceInfo.Bogus", usp.InvalidPath, 0},                                      // R-GET.0: not in supported DM
		{"Device.DeviceInfo.FirmwareImage.7.Status", usp.InvalidPath, 0},                     // R-GET.0: not instantiated
		{"Device.DeviceInfo.FirmwareImage.7.", usp.InvalidPath, 0},                           //
		{"Device.DeviceInfo.FirmwareImage.*.Bogus", usp.InvalidPath, 0},                      // search, not in supported DM
		{"Device.DeviceInfo.[Alias==\"x\"].", usp.InvalidPath, 0},                            // selector on a non-table
		{"Device.DeviceInfo..X", usp.InvalidPathSyntax, 0},                                   //
		{"Device.DeviceInfo.FirmwareImage.[Available==\"true\"].", usp.InvalidPathSyntax, 0}, // quoted boolean
		{"Device.DeviceInfo.FirmwareImage.[Bogus==1].", usp.InvalidPath, 0},                  //
		{"Device.Reboot()", usp.InvalidPath, 0},                                              //
		{"Device.DeviceInfo", usp.InvalidPath, 0},                                            // object without dot
		{"Device.DeviceInfo.FirmwareImage.[Status==\"Downloading\"].Name", 0, 0},             // R-GET.1a
		{"Device.DeviceInfo.FirmwareImage.[Status==\"Active\"].Name", 0, 1},                  //
		{"Device.DeviceInfo.FirmwareImage.[Alias==\"cpe-2\"].", 0, 1},                        // unique key
		{"Device.DeviceInfo.ActiveFirmwareImage+.Version", 0, 1},                             // reference following
		{"Device.DeviceInfo.BootFirmwareImage+.Name", 0, 1},                                  //
	} {
		resp, _ := do(f, ctrl1, &pb.Get{ParamPaths: []string{tc.path}})
		rr := getResp(t, resp).GetReqPathResults()[0]
		if usp.Code(rr.GetErrCode()) != tc.code {
			t.Errorf("%s: err_code %d (%s), want %d", tc.path, rr.GetErrCode(), rr.GetErrMsg(), tc.code)
			continue
		}
		if tc.code == 0 && len(rr.GetResolvedPathResults()) != tc.n {
			t.Errorf("%s: %d results, want %d", tc.path, len(rr.GetResolvedPathResults()), tc.n)
		}
	}
}

func TestGet_RefFollowingReadsTarget(t *testing.T) {
	f := newFixture(t)
	resp, _ := do(f, ctrl1, &pb.Get{ParamPaths: []string{"Device.DeviceInfo.ActiveFirmwareImage+.Version"}})
	res := getResp(t, resp).GetReqPathResults()[0].GetResolvedPathResults()
	if len(res) != 1 || res[0].GetResolvedPath() != "Device.DeviceInfo.FirmwareImage.1." || res[0].GetResultParams()["Version"] != "1.0.0" {
		t.Fatalf("got %v", res)
	}
}

func TestGet_RGET4_WriteOnlyOmittedSecretEmpty(t *testing.T) {
	f := newFixture(t)
	f.mustSet("Device.LocalAgent.Controller.1.Password", "hunter2")
	resp, _ := do(f, ctrl1, &pb.Get{ParamPaths: []string{"Device.LocalAgent.Controller.1.Password"}})
	res := getResp(t, resp).GetReqPathResults()[0].GetResolvedPathResults()[0]
	if v, ok := res.GetResultParams()["Password"]; !ok || v != "" {
		t.Errorf("secret Password read %q (present %v), want empty", v, ok)
	}
}

func TestGet_EachPathIndependent(t *testing.T) {
	f := newFixture(t)
	resp, _ := do(f, ctrl1, &pb.Get{ParamPaths: []string{"Device.Bogus.", "Device.DeviceInfo.ModelName", "Device.DeviceInfo.ModelName"}})
	rrs := getResp(t, resp).GetReqPathResults()
	if len(rrs) != 3 || rrs[0].GetErrCode() != uint32(usp.InvalidPath) || rrs[1].GetErrCode() != 0 || rrs[2].GetErrCode() != 0 {
		t.Fatalf("got %v", rrs)
	}
}

func TestGet_Limits(t *testing.T) {
	f := newFixture(t)
	paths := make([]string, f.m.s.opts.MaxPaths+1)
	for i := range paths {
		paths[i] = "Device.DeviceInfo.ModelName"
	}
	resp, _ := do(f, ctrl1, &pb.Get{ParamPaths: paths})
	if errCode(resp) != usp.ResourcesExceeded {
		t.Errorf("too many paths: %v", resp)
	}
	long := "Device.DeviceInfo." + string(make([]byte, f.m.s.opts.MaxPathLen))
	resp, _ = do(f, ctrl1, &pb.Get{ParamPaths: []string{long}})
	if c := getResp(t, resp).GetReqPathResults()[0].GetErrCode(); c != uint32(usp.ResourcesExceeded) {
		t.Errorf("long path: err_code %d", c)
	}
}

func TestGetInstances_FirstLevelOnly(t *testing.T) {
	f := newFixture(t)
	f.mustAdd("Device.LocalAgent.Controller.1.BootParameter.", map[string]string{"ParameterName": "Device.DeviceInfo.BootFirmwareImage"})
	for _, tc := range []struct {
		path      string
		firstOnly bool
		want      []string
		code      usp.Code
	}{
		{"Device.LocalAgent.Controller.", true, []string{"Device.LocalAgent.Controller.1.", "Device.LocalAgent.Controller.2."}, 0},
		{"Device.LocalAgent.Controller.", false, []string{"Device.LocalAgent.Controller.1.", "Device.LocalAgent.Controller.1.BootParameter.1.", "Device.LocalAgent.Controller.2."}, 0},
		{"Device.LocalAgent.Controller.*.BootParameter.", true, []string{"Device.LocalAgent.Controller.1.BootParameter.1."}, 0},
		{`Device.LocalAgent.Controller.[EndpointID=="proto::ctrl-2"].`, false, []string{"Device.LocalAgent.Controller.2."}, 0},
		{"Device.LocalAgent.", true, nil, usp.ObjectNotATable},
		{"Device.LocalAgent.Controller.9.", true, nil, usp.ObjectDoesNotExist},
		{"Device.LocalAgent.Nope.", true, nil, usp.InvalidPath},
		{"Device.LocalAgent.Controller.[Enable==false].", true, nil, 0},
	} {
		resp, _ := do(f, ctrl1, &pb.GetInstances{ObjPaths: []string{tc.path}, FirstLevelOnly: tc.firstOnly})
		rr := resp.GetBody().GetResponse().GetGetInstancesResp().GetReqPathResults()[0]
		if usp.Code(rr.GetErrCode()) != tc.code {
			t.Errorf("%s: err_code %d %s, want %d", tc.path, rr.GetErrCode(), rr.GetErrMsg(), tc.code)
			continue
		}
		var got []string
		for _, ci := range rr.GetCurrInsts() {
			got = append(got, ci.GetInstantiatedObjPath())
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s first_level_only=%v: %v, want %v", tc.path, tc.firstOnly, got, tc.want)
		}
	}
}

func TestGetInstances_UniqueKeys(t *testing.T) {
	f := newFixture(t)
	resp, _ := do(f, ctrl1, &pb.GetInstances{ObjPaths: []string{"Device.LocalAgent.Controller.1."}})
	ci := resp.GetBody().GetResponse().GetGetInstancesResp().GetReqPathResults()[0].GetCurrInsts()[0]
	if k := ci.GetUniqueKeys(); len(k) != 2 || k["Alias"] != "cpe-1" || k["EndpointID"] != ctrl1.EndpointID {
		t.Errorf("unique_keys %v", k)
	}
}

func TestGetSupportedProtocol(t *testing.T) {
	f := newFixture(t)
	resp, _ := do(f, ctrl1, &pb.GetSupportedProtocol{ControllerSupportedProtocolVersions: "1.3"})
	if v := resp.GetBody().GetResponse().GetGetSupportedProtocolResp().GetAgentSupportedProtocolVersions(); v != usp.SupportedVersions {
		t.Errorf("versions %q", v)
	}
}

// A path longer than MaxPathLen is refused with 7005 Resources Exceeded
// before it is parsed, on every message that carries paths (docs/usp.md).
func TestMaxPathLen_EveryMessage(t *testing.T) {
	f := newFixture(t)
	long := "Device.DeviceInfo." + strings.Repeat("A", f.m.s.opts.MaxPathLen)
	obj := long + "."
	for name, send := range map[string]func() *pb.Msg{
		"Get": func() *pb.Msg { r, _ := do(f, ctrl1, &pb.Get{ParamPaths: []string{long}}); return r },
		"Set": func() *pb.Msg {
			r, _ := do(f, ctrl1, &pb.Set{UpdateObjs: []*pb.Set_UpdateObject{{ObjPath: obj}}})
			return r
		},
		"Add": func() *pb.Msg {
			r, _ := do(f, ctrl1, &pb.Add{CreateObjs: []*pb.Add_CreateObject{{ObjPath: obj}}})
			return r
		},
		"Delete":         func() *pb.Msg { r, _ := do(f, ctrl1, &pb.Delete{ObjPaths: []string{obj}}); return r },
		"Operate":        func() *pb.Msg { r, _ := do(f, ctrl1, &pb.Operate{Command: long + "()", SendResp: true}); return r },
		"GetInstances":   func() *pb.Msg { r, _ := do(f, ctrl1, &pb.GetInstances{ObjPaths: []string{obj}}); return r },
		"GetSupportedDM": func() *pb.Msg { r, _ := do(f, ctrl1, &pb.GetSupportedDM{ObjPaths: []string{obj}}); return r },
	} {
		t.Run(name, func(t *testing.T) {
			resp := send()
			// prototext varies its spacing on purpose: match any.
			if text := prototext.Format(resp); !regexp.MustCompile(`err_code:\s+7005\b`).MatchString(text) {
				t.Fatalf("no 7005 in the answer:\n%s", text)
			}
		})
	}
}
