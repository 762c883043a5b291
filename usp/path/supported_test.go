package path

import "testing"

// usp.md 6.1: Supported-DM paths use {i}; GetSupportedDM also allows a
// table without its final "{i}.".
func TestParseSupported_6_1(t *testing.T) {
	checkValid(t, ParseSupported, []validCase{
		{in: "Device.DeviceInfo.FirmwareImage.{i}.Status", kind: Parameter, shape: "nnnpn"},
		{in: "Device.DeviceInfo.FirmwareImage.{i}.", kind: Object, shape: "nnnp"},
		{in: "Device.DeviceInfo.FirmwareImage.", kind: Object, shape: "nnn"},
		{in: "Device.DeviceInfo.FirmwareImage.{i}.Download()", kind: Command, shape: "nnnpn"},
		{in: "Device.LocalAgent.TransferComplete!", kind: Event, shape: "nnn"},
		{in: "Device.X.{i}.Y.{i}.Z", kind: Parameter, shape: "nnpnpn"},
		{in: "Device.", kind: Object, shape: "n"},
	})
	checkInvalid(t, ParseSupported, []invalidCase{
		{"", "empty path"},
		{"Device.DeviceInfo.FirmwareImage.1.Status", "not allowed in a supported data model path"},
		{"Device.DeviceInfo.FirmwareImage.*.Status", "not allowed in a supported data model path"},
		{`Device.DeviceInfo.FirmwareImage.[Status=="Active"].`, "not allowed in a supported data model path"},
		{"Device.DeviceInfo.ActiveFirmwareImage+.Name", "reference following is not allowed"},
		{"Device.X.{i}", "must be followed by '.'"},
		{"Device.X.{i}.{i}.", "must follow a table name"},
		{"Device.X.{I}.", "invalid placeholder"},
		{"Device.X.{i.", "invalid placeholder"},
		{"{i}.X.", "must begin with an object name"},
		{"Device..{i}.", "empty segment"},
	})
}

func TestSchema(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{fi + `[Status=="Active"&&Available==true].Version`, fi + "{i}.Version"},
		{fi + "2.", fi + "{i}."},
		{"Device.X.*.Y.3.Z()", "Device.X.{i}.Y.{i}.Z()"},
		{"Device.Boot!", "Device.Boot!"},
		{"Device.X.Ref+.Y", "Device.X.Ref+.Y"}, // kept: resolve references first
	} {
		got := mustParse(t, tt.in).Schema()
		if got.String() != tt.want {
			t.Errorf("Schema(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if _, err := ParseSupported(tt.want); err == nil && !got.Equal(mustParseSupported(t, tt.want)) {
			t.Errorf("Schema(%q) is not equal to ParseSupported(%q)", tt.in, tt.want)
		}
	}
	if !(Path{}).Schema().IsZero() {
		t.Error("Schema of the zero Path is not zero")
	}
}

func mustParseSupported(t *testing.T, s string) Path {
	t.Helper()
	p, err := ParseSupported(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMatchSupported(t *testing.T) {
	for _, tt := range []struct {
		p, schema string
		want      bool
	}{
		{fi + "2.Status", fi + "{i}.Status", true},
		{fi + "*.Status", fi + "{i}.Status", true},
		{fi + `[Status=="Active"].Status`, fi + "{i}.Status", true},
		{fi + "{i}.Status", fi + "{i}.Status", true},
		{fi + "2.Status", fi + "{i}.Version", false},
		{fi + "2.Status", fi + "{i}.", false},
		{fi + "2.", fi + "{i}.", true},
		{fi, fi + "{i}.", true}, // the table addresses its {i}. form
		{fi + "2.", fi, false},  // not the other way round
		{fi, fi, true},
		{fi + "2.Download()", fi + "{i}.Download()", true},
		{fi + "2.Download()", fi + "{i}.Download", false},
		{"Device.Boot!", "Device.Boot!", true},
		{"Device.DeviceInfo.", "Device.DeviceInfo.", true},
		{"Device.DeviceInfo.", "Device.", false},
		{"Device.DeviceInfo.ActiveFirmwareImage+.Name", fi + "{i}.Name", false},
		{"Device.DeviceInfo.ActiveFirmwareImage", "Device.DeviceInfo.ActiveFirmwareImage", true},
	} {
		var p Path
		var err error
		if p, err = Parse(tt.p); err != nil {
			p = mustParseSupported(t, tt.p)
		}
		schema := mustParseSupported(t, tt.schema)
		if got := p.MatchSupported(schema); got != tt.want {
			t.Errorf("%q.MatchSupported(%q) = %v, want %v", tt.p, tt.schema, got, tt.want)
		}
	}
	// A schema with instance numbers is not a schema.
	if mustParse(t, fi+"2.").MatchSupported(mustParse(t, fi+"2.")) {
		t.Error("MatchSupported accepted an instantiated path as the schema")
	}
	if (Path{}).MatchSupported(Path{}) {
		t.Error("the zero Path matches itself as a schema")
	}
}
