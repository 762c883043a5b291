package model

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestImportXML(t *testing.T) {
	data, err := os.ReadFile("testdata/tr181-excerpt.xml")
	if err != nil {
		t.Fatal(err)
	}
	base := func(p string) bool { return p == "Device.DeviceInfo." || p == "Device.DeviceInfo.SerialNumber" }
	m, notes, err := ImportXML(data, nil, 2, base)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(notes)
	byPath := map[string]*Object{}
	var paths []string
	for _, o := range m.Objects {
		byPath[o.Path] = o
		paths = append(paths, o.Path)
	}
	if want := []string{"Device.Hosts.", "Device.Hosts.Host.{i}.", "Device.Hosts.AC.{i}.", "Device.DeviceInfo.", "Device.Hosts.Diagnostics."}; !slices.Equal(paths, want) {
		t.Fatalf("objects %v, want %v", paths, want)
	}
	// Unique keys made unique per factory row: an enumeration's values in
	// turn, an integer's instance number; a dateTime cannot be, and its key
	// is left out (noted).
	ac := byPath["Device.Hosts.AC.{i}."]
	if p := ac.param("AccessCategory"); p.Values[1] != "BE" || p.Values[2] != "BK" {
		t.Errorf("AccessCategory values %v", p.Values)
	}
	if p := ac.param("Order"); p.Default != "{i}" {
		t.Errorf("Order default %q", p.Default)
	}
	if len(ac.Keys) != 2 || !slices.ContainsFunc(notes, func(n string) bool { return strings.Contains(n, "unique key Since left out") }) {
		t.Errorf("AC keys %v, notes %v", ac.Keys, notes)
	}
	h := byPath["Device.Hosts.Host.{i}."]
	if len(h.Instances) != 2 || h.MaxEntries != 64 || len(h.Keys) != 2 {
		t.Errorf("Host: instances %v max %d keys %v", h.Instances, h.MaxEntries, h.Keys)
	}
	for _, c := range []struct {
		name, typ, access, def string
		maxLen                 int
		list                   bool
	}{
		{"Alias", "string", "readWrite", "", 64, false},
		{"PhysAddress", "string", "", "{i}", 17, false}, // a key: made unique per factory row
		{"IPAddress", "string", "", "", 45, false},
		{"HostName", "string", "", "", 64, false},
		{"Active", "boolean", "", "true", 0, false},
		{"LeaseTimeRemaining", "int", "", "-1", 0, false},
		{"AddressSource", "string", "", "DHCP", 0, false},
		{"Tags", "string", "readWrite", "", 32, true},
		{"X_EXAMPLE_Vendor", "string", "", "", 0, false}, // from the base= extension
	} {
		p := h.param(c.name)
		if p == nil {
			t.Errorf("Host.%s missing", c.name)
			continue
		}
		if p.Type != c.typ || p.Access != c.access || p.Default != c.def || p.MaxLen != c.maxLen || p.List != c.list {
			t.Errorf("Host.%s = %+v, want %+v", c.name, *p, c)
		}
	}
	if p := h.param("LeaseTimeRemaining"); p.Min == nil || *p.Min != -1 {
		t.Errorf("LeaseTimeRemaining range %v", p.Min)
	}
	// Shapes of TR-181's own files: a parameter's type derived from a
	// named one (<dataType base=>), several ranges (their span), a range
	// without 0 and no default (the device reads the bound nearest 0).
	for _, c := range []struct {
		name, typ, static string
		min, max          int64
	}{{"SignalNoise", "int", "", -500, 500}, {"VNI", "int", "1", -1, 16777215}, {"Channel", "unsignedInt", "1", 1, 255}} {
		p := h.param(c.name)
		if p == nil {
			t.Errorf("Host.%s missing", c.name)
			continue
		}
		v, static := p.Static()
		if p.Type != c.typ || p.Min == nil || p.Max == nil || *p.Min != c.min || *p.Max != c.max || (static && v != c.static) {
			t.Errorf("Host.%s: %s [%v, %v] reads %q, want %s [%d, %d] reading %q", c.name, p.Type, p.Min, p.Max, v, c.typ, c.min, c.max, c.static)
		}
	}
	if p := h.param("AddressSource"); !slices.Equal(p.Enum, []string{"DHCP", "Static", "AutoIP"}) {
		t.Errorf("AddressSource enum %v", p.Enum)
	}
	if byPath["Device.Hosts."].param("LegacyCount") != nil {
		t.Error("a deleted parameter was imported")
	}
	if e := byPath["Device.Hosts."].Events; len(e) != 1 || e[0].Name != "HostSeen!" || !slices.Equal(e[0].Args, []string{"PhysAddress", "HostName"}) {
		t.Errorf("events %+v", e)
	}
	c := byPath["Device.Hosts.Diagnostics."].Commands
	if len(c) != 1 || !c[0].Async || !slices.Equal(c[0].Mandatory, []string{"Target"}) || !slices.Equal(c[0].In, []string{"Count", "Filter.{i}.Port"}) ||
		!slices.Equal(c[0].Out, []string{"Reachable"}) {
		t.Errorf("Probe() %+v", c)
	}
	if di := byPath["Device.DeviceInfo."]; len(di.Params) != 1 || di.Params[0].Name != "X_EXAMPLE_Region" {
		t.Errorf("DeviceInfo: %+v (its SerialNumber is the default model's)", di.Params)
	}
	// A prefix imports only what is under it.
	m, _, err = ImportXML(data, []string{"Device.Hosts.Host."}, 0, base)
	if err != nil || len(m.Objects) != 1 || m.Objects[0].Path != "Device.Hosts.Host.{i}." || len(m.Objects[0].Instances) != 0 {
		t.Errorf("prefix import: %v %v", m, err)
	}
}

