package device

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

// peer is a second controller talking to the harness's device directly:
// its Records go to Receive, the device's answers to it are decoded with
// its own codec.
type peer struct {
	h     *harness
	codec usp.Codec
	n     int
}

func (h *harness) peer(eid string) *peer { return &peer{h: h, codec: usp.Codec{LocalID: eid}} }

// do sends one request and returns the device's answer to this peer (nil
// if none); the rest of the device's Output goes to the harness.
func (p *peer) do(body any) *pb.Msg {
	p.h.t.Helper()
	p.n++
	var m *pb.Msg
	switch b := body.(type) {
	case *pb.Get:
		m = usp.NewRequest("p"+itoa(p.n), b)
	case *pb.GetInstances:
		m = usp.NewRequest("p"+itoa(p.n), b)
	case *pb.Set:
		m = usp.NewRequest("p"+itoa(p.n), b)
	case *pb.Add:
		m = usp.NewRequest("p"+itoa(p.n), b)
	case *pb.Operate:
		m = usp.NewRequest("p"+itoa(p.n), b)
	case *pb.GetSupportedDM:
		m = usp.NewRequest("p"+itoa(p.n), b)
	default:
		p.h.t.Fatalf("peer: %T", body)
	}
	rec, err := p.codec.Seal(agentID, m)
	if err != nil {
		p.h.t.Fatal(err)
	}
	out := p.h.d.Receive(p.h.now, rec)
	var resp *pb.Msg
	var rest []Record
	for _, r := range out.Records {
		if r.To != p.codec.LocalID {
			rest = append(rest, r)
			continue
		}
		in, err := p.codec.Open(r.Data)
		if err != nil {
			p.h.t.Fatalf("peer cannot open the device's record: %v", err)
		}
		if in.Msg.GetHeader().GetMsgId() == m.GetHeader().GetMsgId() {
			resp = in.Msg
		}
	}
	out.Records = rest
	p.h.apply(out)
	return resp
}

func itoa(n int) string { return strconv.Itoa(n) }

func getParams(t *testing.T, m *pb.Msg) (map[string]string, []uint32) {
	t.Helper()
	if e := m.GetBody().GetError(); e != nil {
		return nil, []uint32{e.GetErrCode()}
	}
	out := map[string]string{}
	var codes []uint32
	for _, rr := range m.GetBody().GetResponse().GetGetResp().GetReqPathResults() {
		codes = append(codes, rr.GetErrCode())
		for _, r := range rr.GetResolvedPathResults() {
			for k, v := range r.GetResultParams() {
				out[r.GetResolvedPath()+k] = v
			}
		}
	}
	return out, codes
}

func errCodeOf(m *pb.Msg) uint32 { return m.GetBody().GetError().GetErrCode() }

// The factory trust: Role.1 full access for the factory Controller,
// Role.2 Untrusted, no UntrustedRole (unknown Controllers refused).
func TestTrustFactory(t *testing.T) {
	h := newHarness(t, "uboot-nor", nil).boot()
	got := h.get("Device.LocalAgent.ControllerTrust.", "Device.LocalAgent.Controller.1.AssignedRole")
	for k, want := range map[string]string{
		"Device.LocalAgent.ControllerTrust.Role.1.Name": "FullAccess", "Device.LocalAgent.ControllerTrust.Role.2.Name": "Untrusted",
		"Device.LocalAgent.ControllerTrust.Role.1.Permission.1.Targets": "Device.", "Device.LocalAgent.ControllerTrust.Role.1.Permission.1.Param": "rwxn",
		"Device.LocalAgent.ControllerTrust.UntrustedRole": "", "Device.LocalAgent.Controller.1.AssignedRole": RoleFullAccess,
		"Device.LocalAgent.ControllerTrust.RoleNumberOfEntries": "2",
	} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
}

