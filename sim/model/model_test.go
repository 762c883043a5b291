package model

import (
	"errors"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

type env struct{ serial, eid string }

func (e env) Serial() string       { return e.serial }
func (e env) EndpointID() string   { return e.eid }
func (e env) OUI() string          { return "00256D" }
func (e env) ModelName() string    { return "uboot-nor" }
func (e env) ProductClass() string { return "GW" }
func (e env) MAC() string          { return "02:00:00:00:00:01" }
func (e env) Seed() uint64         { return uint64(len(e.serial)) * 7919 }

func TestParseAndValues(t *testing.T) {
	data, err := os.ReadFile("testdata/acme-gw.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if o, p := m.Count(); o != 5 || p != 18 {
		t.Fatalf("%d objects, %d params", o, p)
	}
	find := func(obj, name string) *Param {
		for _, o := range m.Objects {
			if o.Path == obj {
				return o.param(name)
			}
		}
		t.Fatalf("no %s%s", obj, name)
		return nil
	}
	e := env{serial: "SN12345678", eid: "os::00256D-SN12345678"}
	for _, c := range []struct {
		obj, name string
		nums      []uint32
		up        float64
		want      string
	}{
		{"Device.WiFi.Radio.{i}.", "Name", []uint32{2}, 0, "wlan2"},
		{"Device.WiFi.Radio.{i}.", "OperatingFrequencyBand", []uint32{1}, 0, "2.4GHz"},
		{"Device.WiFi.Radio.{i}.", "OperatingFrequencyBand", []uint32{2}, 0, "5GHz"},
		{"Device.WiFi.SSID.{i}.", "SSID", []uint32{1}, 0, "ACME-5678"},
		{"Device.WiFi.SSID.{i}.", "BSSID", []uint32{1}, 0, "02:00:00:00:00:01"},
		{"Device.X_ACME_Diagnostics.", "BuildID", nil, 0, "acme-uboot-nor-00256D"},
		{"Device.WiFi.Radio.{i}.Stats.", "BytesSent", []uint32{1}, 0, "0"},
	} {
		if got := find(c.obj, c.name).Value(e, c.nums, c.up); got != c.want {
			t.Errorf("%s%s %v = %q, want %q", c.obj, c.name, c.nums, got, c.want)
		}
	}
	// Draws: in range, the same for the same device, different across devices.
	ch := find("Device.WiFi.Radio.{i}.", "Channel")
	seen := map[string]bool{}
	for i := range 50 {
		d := env{serial: strings.Repeat("x", i+1)}
		v := ch.Value(d, []uint32{1}, 0)
		if v != ch.Value(d, []uint32{1}, 0) {
			t.Fatal("a draw is not reproducible")
		}
		if n, err := parseInt(v); err != nil || n < 1 || n > 11 {
			t.Fatalf("Channel %q out of [1, 11]", v)
		}
		seen[v] = true
	}
	if len(seen) < 5 {
		t.Errorf("Channel takes %d values over 50 devices", len(seen))
	}
	// Counters move with the uptime.
	bs := find("Device.WiFi.Radio.{i}.Stats.", "BytesSent")
	a, b := bs.Value(e, []uint32{1}, 10), bs.Value(e, []uint32{1}, 20)
	na, _ := parseInt(a)
	nb, _ := parseInt(b)
	if na < 10*1000 || na > 10*50000 || nb != 2*na && nb != 2*na+1 {
		t.Errorf("BytesSent at 10 s %s, at 20 s %s", a, b)
	}
	// A 32-bit counter wraps at 2³², a 64-bit one at 2⁶⁴.
	for _, c := range []struct {
		typ  string
		rate float64
		up   float64
		want uint64
	}{
		{"unsignedInt", 1e6, 5000, 5e9 - 1<<32},
		{"unsignedInt", 1, 1<<32 + 7, 7},
		{"unsignedLong", 1e6, 5000, 5e9},
		{"unsignedLong", 1e12, 1e8, uint64(math.Mod(1e20, 0x1p64))},
	} {
		p := &Param{Name: "C", Type: c.typ, Counter: []float64{c.rate, c.rate}}
		if got := p.Value(e, nil, c.up); got != strconv.FormatUint(c.want, 10) {
			t.Errorf("%s counter at %g/s for %g s = %s, want %d", c.typ, c.rate, c.up, got, c.want)
		}
	}
	// Marshal → Parse is the same model.
	out, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	m2, err := Parse(out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	out2, _ := m2.Marshal()
	if string(out) != string(out2) {
		t.Errorf("Marshal is not stable:\n%s\n---\n%s", out, out2)
	}
}

// TestBadModels: each file is refused with ErrModel and a message naming
// the problem; nothing panics.
func TestBadModels(t *testing.T) {
	for _, c := range []struct{ name, file, want string }{
		{"not yaml", "objects: [", "ErrModel"},
		{"not a mapping", "- a", "not a mapping"},
		{"unknown top key", "model: x\nobject: {}", `unknown key "object"`},
		{"bad path", "objects: {Device.WiFi: {}}", "object"},
		{"not under Device", "objects: {Other.X.: {}}", "under Device."},
		{"twice", "objects: {Device.A.: {}, Device.A.: {}}", "declared twice"},
		{"unknown type", "objects: {Device.A.: {params: {X: float}}}", `type "float"`},
		{"bad access", "objects: {Device.A.: {params: {X: {type: string, access: rw}}}}", `access "rw"`},
		{"bad default", "objects: {Device.A.: {params: {X: {type: unsignedInt, default: \"-3\"}}}}", "not a valid unsignedInt"},
		{"open brace", "objects: {Device.A.: {params: {X: {type: string, default: \"a{serial\"}}}}", "not closed"},
		{"unknown placeholder", "objects: {Device.A.: {params: {X: {type: string, default: \"{color}\"}}}}", "unknown placeholder {color}"},
		{"serial in an int", "objects: {Device.A.: {params: {X: {type: int, default: \"{serial}\"}}}}", "a int value cannot hold"},
		{"hex in a boolean", "objects: {Device.A.: {params: {X: {type: boolean, default: \"{hex:4}\"}}}}", "a boolean value cannot hold"},
		{"mac in hexBinary", "objects: {Device.A.: {params: {X: {type: hexBinary, default: \"{mac}\"}}}}", "a hexBinary value cannot hold"},
		{"letters around {i}", "objects: {\"Device.A.{i}.\": {params: {X: {type: unsignedInt, default: \"x{i}\"}}}}", "not a valid unsignedInt"},
		{"{i} outside a table", "objects: {Device.A.: {params: {X: {type: unsignedInt, default: \"{i}\"}}}}", "{i} outside a table"},
		{"{i:2} one table deep", "objects: {\"Device.A.{i}.\": {params: {X: {type: string, default: \"{i:2}\"}}}}", "{i:2} but the object is in 1 tables"},
		{"template outside the enum", "objects: {Device.A.: {params: {X: {type: string, enum: [a, b], default: \"{serial}\"}}}}", "not one of a, b"},
		{"per-instance value of the wrong type", "objects: {\"Device.A.{i}.\": {instances: 1, params: {X: {type: int, values: {1: \"{eid}\"}}}}}", "cannot hold"},
		{"huge count", "objects: {Device.A.: {params: {X: {type: string, default: \"{hex:999}\"}}}}", "1 to 64"},
		{"empty random", "objects: {Device.A.: {params: {X: {type: int, random: [5, 1]}}}}", "random"},
		{"random on a string", "objects: {Device.A.: {params: {X: {type: string, random: [1, 5]}}}}", "random"},
		{"counter NaN", "objects: {Device.A.: {params: {X: {type: unsignedLong, counter: [.nan, 5]}}}}", "finite"},
		{"counter Inf", "objects: {Device.A.: {params: {X: {type: unsignedLong, counter: [1, .inf]}}}}", "finite"},
		{"writable counter", "objects: {Device.A.: {params: {X: {type: unsignedLong, access: readWrite, counter: [1, 5]}}}}", "read-only"},
		{"table keys on an object", "objects: {Device.A.: {keys: [X]}}", "for tables"},
		{"key not a param", "objects: {\"Device.A.{i}.\": {keys: [X]}}", "key X"},
		{"same key everywhere", "objects: {\"Device.A.{i}.\": {instances: 2, keys: [Name], params: {Name: {type: string, default: x}}}}", "same value"},
		{"too many instances", "objects: {\"Device.A.{i}.\": {instances: 5000}}", "instances"},
		{"instance zero", "objects: {\"Device.A.{i}.\": {instances: [0]}}", "≥ 1"},
		{"bad command", "objects: {Device.A.: {commands: {Go: {}}}}", "Name()"},
		{"output not declared", "objects: {Device.A.: {commands: {Go(): {output: {X: y}}}}}", "not among out"},
		{"sync duration", "objects: {Device.A.: {commands: {Go(): {duration: 5s}}}}", "async"},
		{"param and object clash", "objects: {Device.A.: {params: {B: string}}, Device.A.B.: {}}", "is a parameter of"},
		{"range reversed", "objects: {Device.A.: {params: {X: {type: int, range: [5, 1]}}}}", "empty"},
		{"enum miss", "objects: {Device.A.: {params: {X: {type: string, enum: [a, b], default: c}}}}", "not one of"},
		{"unknown param key", "objects: {Device.A.: {params: {X: {type: int, rnd: [1, 2]}}}}", `unknown key "rnd"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.file))
			if err == nil || !errors.Is(err, ErrModel) {
				t.Fatalf("err %v, want ErrModel", err)
			}
			if c.want != "ErrModel" && !strings.Contains(err.Error(), c.want) {
				t.Errorf("err %v, want it to say %q", err, c.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	data, _ := os.ReadFile("testdata/acme-gw.yaml")
	f.Add(data)
	f.Add([]byte("objects: {\"Device.A.{i}.\": {instances: 3, params: {N: {type: string, default: \"n{i}-{serial:2}\"}}}}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrModel) {
				t.Fatalf("error %v does not wrap ErrModel", err)
			}
			return
		}
		e := env{serial: "S1", eid: "os::x"}
		for _, o := range m.Objects {
			for _, p := range o.Params {
				_ = p.Value(e, []uint32{1, 2}, 1e6)
			}
		}
		if _, err := m.Marshal(); err != nil {
			t.Fatal(err)
		}
	})
}
