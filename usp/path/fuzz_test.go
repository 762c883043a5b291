package path

import (
	"testing"

	"brickyard/usp"
)

// seedPaths are valid and invalid paths of every form: the fuzz corpus and
// the round-trip test's input.
var seedPaths = []string{
	"Device.",
	"Device.DeviceInfo.SoftwareVersion",
	"Device.DeviceInfo.FirmwareImage.2.",
	"Device.DeviceInfo.FirmwareImage.2.Download()",
	"Device.Boot!",
	"Device.LocalAgent.TransferComplete!",
	"Device.DeviceInfo.FirmwareImage.*.Status",
	`Device.LocalAgent.Controller.[Alias=="cpe-1"].`,
	`Device.DeviceInfo.FirmwareImage.[Status=="Active"&&Version!="1.0"].Name`,
	`Device.DeviceInfo.FirmwareImage.[Status=="Active"&&Available==true].Version`,
	`Device.X.[ A == "x y" && B != +0123 && C~="z" ].`,
	"Device.X.[N<-5&&M>=1.25&&E==1&&F==false].",
	"Device.X.[ValidLifetime<2021-06-06T08:00:00Z].",
	"Device.X.[T>=2021-06-06T08:00:00.5+02:00].",
	`Device.X.[A=="say %22hi%22 100%25 %41"].`,
	`Device.X.[A=="].[&&||{i}"].`,
	`Device.X.[Enable=="true"].`,
	"Device.DeviceInfo.ActiveFirmwareImage+.Name",
	"Device.X.Refs#2+.Name",
	"Device.X.Refs#*+.Y.3.Reset()",
	"Device.X.Ref+.",
	"Device.DeviceInfo.FirmwareImage.{i}.Status",
	// invalid
	"",
	"Device..X",
	".Device",
	"Device.X.0.",
	"Device.X.01.",
	"Device.X.4294967296.",
	"Device.X.[].",
	"Device.X.[A=={i}].",
	"Device.X.[Stats.BytesSent>0].",
	"Device.X.[A==1||B==2].",
	"Device.X.[A==cpe].",
	`Device.X.[A=="100%"].`,
	"Device.X.[A==1",
	`Device.X.[A=="x].`,
	"Device.Reboot()x",
	"Device.Boot!.",
	"Device.X.Ref+",
	"Device.X.Ref+Name",
	"Device.X.Refs#0+.Y",
	"Device.X-Y.",
}

func FuzzParse(f *testing.F) {
	for _, s := range seedPaths {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, parse := range []func(string) (Path, error){Parse, ParseSupported} {
			p, err := parse(s)
			if err != nil {
				if c, ok := usp.CodeOf(err); !ok || c != usp.InvalidPathSyntax {
					t.Fatalf("parse(%q): error %v carries code %v, want 7008", s, err, c)
				}
				continue
			}
			str := p.String()
			q, err := parse(str)
			if err != nil {
				t.Fatalf("parse(%q) = %q, which does not re-parse: %v", s, str, err)
			}
			if !q.Equal(p) || q.String() != str {
				t.Fatalf("parse(%q) = %q, re-parsed as %q", s, str, q)
			}
			// The other methods must not panic on anything Parse accepts.
			_ = p.Schema().String()
			_ = p.Parent().String()
			_ = p.Depth() + len(p.Name())
			_ = p.MatchSupported(p.Schema())
			if !p.IsSearch() {
				if ok, err := p.Match(p, nil); !ok && err == nil {
					t.Fatalf("%q does not match itself", str)
				}
			}
		}
	})
}
