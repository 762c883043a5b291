package path

import (
	"errors"
	"strings"
	"testing"

	"brickyard/usp"
)

// shape writes a path's segment kinds one letter each: n name, i instance,
// * wildcard, s search, p placeholder, r reference.
func shape(p Path) string {
	var b strings.Builder
	for _, s := range p.segs {
		b.WriteByte(" ni*spr"[s.kind])
	}
	return b.String()
}

type validCase struct {
	in     string
	kind   Kind
	shape  string
	canon  string // "" means the input is canonical
	search bool
}

func checkValid(t *testing.T, parse func(string) (Path, error), tests []validCase) {
	t.Helper()
	for _, tt := range tests {
		p, err := parse(tt.in)
		if err != nil {
			t.Errorf("parse(%q): %v", tt.in, err)
			continue
		}
		canon := tt.canon
		if canon == "" {
			canon = tt.in
		}
		if got := p.String(); got != canon {
			t.Errorf("parse(%q).String() = %q, want %q", tt.in, got, canon)
		}
		if p.Kind() != tt.kind {
			t.Errorf("parse(%q).Kind() = %v, want %v", tt.in, p.Kind(), tt.kind)
		}
		if got := shape(p); got != tt.shape {
			t.Errorf("parse(%q) shape = %q, want %q", tt.in, got, tt.shape)
		}
		if p.IsSearch() != tt.search {
			t.Errorf("parse(%q).IsSearch() = %v, want %v", tt.in, p.IsSearch(), tt.search)
		}
		if p.IsPartial() != (tt.kind == Object) {
			t.Errorf("parse(%q).IsPartial() = %v", tt.in, p.IsPartial())
		}
	}
}

type invalidCase struct {
	in   string
	want string // a substring of the message, naming what was wrong
}

func checkInvalid(t *testing.T, parse func(string) (Path, error), tests []invalidCase) {
	t.Helper()
	for _, tt := range tests {
		p, err := parse(tt.in)
		if err == nil {
			t.Errorf("parse(%q) = %q, want an error", tt.in, p)
			continue
		}
		if !errors.Is(err, usp.InvalidPathSyntax) {
			t.Errorf("parse(%q) error %v does not wrap usp.InvalidPathSyntax", tt.in, err)
		}
		if c, ok := usp.CodeOf(err); !ok || c != 7008 {
			t.Errorf("parse(%q): CodeOf = %d, %v; want 7008", tt.in, c, ok)
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parse(%q) error %q does not mention %q", tt.in, err, tt.want)
		}
		if !p.IsZero() {
			t.Errorf("parse(%q) returned a non-zero Path with its error", tt.in)
		}
	}
}

// usp.md 6.1: object, parameter, command and event paths.
func TestParse_PathKinds_6_1(t *testing.T) {
	checkValid(t, Parse, []validCase{
		{in: "Device.", kind: Object, shape: "n"},
		{in: "Device.DeviceInfo.", kind: Object, shape: "nn"},
		{in: "Device.DeviceInfo.FirmwareImage.", kind: Object, shape: "nnn"},
		{in: "Device.DeviceInfo.FirmwareImage.2.", kind: Object, shape: "nnni"},
		{in: "Device.DeviceInfo.FirmwareImage.2.Status", kind: Parameter, shape: "nnnin"},
		{in: "Device.DeviceInfo.SoftwareVersion", kind: Parameter, shape: "nnn"},
		{in: "Device.DeviceInfo.FirmwareImage.2.Download()", kind: Command, shape: "nnnin"},
		{in: "Device.Reboot()", kind: Command, shape: "nn"},
		{in: "Device.Boot!", kind: Event, shape: "nn"},
		{in: "Device.LocalAgent.TransferComplete!", kind: Event, shape: "nnn"},
		{in: "Device", kind: Parameter, shape: "n"},
		{in: "_x.Y_1.z9", kind: Parameter, shape: "nnn"},
		{in: "Device.X.4294967295.", kind: Object, shape: "nni"},
	})
}

// usp.md 6.2, R-ARC.8: instance numbers are positive integers ≥ 1.
func TestParse_InstanceNumber_RARC8(t *testing.T) {
	checkValid(t, Parse, []validCase{
		{in: "Device.X.1.", kind: Object, shape: "nni"},
		{in: "Device.X.10.Y.3.Z", kind: Parameter, shape: "nninin"},
	})
	checkInvalid(t, Parse, []invalidCase{
		{"Device.X.0.", "instance number 0"},
		{"Device.X.00.", "instance number 0"},
		{"Device.X.01.", "leading zero"},
		{"Device.X.4294967296.", "out of range"},
		{"Device.X.99999999999999999999.", "out of range"},
		{"Device.X.1", "must be followed by '.'"},
		{"Device.X.1x.", "after instance selector"},
		{"Device.X.1.2.", "must follow a table name"},
		{"1.X.", "must begin with an object name"},
	})
}

