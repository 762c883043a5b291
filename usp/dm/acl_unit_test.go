package dm

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

func TestParsePerm(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Perm
		ok   bool
	}{
		{"----", 0, true},
		{"rwxn", PermAll, true},
		{"r--n", PermRead | PermNotify, true},
		{"-w-n", PermWrite | PermNotify, true},
		{"--x-", PermExecute, true},
		{"", 0, false},
		{"rwx", 0, false},
		{"rwxnn", 0, false},
		{"wrxn", 0, false},
		{"RWXN", 0, false},
		{"r-- ", 0, false},
		{"rwx\x00", 0, false},
		{"r—n", 0, false}, // an em dash is not "-"
	} {
		got, err := ParsePerm(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParsePerm(%q) = %v, %v; want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && !errors.Is(err, usp.InvalidValue) {
			t.Errorf("ParsePerm(%q): %v does not wrap 7012", tc.in, err)
		}
		if err == nil && got.String() != tc.in {
			t.Errorf("ParsePerm(%q).String() = %q", tc.in, got.String())
		}
	}
}

func TestParseTargets(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		fail string
	}{
		{"", 0, ""},
		{"Device.", 1, ""},
		{" Device.DeviceInfo. , Device.Reboot() ,Device.Boot!", 3, ""},
		{"Device.LocalAgent.Controller.*.Enable", 1, ""},
		{"Device.LocalAgent.Controller.3.", 1, ""},
		{"Device.,,Device.DeviceInfo.", 2, ""},
		{"Device.LocalAgent.Controller.[Enable==true].", 0, "no search expressions"},
		{"Device.DeviceInfo.ActiveFirmwareImage+.Name", 0, "no search expressions"},
		{"Device.LocalAgent.Controller.0.", 0, "starts at 1"},
		{"Device..X", 0, "syntax"},
		{"Device.{i}.", 0, "syntax"},
	} {
		ts, err := parseTargets(tc.in)
		switch {
		case tc.fail == "" && (err != nil || len(ts) != tc.n):
			t.Errorf("parseTargets(%q) = %d targets, %v; want %d", tc.in, len(ts), err, tc.n)
		case tc.fail != "" && (err == nil || !errors.Is(err, usp.InvalidValue) || !strings.Contains(err.Error(), tc.fail)):
			t.Errorf("parseTargets(%q): error %v; want 7012 mentioning %q", tc.in, err, tc.fail)
		}
	}
}

// FuzzPermissions: permission strings and Targets never panic, parsed
// strings print back as given, and what parses compiles.
func FuzzPermissions(f *testing.F) {
	for _, s := range []string{"rwxn", "r--n", "----", "Device.", "Device.LocalAgent.Controller.*.", "Device.Reboot(),Device.Boot!",
		"Device.X.1.Y.[a==1].", "Device.A+.B"} {
		f.Add(s)
	}
	s := testTrustSchema(f)
	f.Fuzz(func(t *testing.T, v string) {
		if p, err := ParsePerm(v); err == nil && p.String() != v {
			t.Fatalf("ParsePerm(%q).String() = %q", v, p.String())
		}
		ts, err := parseTargets(v)
		if err != nil {
			if !errors.Is(err, usp.InvalidValue) {
				t.Fatalf("parseTargets(%q): %v is not 7012", v, err)
			}
			return
		}
		a := compileAccess(s, []roleRules{{{order: 1, targets: ts, perms: Perms{PermAll, PermAll, PermAll, PermAll}}}})
		for _, p := range s.params {
			_ = a.paramAt(p, nil)
		}
	})
}

// syncCache is an ACLCache for tests.
type syncCache struct {
	mu     sync.Mutex
	m      map[string]*ACL
	builds int
}

func (c *syncCache) ACL(key string, build func() *ACL) *ACL {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a := c.m[key]; a != nil {
		return a
	}
	c.builds++
	a := build()
	c.m[key] = a
	return a
}

// Models with equal roles share one compiled ACL through Config.ACL; a
// model whose roles differ gets its own.
func TestACLShared(t *testing.T) {
	cache := &syncCache{m: map[string]*ACL{}}
	var acls []*ACL
	for i := range 3 {
		f := newTrustFixture(t, cache)
		role := f.mustAdd("Device.LocalAgent.ControllerTrust.Role.", map[string]string{"Name": "R", "Enable": "true"})
		f.mustAdd(role+"Permission.", map[string]string{"Order": "1", "Targets": "Device.", "Param": "r---", "Obj": "r---", "Enable": "true"})
		if i == 2 {
			f.mustAdd(role+"Permission.", map[string]string{"Order": "2", "Targets": "Device.DeviceInfo.", "Enable": "true"})
		}
		f.mustAdd("Device.LocalAgent.Controller.", map[string]string{"EndpointID": "proto::c", "Enable": "true",
			"AssignedRole": strings.TrimSuffix(role, ".")})
		acls = append(acls, f.m.accessFor(Origin{EndpointID: "proto::c"}, f.now))
	}
	if acls[0] != acls[1] || acls[0] == acls[2] || cache.builds != 2 {
		t.Fatalf("shared %v, distinct %v, builds %d; want the first two shared, 2 builds", acls[0] == acls[1], acls[0] != acls[2], cache.builds)
	}
}