// An unknown Controller gets the fleet's policy: refused (Error 7006 for
// every request, the Get fast path's included), or served with the
// Untrusted role: Device.DeviceInfo. only, nothing written or run.
func TestUnknownControllerPolicy(t *testing.T) {
	for _, policy := range []UnknownPolicy{"", RefuseUnknown, UntrustedUnknown} {
		t.Run(string(policy)+"-", func(t *testing.T) {
			h := newHarness(t, "uboot-nor", func(c *Config) { c.Unknown = policy }).boot()
			x := h.peer("proto::stranger")
			get := x.do(&pb.Get{ParamPaths: []string{"Device.DeviceInfo.SerialNumber", "Device.LocalAgent."}})
			gi := x.do(&pb.GetInstances{ObjPaths: []string{"Device.LocalAgent.Controller."}})
			op := x.do(&pb.Operate{Command: "Device.Reboot()", SendResp: true})
			set := x.do(&pb.Set{UpdateObjs: []*pb.Set_UpdateObject{{ObjPath: "Device.DeviceInfo.", ParamSettings: []*pb.Set_UpdateParamSetting{{Param: "BootFirmwareImage", Value: "Device.DeviceInfo.FirmwareImage.1"}}}}})
			if policy != UntrustedUnknown {
				for _, m := range []*pb.Msg{get, gi, op, set} {
					if errCodeOf(m) != uint32(usp.PermissionDenied) {
						t.Fatalf("refused Controller answered %v", m)
					}
				}
				return
			}
			vals, codes := getParams(t, get)
			if vals["Device.DeviceInfo.SerialNumber"] != "SIM0001" || codes[1] != uint32(usp.InvalidPath) {
				t.Errorf("untrusted Get: %v %v", vals, codes)
			}
			if n := len(gi.GetBody().GetResponse().GetGetInstancesResp().GetReqPathResults()[0].GetCurrInsts()); n != 0 {
				t.Errorf("untrusted GetInstances saw %d Controllers", n)
			}
			if f := op.GetBody().GetResponse().GetOperateResp().GetOperationResults()[0].GetCmdFailure(); f.GetErrCode() != uint32(usp.PermissionDenied) {
				t.Errorf("untrusted Reboot(): %v", op)
			}
			if h.d.State() != On {
				t.Error("the untrusted Controller rebooted the device")
			}
			pe := set.GetBody().GetResponse().GetSetResp().GetUpdatedObjResults()[0].GetOperStatus().GetOperSuccess().GetUpdatedInstResults()[0].GetParamErrs()
			if len(pe) != 1 || pe[0].GetErrCode() != uint32(usp.PermissionDenied) {
				t.Errorf("untrusted Set: %v", set)
			}
		})
	}
}

// A Controller with a restricted role: the factory Controller creates a
// Viewer role (read everything but the ControllerTrust, write nothing,
// run nothing) and a Controller row for it; the viewer sees the right
// subset on both Get paths and 7006 where it must.
func TestRestrictedController(t *testing.T) {
	h := newHarness(t, "uboot-nor", nil).boot()
	if r := h.add("Device.LocalAgent.ControllerTrust.Role.", "Name", "Viewer", "Enable", "true"); r.GetBody().GetError() != nil {
		t.Fatal(r)
	}
	for _, p := range [][]string{
		{"Order", "1", "Targets", "Device.", "Param", "r--n", "Obj", "r--n", "InstantiatedObj", "r--n", "CommandEvent", "r--n", "Enable", "true"},
		{"Order", "2", "Targets", "Device.LocalAgent.ControllerTrust.", "Enable", "true"},
	} {
		if r := h.add("Device.LocalAgent.ControllerTrust.Role.3.Permission.", p...); r.GetBody().GetError() != nil {
			t.Fatal(r)
		}
	}
	// Onboarded already: its OnBoardRequest is not what this test is about.
	if r := h.add("Device.LocalAgent.Controller.", "EndpointID", "proto::viewer", "Enable", "true", "OnBoardingComplete", "true", "AssignedRole", "Device.LocalAgent.ControllerTrust.Role.3"); r.GetBody().GetError() != nil {
		t.Fatal(r)
	}
	v := h.peer("proto::viewer")
	// The Get fast path (a plain Get) and the general one (a Get with a
	// path the fast path leaves to it: none here, so compare with the
	// factory Controller's view instead).
	vals, codes := getParams(t, v.do(&pb.Get{ParamPaths: []string{"Device.", "Device.LocalAgent.ControllerTrust.UntrustedRole"}}))
	if codes[0] != 0 || codes[1] != uint32(usp.InvalidPath) {
		t.Fatalf("viewer Get codes %v", codes)
	}
	all := h.get("Device.")
	for k := range vals {
		if strings.HasPrefix(k, pathTrust) {
			t.Errorf("viewer read %s", k)
		}
	}
	for k, want := range all {
		if strings.HasPrefix(k, pathTrust) || strings.Contains(k, "UpTime") {
			continue
		}
		if vals[k] != want {
			t.Errorf("viewer %s = %q, the full-access Controller reads %q", k, vals[k], want)
		}
	}
	op := v.do(&pb.Operate{Command: "Device.DeviceInfo.FirmwareImage.2.Download()", SendResp: true, InputArgs: map[string]string{"URL": "http://x/fw"}})
	if f := op.GetBody().GetResponse().GetOperateResp().GetOperationResults()[0].GetCmdFailure(); f.GetErrCode() != uint32(usp.PermissionDenied) {
		t.Errorf("viewer Download(): %v", op)
	}
	add := v.do(&pb.Add{CreateObjs: []*pb.Add_CreateObject{{ObjPath: "Device.LocalAgent.Controller."}}})
	if errCodeOf(add) != uint32(usp.PermissionDenied) {
		t.Errorf("viewer Add: %v", add)
	}
	// Set its own AssignedRole to the full-access role: refused.
	set := v.do(&pb.Set{UpdateObjs: []*pb.Set_UpdateObject{{ObjPath: "Device.LocalAgent.Controller.2.", ParamSettings: []*pb.Set_UpdateParamSetting{{Param: "AssignedRole", Value: RoleFullAccess, Required: true}}}}})
	if errCodeOf(set) != uint32(usp.RequiredParameterFailed) || set.GetBody().GetError().GetParamErrs()[0].GetErrCode() != uint32(usp.PermissionDenied) {
		t.Errorf("viewer elevating itself: %v", set)
	}
	// The role survives a reboot (the Role and Controller tables are
	// persistent); a factory reset takes it away.
	h.operate("Device.Reboot()", "r1")
	h.runUntil(func() bool { return h.online && h.d.State() == On }, 2*time.Minute)
	if _, codes := getParams(t, v.do(&pb.Get{ParamPaths: []string{"Device.DeviceInfo.SerialNumber"}})); codes[0] != 0 {
		t.Errorf("viewer after reboot: %v", codes)
	}
	h.operate("Device.FactoryReset()", "f1")
	h.runUntil(func() bool { return h.online && h.d.State() == On }, 2*time.Minute)
	if m := v.do(&pb.Get{ParamPaths: []string{"Device.DeviceInfo.SerialNumber"}}); errCodeOf(m) != uint32(usp.PermissionDenied) {
		t.Errorf("viewer after factory reset: %v", m)
	}
}