// usp.md 6.2: the wildcard selects every instance.
func TestParse_Wildcard_6_2(t *testing.T) {
	checkValid(t, Parse, []validCase{
		{in: "Device.DeviceInfo.FirmwareImage.*.Status", kind: Parameter, shape: "nnn*n", search: true},
		{in: "Device.DeviceInfo.FirmwareImage.*.", kind: Object, shape: "nnn*", search: true},
		{in: "Device.X.*.Y.*.Z()", kind: Command, shape: "nn*n*n", search: true},
	})
	checkInvalid(t, Parse, []invalidCase{
		{"Device.X.*", "must be followed by '.'"},
		{"Device.X.**.", "after instance selector"},
		{"*.X.", "must begin with an object name"},
	})
}

// usp.md 6.2, R-ARC.11: unique-key addressing is a search expression over
// the key parameters.
func TestParse_UniqueKey_RARC11(t *testing.T) {
	checkValid(t, Parse, []validCase{
		{in: `Device.LocalAgent.Controller.[Alias=="cpe-1"].`, kind: Object, shape: "nnns", search: true},
		{in: `Device.LocalAgent.MTP.[Alias=="a"&&Protocol=="MQTT"].Enable`, kind: Parameter, shape: "nnnsn", search: true},
	})
}

// usp.md 6.3, R-ARC.9/10: search expressions.
func TestParse_SearchExpression_RARC9(t *testing.T) {
	const fi = "Device.DeviceInfo.FirmwareImage."
	checkValid(t, Parse, []validCase{
		{in: fi + `[Status=="Active"].Version`, kind: Parameter, shape: "nnnsn", search: true},
		{in: fi + `[Status=="Active"&&Version!="1.0"].`, kind: Object, shape: "nnns", search: true},
		{in: fi + `[Available==true].Name`, kind: Parameter, shape: "nnnsn", search: true},
		{in: fi + `[Available==false].Name`, kind: Parameter, shape: "nnnsn", search: true},
		{in: fi + `[Available==1].Name`, kind: Parameter, shape: "nnnsn", search: true},
		{in: "Device.X.[N==123].", kind: Object, shape: "nns", search: true},
		{in: "Device.X.[N==+123].", kind: Object, shape: "nns", search: true},
		{in: "Device.X.[N==0123].", kind: Object, shape: "nns", search: true},
		{in: "Device.X.[N>-5].", kind: Object, shape: "nns", search: true},
		{in: "Device.X.[N<=1.25].", kind: Object, shape: "nns", search: true},
		{in: "Device.X.[N>=0].", kind: Object, shape: "nns", search: true},
		{in: "Device.X.[N<10].", kind: Object, shape: "nns", search: true},
		{in: `Device.X.[L~="b"].`, kind: Object, shape: "nns", search: true},
		{in: "Device.X.[ValidLifetime<2021-06-06T08:00:00Z].", kind: Object, shape: "nns", search: true},
		{in: "Device.X.[T>=2021-06-06T08:00:00.5+02:00].", kind: Object, shape: "nns", search: true},
		{in: "Device.X.[A==1&&B!=2&&C<3&&D>4&&E<=5&&F>=6&&G~=7].Y!", kind: Event, shape: "nnsn", search: true},
		{in: "Device.X.[A==1].Y.[B==2].Z()", kind: Command, shape: "nnsnsn", search: true},
		// Whitespace around operators: Agents SHOULD tolerate it.
		{
			in: fi + `[ Status == "Active" && Version != "1.0" ].`, kind: Object, shape: "nnns", search: true,
			canon: fi + `[Status=="Active"&&Version!="1.0"].`,
		},
		{in: "Device.X.[\tN\t<\t3\t].", kind: Object, shape: "nns", search: true, canon: "Device.X.[N<3]."},
		// Percent-escapes in string literals are decoded, and re-encoded.
		{in: `Device.X.[A=="say %22hi%22 100%25"].`, kind: Object, shape: "nns", search: true},
		{in: `Device.X.[A=="%41%62"].`, kind: Object, shape: "nns", search: true, canon: `Device.X.[A=="Ab"].`},
		// Quoted strings hold any byte but '"': brackets, dots, &&, braces.
		{in: `Device.X.[A=="].[&&||{i}"].`, kind: Object, shape: "nns", search: true},
		{in: `Device.X.[A==""].`, kind: Object, shape: "nns", search: true},
		// A quoted boolean parses: only Eval knows the type (see TestEval_Boolean_6_3).
		{in: `Device.X.[Enable=="true"].`, kind: Object, shape: "nns", search: true},
		// Parameters of single-instance sub-objects may be searched.
		{in: "Device.IP.Interface.[Stats.BytesSent>0].Name", kind: Parameter, shape: "nnnsn", search: true},
		// Vendor extension names carry hyphens (TR-106: X_<domain with - for .>_).
		{in: `Device.X_EXAMPLE-COM_Thing.[X_EXAMPLE-COM_Mode=="on"].X_EXAMPLE-COM_Level`, kind: Parameter, shape: "nnsn", search: true},
	})
	p, err := Parse(`Device.X.[A=="say %22hi%22 100%25"&&B>=+1].`)
	if err != nil {
		t.Fatal(err)
	}
	got := p.At(2).Exprs()
	want := []Expr{{Param: "A", Op: Eq, Value: `say "hi" 100%`, Quoted: true}, {Param: "B", Op: Ge, Value: "+1"}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("Exprs() = %#v, want %#v", got, want)
	}
}

