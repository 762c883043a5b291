package dm

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"

	"google.golang.org/protobuf/proto"

	pb "brickyard/usp/uspmsg"
)

// A row's values packed in one string: entries stay sorted by parameter,
// lengths past one varint byte survive, defaults are not stored.
func TestPackedValues(t *testing.T) {
	var s string
	long := strings.Repeat("x", 300)
	for _, e := range []struct {
		id uint16
		v  string
	}{{7, "seven"}, {2, long}, {300, ""}, {5, "five"}, {2, "two"}, {7, long + "!"}} {
		start, end, _ := findVal(s, e.id)
		s = spliceVal(s, start, end, e.id, e.v, true)
	}
	want := map[uint16]string{2: "two", 5: "five", 7: long + "!", 300: ""}
	var ids []uint16
	for rest := s; rest != ""; {
		var id uint16
		var v string
		id, v, rest = nextVal(rest)
		ids = append(ids, id)
		if v != want[id] {
			t.Errorf("%d = %q, want %q", id, v, want[id])
		}
	}
	if len(ids) != 4 || ids[0] != 2 || ids[1] != 5 || ids[2] != 7 || ids[3] != 300 {
		t.Errorf("ids %v", ids)
	}
	for id, v := range want {
		if got, ok := lookupVal(s, id); !ok || got != v {
			t.Errorf("lookup %d = %q %v", id, got, ok)
		}
	}
	if _, ok := lookupVal(s, 6); ok {
		t.Error("found 6")
	}
	start, end, ok := findVal(s, 7)
	if !ok {
		t.Fatal("7 not found")
	}
	s = spliceVal(s, start, end, 0, "", false)
	if _, ok := lookupVal(s, 7); ok {
		t.Error("7 still there after its removal")
	}
	if v, _ := lookupVal(s, 300); v != "" {
		t.Error("300 lost")
	}
}

// Models sharing an interning table behave exactly as models that do
// not, and hold equal rows once.
func TestIntern(t *testing.T) {
	table := map[string]string{}
	calls := 0
	intern := func(s string) string {
		calls++
		if c, ok := table[s]; ok {
			return c
		}
		table[s] = s
		return s
	}
	run := func(intern func(string) string) (*fixture, []byte, []byte) {
		dev := &testDev{version: "1.0.0", boot: t0}
		f := &fixture{t: t, dev: dev, now: t0,
			m: NewModel(testSchema(t), Config{Env: dev, Rand: rand.New(rand.NewPCG(1, 2)), Intern: intern})}
		f.mustAdd("Device.DeviceInfo.FirmwareImage.", map[string]string{"Name": "fw-a", "Version": "1.0.0", "Available": "true", "Status": "Active"})
		f.mustAdd("Device.DeviceInfo.FirmwareImage.", nil)
		f.mustSet("Device.DeviceInfo.BootFirmwareImage", "Device.DeviceInfo.FirmwareImage.1")
		f.mustAdd("Device.LocalAgent.Controller.", map[string]string{"EndpointID": ctrl1.EndpointID, "Enable": "true"})
		sub := f.subscribe(ctrl1, "vc", "ValueChange", "Device.DeviceInfo.FirmwareImage.*.Status", true)
		do(f, ctrl1, setMsg(false, upd(sub, ps("Persistent", "true", true))))
		// One request writing two rows.
		do(f, ctrl1, setMsg(false, upd("Device.DeviceInfo.FirmwareImage.*.", ps("Status", "Available", true))))
		f.mustSet("Device.DeviceInfo.FirmwareImage.1.Status", "Active")
		resp, _ := do(f, ctrl1, &pb.Get{ParamPaths: []string{"Device."}})
		get, err := proto.MarshalOptions{Deterministic: true}.Marshal(getResp(t, resp))
		if err != nil {
			t.Fatal(err)
		}
		snap := f.m.Snapshot()
		m := NewModel(f.m.s, Config{Env: f.dev, Intern: intern})
		if err := m.Restore(snap, t0); err != nil {
			t.Fatal(err)
		}
		f.m = m
		return f, get, snap
	}
	_, get0, snap0 := run(nil)
	a, get1, snap1 := run(intern)
	b, get2, snap2 := run(intern)
	if calls == 0 {
		t.Fatal("Intern was never called")
	}
	if !bytes.Equal(get0, get1) || !bytes.Equal(get0, get2) || !bytes.Equal(snap0, snap1) || !bytes.Equal(snap0, snap2) {
		t.Fatal("interning changed what the model holds")
	}
	if !bytes.Equal(a.m.Snapshot(), snap0) {
		t.Fatal("a restored model differs")
	}
	ra, rb := a.m.rowsOf(a.m.s.Object("Device.LocalAgent.Subscription."), a.m.root), b.m.rowsOf(b.m.s.Object("Device.LocalAgent.Subscription."), b.m.root)
	if len(ra) != 1 || len(rb) != 1 || ra[0].vals == "" || unsafe.StringData(ra[0].vals) != unsafe.StringData(rb[0].vals) {
		t.Error("equal subscription rows of two models are not shared")
	}
	fa, fb := a.m.rowsOf(a.m.s.Object("Device.DeviceInfo.FirmwareImage."), a.m.root), b.m.rowsOf(b.m.s.Object("Device.DeviceInfo.FirmwareImage."), b.m.root)
	for i := range fa {
		if unsafe.StringData(fa[i].vals) != unsafe.StringData(fb[i].vals) {
			t.Errorf("FirmwareImage.%d rows are not shared", i+1)
		}
	}
}