// A disabled Controller row is not served: the Controller disables
// itself, gets its SetResp, then 7006.
func TestDisabledController(t *testing.T) {
	h := newHarness(t, "uboot-nor", nil).boot()
	if r := h.set("Device.LocalAgent.Controller.1.", true, "Enable", "false"); r.GetBody().GetResponse().GetSetResp() == nil {
		t.Fatal(r)
	}
	m := h.request(usp.NewRequest(h.nextID(), &pb.Get{ParamPaths: []string{"Device.DeviceInfo."}}))
	if errCodeOf(m) != uint32(usp.PermissionDenied) {
		t.Fatalf("disabled Controller answered %v", m)
	}
}

// Device.LocalAgent.Certificate.1 describes the certificate of the fleet's
// CA the device holds.
func TestCertificateTable(t *testing.T) {
	nb := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	cert := &Certificate{Issuer: "CN=brickyard fleet CA", NotBefore: nb, NotAfter: nb.AddDate(1, 0, 0), SignatureAlgorithm: "ECDSA-SHA256",
		SerialNumber: func(eid string) string { return "01:" + strings.ToUpper(eid[len(eid)-2:]) }}
	h := newHarness(t, "uboot-nor", func(c *Config) { c.Cert = cert }).boot()
	got := h.get("Device.LocalAgent.Certificate.1.", "Device.LocalAgent.CertificateNumberOfEntries")
	p := "Device.LocalAgent.Certificate.1."
	for k, want := range map[string]string{p + "Subject": "CN=" + agentID, p + "SubjectAlt": "urn:bbf:usp:id:" + agentID,
		p + "Issuer": "CN=brickyard fleet CA", p + "NotBefore": "2025-06-01T00:00:00Z", p + "NotAfter": "2026-06-01T00:00:00Z",
		p + "SerialNumber": "01:01", p + "SignatureAlgorithm": "ECDSA-SHA256", p + "Enable": "true",
		"Device.LocalAgent.CertificateNumberOfEntries": "1"} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
	h2 := newHarness(t, "uboot-nor", nil).boot()
	if n := h2.value("Device.LocalAgent.CertificateNumberOfEntries"); n != "0" {
		t.Errorf("a device without a certificate lists %s", n)
	}
}