// usp.md 6.3: what a search expression may not be.
func TestParse_SearchExpression_Invalid_6_3(t *testing.T) {
	checkInvalid(t, Parse, []invalidCase{
		{"Device.X.[].", "empty search expression"},
		{"Device.X.[ ].", "empty search expression"},
		{"Device.X.[A=={i}].", "curly braces"},
		{"Device.X.[{A}==1].", "curly braces"},
		{"Device.X.[A==1}].", "curly braces"},
		{"Device.X.[Y.1.Z==1].", "descends into a child table"},
		{"Device.X.[Ref+.Name==\"a\"].", "reference following is not allowed in a search expression"},
		{"Device.X.[A==1||B==2].", "only && may join"},
		{"Device.X.[A==1&B==2].", "expected && or ]"},
		{"Device.X.[A==1 B==2].", "expected && or ]"},
		{"Device.X.[A==1&&].", "expected a parameter name"},
		{"Device.X.[&&A==1].", "expected a parameter name"},
		{"Device.X.[A=1].", "expected an operator"},
		{"Device.X.[A<>1].", "expected a literal"},
		{"Device.X.[A 1].", "expected an operator"},
		{"Device.X.[A==].", "expected a literal"},
		{"Device.X.[==1].", "expected a parameter name"},
		{"Device.X.[1A==1].", "expected a parameter name"},
		{"Device.X.[A==cpe].", "not a number, boolean or dateTime"},
		{"Device.X.[A==True].", "not a number, boolean or dateTime"},
		{"Device.X.[A==1e5].", "not a number, boolean or dateTime"},
		{"Device.X.[A==.5].", "not a number, boolean or dateTime"},
		{"Device.X.[A==5.].", "not a number, boolean or dateTime"},
		{"Device.X.[A==2021-13-06T08:00:00Z].", "not a number, boolean or dateTime"},
		{`Device.X.[A=="100%"].`, "bad percent-escape"},
		{`Device.X.[A=="%2"].`, "bad percent-escape"},
		{`Device.X.[A=="%zz"].`, "bad percent-escape"},
		{"Device.X.[A==1", "unterminated search expression"},
		{"Device.X.[A==1&&", "unterminated search expression"},
		{"Device.X.[A", "unterminated search expression"},
		{"Device.X.[A==", "unterminated search expression"},
		{"Device.X.[", "unterminated search expression"},
		{`Device.X.[A=="x].`, "unterminated string literal"},
		{"Device.X.[A==1]", "must be followed by '.'"},
		{"Device.X.[A==1]Y", "after instance selector"},
		{"Device.[A==1].[B==2].", "must follow a table name"},
	})
}

