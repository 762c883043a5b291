package path

import (
	"errors"
	"testing"

	"brickyard/usp"
)

func mustParse(t testing.TB, s string) Path {
	t.Helper()
	p, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// firmware is a lookup over two FirmwareImage instances and one Controller.
func firmware(obj Path, param string) (string, Type, bool) {
	type key struct{ obj, param string }
	v, ok := map[key]struct {
		v string
		t Type
	}{
		{"Device.DeviceInfo.FirmwareImage.1.", "Status"}:    {"Active", String},
		{"Device.DeviceInfo.FirmwareImage.1.", "Available"}: {"true", Boolean},
		{"Device.DeviceInfo.FirmwareImage.1.", "Version"}:   {"1.0", String},
		{"Device.DeviceInfo.FirmwareImage.2.", "Status"}:    {"Active", String},
		{"Device.DeviceInfo.FirmwareImage.2.", "Available"}: {"false", Boolean},
		{"Device.DeviceInfo.FirmwareImage.2.", "Version"}:   {"2.0", String},
		{"Device.LocalAgent.Controller.3.", "Alias"}:        {"cpe-1", String},
		{"Device.LocalAgent.Controller.3.", "EndpointID"}:   {"proto::ctl", String},
	}[key{obj.String(), param}]
	return v.v, v.t, ok
}

type matchCase struct {
	p, c string
	want bool
	code usp.Code
}

func checkMatch(t *testing.T, name string, f func(p, c Path) (bool, error), tests []matchCase) {
	t.Helper()
	for _, tt := range tests {
		got, err := f(mustParse(t, tt.p), mustParse(t, tt.c))
		if tt.code != 0 {
			if !errors.Is(err, tt.code) {
				t.Errorf("%s(%q, %q) = %v, %v; want error %v", name, tt.p, tt.c, got, err, tt.code)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s(%q, %q) = %v, %v; want %v", name, tt.p, tt.c, got, err, tt.want)
		}
	}
}

const fi = "Device.DeviceInfo.FirmwareImage."

func TestMatch(t *testing.T) {
	match := func(p, c Path) (bool, error) { return p.Match(c, firmware) }
	checkMatch(t, "Match", match, []matchCase{
		{p: fi + "2.Version", c: fi + "2.Version", want: true},
		{p: fi + "1.Version", c: fi + "2.Version"},
		{p: fi + "2.Version", c: fi + "2.Status"},
		{p: fi + "*.Version", c: fi + "2.Version", want: true},
		{p: fi + "*.", c: fi + "2.", want: true},
		{p: fi + "*.", c: fi + "2.Version"}, // different kind: use Covers
		{p: fi + "2.", c: fi + "2.Version"}, // different length
		{p: fi + "*.Download()", c: fi + "2.Download()", want: true},
		{p: fi + "*.Download()", c: fi + "2.Download"}, // command vs parameter
		{p: "Device.Boot!", c: "Device.Boot!", want: true},
		{p: "Device.Boot!", c: "Device.Boot"},
		{p: fi + "*.", c: fi}, // table vs instance
		{p: fi, c: fi, want: true},
		// Search expressions and unique keys (R-ARC.9, R-ARC.11).
		{p: fi + `[Status=="Active"].Version`, c: fi + "1.Version", want: true},
		{p: fi + `[Status=="Active"].Version`, c: fi + "2.Version", want: true},
		{p: fi + `[Status=="Active"&&Available==true].Version`, c: fi + "1.Version", want: true},
		{p: fi + `[Status=="Active"&&Available==true].Version`, c: fi + "2.Version"},
		{p: fi + `[Version!="1.0"].`, c: fi + "2.", want: true},
		{p: fi + `[Version!="1.0"].`, c: fi + "1."},
		{p: fi + `[NoSuchParam=="x"].`, c: fi + "1."}, // absent parameter: no match
		{p: fi + `[Status=="Active"].`, c: fi + "3."}, // absent instance
		{p: `Device.LocalAgent.Controller.[Alias=="cpe-1"].EndpointID`, c: "Device.LocalAgent.Controller.3.EndpointID", want: true},
		{p: `Device.LocalAgent.Controller.[Alias=="cpe-2"].EndpointID`, c: "Device.LocalAgent.Controller.3.EndpointID"},
		// Invalid expression: wraps 7008 whatever the data.
		{p: fi + `[Available=="true"].`, c: fi + "1.", code: usp.InvalidPathSyntax},
		{p: fi + `[Status<"b"].`, c: fi + "1.", code: usp.InvalidPathSyntax},
		// An invalid component is reported even when an earlier one is false.
		{p: fi + `[Status=="Idle"&&Available=="true"].`, c: fi + "1.", code: usp.InvalidPathSyntax},
		// Reference following is the data model's job (usp.InvalidPath).
		{p: "Device.DeviceInfo.ActiveFirmwareImage+.Name", c: fi + "1.Name", code: usp.InvalidPath},
		// The concrete path must be concrete.
		{p: fi + "*.", c: fi + "*.", code: usp.InvalidPath},
		{p: fi + "1.", c: fi + `[Status=="Active"].`, code: usp.InvalidPath},
	})
}

// Subscriptions: an object path covers everything below it.
func TestCovers(t *testing.T) {
	covers := func(p, c Path) (bool, error) { return p.Covers(c, firmware) }
	checkMatch(t, "Covers", covers, []matchCase{
		{p: "Device.", c: fi + "2.Version", want: true},
		{p: "Device.DeviceInfo.", c: fi + "2.Version", want: true},
		{p: fi, c: fi + "2.Version", want: true},
		{p: fi, c: fi + "2.", want: true},
		{p: fi, c: fi, want: true},
		{p: fi + "*.", c: fi + "2.Version", want: true},
		{p: fi + "*.", c: fi + "2.", want: true},
		{p: fi + "*.", c: fi},
		{p: fi + "1.", c: fi + "2.Version"},
		{p: fi + "2.", c: fi + "2.Download()", want: true},
		{p: "Device.", c: "Device.Boot!", want: true},
		{p: "Device.DeviceInfo.", c: "Device.DeviceInfoX.Y"},
		{p: "Device.DeviceInfo.", c: "Device.DeviceInfo"}, // a parameter named like the object
		{p: "Device.DeviceInfo.", c: "Device.LocalAgent.Controller.3."},
		{p: fi + `[Status=="Active"&&Available==true].`, c: fi + "1.Version", want: true},
		{p: fi + `[Status=="Active"&&Available==true].`, c: fi + "2.Version"},
		// Non-object paths cover what they match.
		{p: fi + "*.Version", c: fi + "2.Version", want: true},
		{p: fi + "*.Version", c: fi + "2.Status"},
		{p: "Device.DeviceInfo.ActiveFirmwareImage+.", c: fi + "1.Name", code: usp.InvalidPath},
		{p: "Device.", c: fi + "*.", code: usp.InvalidPath},
	})
}

func TestMatch_NilLookup(t *testing.T) {
	p := mustParse(t, fi+`[Status=="Active"].`)
	if ok, err := p.Match(mustParse(t, fi+"1."), nil); ok || err != nil {
		t.Errorf("Match with a nil lookup = %v, %v; want false, nil", ok, err)
	}
	p = mustParse(t, fi+"*.")
	if ok, err := p.Match(mustParse(t, fi+"1."), nil); !ok || err != nil {
		t.Errorf("Match without expressions, nil lookup = %v, %v; want true, nil", ok, err)
	}
}

func TestMatch_LookupSeesInstancePath(t *testing.T) {
	p := mustParse(t, `Device.X.[A==1].Y.[B==2].Z`)
	c := mustParse(t, "Device.X.4.Y.7.Z")
	var seen []string
	_, err := p.Match(c, func(obj Path, param string) (string, Type, bool) {
		seen = append(seen, obj.String()+param)
		return map[string]string{"A": "1", "B": "2"}[param], Int, true
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || seen[0] != "Device.X.4.A" || seen[1] != "Device.X.4.Y.7.B" {
		t.Errorf("lookup saw %q", seen)
	}
}

func TestSelects(t *testing.T) {
	inst := mustParse(t, fi+"2.")
	for _, tt := range []struct {
		sel  string // a path whose third segment is the selector
		want bool
	}{
		{fi + "2.", true},
		{fi + "1.", false},
		{fi + "*.", true},
		{fi + `[Version=="2.0"].`, true},
		{fi + `[Version=="1.0"].`, false},
		{fi + "2.Version", true},
	} {
		got, err := mustParse(t, tt.sel).At(3).Selects(inst, firmware)
		if err != nil || got != tt.want {
			t.Errorf("%s selects %s = %v, %v; want %v", tt.sel, inst, got, err, tt.want)
		}
	}
	if ok, _ := mustParse(t, fi).At(2).Selects(inst, firmware); ok {
		t.Error("a name segment selects an instance")
	}
	if _, err := mustParse(t, fi+"*.").At(3).Selects(mustParse(t, fi), firmware); !errors.Is(err, usp.InvalidPath) {
		t.Errorf("Selects on a table path: %v, want InvalidPath", err)
	}
}