func TestImportBadInput(t *testing.T) {
	for _, c := range []struct {
		name, data string
		xml        bool
		want       string
	}{
		{"dump not JSON", "hello", false, "not JSON"},
		{"dump empty", "", false, "empty"},
		{"dump without GSDM", `[{"header": {"msgId": "1"}, "body": {"response": {"getResp": {}}}}]`, false, "no GetSupportedDMResp"},
		{"dump bad Msg", `[{"header": 5}]`, false, "USP Msg"},
		{"dump unknown key", `{"getSupportedDmResp": {}, "other": 1}`, false, "unknown key"},
		{"dump bad path", `{"getSupportedDmResp": {"reqObjResults": [{"supportedObjs": [{"supportedObjPath": "Device..X."}]}]}}`, false, "object"},
		{"xml broken", "<dm:document><model>", true, "XML"},
		{"xml not a document", "<other/>", true, "not a data-model"},
		{"xml no model", "<document/>", true, "no <model>"},
		{"xml unknown type", `<document><model name="m"><object name="Device.A."><parameter name="X"><syntax><dataType ref="Nope"/></syntax></parameter></object></model></document>`, true, `data type "Nope"`},
		{"xml unknown component", `<document><model name="m"><component ref="Gone" path="Device."/></model></document>`, true, "not defined"},
		{"xml component loop", `<document><component name="A"><component ref="A"/></component><model name="m"><component ref="A" path="Device."/></model></document>`, true, "deeper"},
		{"xml no type", `<document><model name="m"><object name="Device.A."><parameter name="X"><syntax/></parameter></object></model></document>`, true, "no type"},
		{"xml nothing under prefix", `<document><model name="m"><object name="Device.A."/></model></document>`, true, "no object"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var err error
			if c.xml {
				_, _, err = ImportXML([]byte(c.data), []string{"Device.B."}[:map[bool]int{true: 1, false: 0}[c.name == "xml nothing under prefix"]], 0, nil)
			} else {
				_, _, err = ImportDump([]byte(c.data), nil)
			}
			if err == nil || !errors.Is(err, ErrModel) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want ErrModel saying %q", err, c.want)
			}
		})
	}
}

func FuzzImportDump(f *testing.F) {
	data, _ := os.ReadFile("testdata/dump-acme-gw.json")
	f.Add(data)
	f.Add([]byte(`{"getSupportedDmResp": {"reqObjResults": [{"supportedObjs": [{"supportedObjPath": "Device.A.{i}.", "isMultiInstance": true}]}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, _, err := ImportDump(b, nil); err != nil && !errors.Is(err, ErrModel) {
			t.Fatalf("error %v does not wrap ErrModel", err)
		}
	})
}

func FuzzImportXML(f *testing.F) {
	data, _ := os.ReadFile("testdata/tr181-excerpt.xml")
	f.Add(data)
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, _, err := ImportXML(b, nil, 2, nil); err != nil && !errors.Is(err, ErrModel) {
			t.Fatalf("error %v does not wrap ErrModel", err)
		}
	})
}