// usp.md 6.2: reference following.
func TestParse_ReferenceFollowing_6_2(t *testing.T) {
	checkValid(t, Parse, []validCase{
		{in: "Device.DeviceInfo.ActiveFirmwareImage+.Name", kind: Parameter, shape: "nnrn", search: true},
		{in: "Device.X.Refs#2+.Name", kind: Parameter, shape: "nnrn", search: true},
		{in: "Device.X.Refs#*+.Name", kind: Parameter, shape: "nnrn", search: true},
		{in: "Device.X.1.A+.B+.C", kind: Parameter, shape: "nnirrn", search: true},
		{in: "Device.X.Ref+.Y.2.Reset()", kind: Command, shape: "nnrnin", search: true},
		// Lenient: a reference ending an object path names the referenced object.
		{in: "Device.DeviceInfo.ActiveFirmwareImage+.", kind: Object, shape: "nnr", search: true},
	})
	p, _ := Parse("Device.X.Refs#*+.Name")
	if s := p.At(2); s.Name() != "Refs" || s.Number() != RefAll {
		t.Errorf("Refs#*+ segment = %q %d, want Refs RefAll", s.Name(), s.Number())
	}
	p, _ = Parse("Device.X.Refs#7+.Name")
	if s := p.At(2); s.Number() != 7 {
		t.Errorf("Refs#7+ Number = %d", s.Number())
	}
	checkInvalid(t, Parse, []invalidCase{
		{"Device.DeviceInfo.ActiveFirmwareImage+", "must be followed by '.'"},
		{"Device.DeviceInfo.ActiveFirmwareImage+Name", "must be followed by '.'"},
		{"Device.X.Refs#2+", "must be followed by '.'"},
		{"Device.X.Refs#0+.Name", "list index 0"},
		{"Device.X.Refs#02+.Name", "leading zero"},
		{"Device.X.Refs#+.Name", "expected a list index or '*'"},
		{"Device.X.Refs#2.Name", "expected '+'"},
		{"Device.X.Refs#*.Name", "expected '+'"},
		{"Device.X.Refs#", "expected a list index"},
		{"Device.X.Ref+.1.", "must follow a table name"},
		{"Device.X.Ref+.*.", "must follow a table name"},
		{"Device+.X", "must begin with an object name"},
	})
}

// Names, dots, endings and limits.
func TestParse_Invalid_Structure(t *testing.T) {
	checkInvalid(t, Parse, []invalidCase{
		{"", "empty path"},
		{".", "begins with '.'"},
		{".Device.", "begins with '.'"},
		{"Device..", "empty segment"},
		{"Device..X", "empty segment"},
		{"Device.X..Y", "empty segment"},
		{"Device.-X.", `unexpected "-" at offset 7`},
		{"Device.X Y", `unexpected " " after name X`},
		{"Device. X", `unexpected " "`},
		{" Device.", `unexpected " "`},
		{"Device.Ä.", `unexpected "Ä" at offset 7`},
		{"Device.\xff.", `unexpected "\xff" at offset 7`},
		{"Device.9X.", "after instance selector"},
		{"Device.Reboot()x", "unexpected \"x\" after Reboot()"},
		{"Device.Reboot().", "unexpected \".\" after Reboot()"},
		{"Device.Reboot(", "expected \"()\""},
		{"Device.Reboot(x)", "expected \"()\""},
		{"Device.Boot!.", "unexpected \".\" after Boot!"},
		{"Device.Boot!!", "unexpected \"!\" after Boot!"},
		{"Device.X.{i}.", "only allowed in supported data model paths"},
		{"Device.X.{j}.", "invalid placeholder"},
		{"Device.X.1.Y}", `unexpected "}"`},
	})
}

func TestParse_MaxLen(t *testing.T) {
	ok := "Device." + strings.Repeat("A", MaxLen-len("Device."))
	if _, err := Parse(ok); err != nil {
		t.Errorf("Parse of a %d-byte path: %v", len(ok), err)
	}
	_, err := Parse(ok + "B")
	if !errors.Is(err, usp.InvalidPathSyntax) || !strings.Contains(err.Error(), "32768-byte limit") {
		t.Errorf("Parse of a %d-byte path: %v, want the 32768-byte limit named", len(ok)+1, err)
	}
	if len(err.Error()) > 400 {
		t.Errorf("error message for an overlong path is %d bytes long", len(err.Error()))
	}
}

func TestParse_ErrorNamesOffset(t *testing.T) {
	_, err := Parse("Device.X..Y")
	const want = `path "Device.X..Y": empty segment ("..") at offset 9: 7008 Invalid path syntax`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant    %s", err, want)
	}
	_, err = Parse(`Device.X.[A=="a"&&B~"b"].`)
	if err == nil || !strings.Contains(err.Error(), "after B") || !strings.Contains(err.Error(), "at offset 19") {
		t.Errorf("error = %v, want it to name B and offset 19", err)
	}
}

func TestParse_RoundTrip(t *testing.T) {
	for _, s := range seedPaths {
		p, err := Parse(s)
		if err != nil {
			continue
		}
		q, err := Parse(p.String())
		if err != nil {
			t.Errorf("Parse(%q).String() = %q does not re-parse: %v", s, p, err)
			continue
		}
		if !q.Equal(p) || q.String() != p.String() {
			t.Errorf("round trip of %q: %q then %q", s, p, q)
		}
	}
}