// The Get fast path (Model.Get) refuses what Handle refuses, and answers
// what Handle answers: the same readable subset.
func TestGetFastPathACL(t *testing.T) {
	f := newTrustFixture(t, nil)
	role := f.mustAdd("Device.LocalAgent.ControllerTrust.Role.", map[string]string{"Name": "R", "Enable": "true"})
	f.mustAdd(role+"Permission.", map[string]string{"Order": "1", "Targets": "Device.", "Param": "r---", "Obj": "r---", "InstantiatedObj": "r---", "Enable": "true"})
	f.mustAdd(role+"Permission.", map[string]string{"Order": "2", "Targets": "Device.DeviceInfo.SerialNumber,Device.DeviceInfo.FirmwareImage.2.", "Enable": "true"})
	f.mustAdd("Device.LocalAgent.Controller.", map[string]string{"EndpointID": "proto::r", "Enable": "true", "AssignedRole": strings.TrimSuffix(role, ".")})
	paths := []string{"Device.DeviceInfo.", "Device.DeviceInfo.SerialNumber", "Device.DeviceInfo.FirmwareImage.*.Name"}
	if _, _, ok := f.m.Get(Origin{EndpointID: "proto::stranger"}, paths, 0, f.now); ok {
		t.Fatal("the fast path answered an unknown Controller")
	}
	res, _, ok := f.m.Get(Origin{EndpointID: "proto::r"}, paths, 0, f.now)
	if !ok {
		t.Fatal("the fast path refused a Controller with a role")
	}
	resp, _ := f.m.Handle(Origin{EndpointID: "proto::r"}, usp.NewRequest("g", &pb.Get{ParamPaths: paths}), f.now)
	gr := getResp(t, resp).GetReqPathResults()
	for i, r := range res {
		if r.ErrCode != gr[i].GetErrCode() || len(r.Resolved) != len(gr[i].GetResolvedPathResults()) {
			t.Fatalf("%s: fast %d/%d objects, Handle %d/%d", r.Requested, r.ErrCode, len(r.Resolved), gr[i].GetErrCode(), len(gr[i].GetResolvedPathResults()))
		}
		for j, rp := range r.Resolved {
			for _, p := range rp.Params {
				if p.Name == "SerialNumber" || strings.HasPrefix(rp.Path, "Device.DeviceInfo.FirmwareImage.2.") {
					t.Errorf("%s: %s%s was answered", r.Requested, rp.Path, p.Name)
				}
				if gr[i].GetResolvedPathResults()[j].GetResultParams()[p.Name] != p.Value {
					t.Errorf("%s: %s%s differs", r.Requested, rp.Path, p.Name)
				}
			}
		}
	}
	if res[1].ErrCode != uint32(usp.InvalidPath) || len(res[2].Resolved) != 1 {
		t.Fatalf("SerialNumber %d, FirmwareImage.*.Name %d objects; want 7026 and 1", res[1].ErrCode, len(res[2].Resolved))
	}
}

// BenchmarkGetACL is Model.Get (the fast path's data-model half) of
// Device.DeviceInfo. and every FirmwareImage row: without access control,
// under a full-access role, under a role that hides one parameter and one
// instance (an instance-number target, worked out per row), and under a
// role whose rules all target instance numbers.
func BenchmarkGetACL(b *testing.B) {
	paths := []string{"Device.DeviceInfo."}
	for _, bc := range []struct {
		name  string
		rules []map[string]string
	}{
		{"none", nil},
		{"full", []map[string]string{{"Order": "1", "Targets": "Device.", "Param": "rwxn", "Obj": "rwxn", "InstantiatedObj": "rwxn", "CommandEvent": "rwxn"}}},
		{"restricted", []map[string]string{
			{"Order": "1", "Targets": "Device.", "Param": "r---", "Obj": "r---", "InstantiatedObj": "r---"},
			{"Order": "2", "Targets": "Device.DeviceInfo.SerialNumber,Device.DeviceInfo.FirmwareImage.2."}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var f *fixture
			if bc.rules == nil {
				f = newFixture(b)
			} else {
				tf := newTrustFixture(b, nil)
				role := tf.mustAdd("Device.LocalAgent.ControllerTrust.Role.", map[string]string{"Name": "R", "Enable": "true"})
				for _, r := range bc.rules {
					r["Enable"] = "true"
					tf.mustAdd(role+"Permission.", r)
				}
				tf.mustAdd("Device.LocalAgent.Controller.", map[string]string{"EndpointID": ctrl1.EndpointID, "Enable": "true", "AssignedRole": strings.TrimSuffix(role, ".")})
				f = tf.fixture
			}
			b.ReportAllocs()
			for b.Loop() {
				res, _, ok := f.m.Get(ctrl1, paths, 0, f.now)
				if !ok || len(res[0].Resolved) < 2 {
					b.Fatalf("%v %v", ok, res)
				}
			}
		})
	}
}
