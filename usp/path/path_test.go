package path

import "testing"

func TestPath_ParentNameDepth(t *testing.T) {
	for _, tt := range []struct {
		in, parent, name string
		depth            int
	}{
		{"Device.", "", "Device", 1},
		{"Device.DeviceInfo.", "Device.", "DeviceInfo", 2},
		{fi, "Device.DeviceInfo.", "FirmwareImage", 3},
		{fi + "2.", fi, "FirmwareImage", 3},
		{fi + "2.Name", fi + "2.", "Name", 3},
		{fi + "2.Download()", fi + "2.", "Download", 3},
		{"Device.Boot!", "Device.", "Boot", 1},
		{"Device.DeviceInfo.SoftwareVersion", "Device.DeviceInfo.", "SoftwareVersion", 2},
		{fi + `[Status=="Active"].Version`, fi + `[Status=="Active"].`, "Version", 3},
		{"Device.X.Ref+.Y", "Device.X.Ref+.", "Y", 3},
		{"Device.X.Ref+.", "Device.X.", "Ref", 3},
		{"Device", "", "Device", 0},
	} {
		p := mustParse(t, tt.in)
		if got := p.Parent().String(); got != tt.parent {
			t.Errorf("Parent(%q) = %q, want %q", tt.in, got, tt.parent)
		}
		if got := p.Name(); got != tt.name {
			t.Errorf("Name(%q) = %q, want %q", tt.in, got, tt.name)
		}
		if got := p.Depth(); got != tt.depth {
			t.Errorf("Depth(%q) = %d, want %d", tt.in, got, tt.depth)
		}
	}
	var zero Path
	if !zero.IsZero() || zero.String() != "" || zero.Name() != "" || zero.Depth() != 0 || !zero.Parent().IsZero() {
		t.Errorf("zero Path: %q %q %d", zero, zero.Name(), zero.Depth())
	}
}

// R-GET (usp.md 6.4): max_depth 1 = the requested object's own parameters,
// 2 = plus first-level children, and so on.
func TestPath_Depth_MaxDepth(t *testing.T) {
	req := mustParse(t, "Device.DeviceInfo.")
	objs := []string{"Device.DeviceInfo.", fi + "1.", fi + "1.Sub.", fi + "1.Sub.2.Leaf."}
	for maxDepth, want := range map[int]int{1: 1, 2: 2, 3: 3, 4: 4} {
		n := 0
		for _, o := range objs {
			if mustParse(t, o).Depth()-req.Depth() < maxDepth {
				n++
			}
		}
		if n != want {
			t.Errorf("max_depth %d selects %d objects, want %d", maxDepth, n, want)
		}
	}
}

func TestPath_ParentDoesNotAlias(t *testing.T) {
	p := mustParse(t, fi+"2.Name")
	parent := p.Parent()
	// Growing a parent must not overwrite the child's segments.
	grown := append(parent.segs, Segment{kind: SegName, name: "Other"})
	_ = grown
	if p.String() != fi+"2.Name" {
		t.Errorf("appending to Parent's segments changed the child: %q", p)
	}
}

func TestPath_Segments(t *testing.T) {
	p := mustParse(t, fi+`[Status=="Active"].Version`)
	segs := p.Segments()
	if len(segs) != p.Len() || segs[3].Kind() != SegSearch || segs[4].Name() != "Version" {
		t.Fatalf("Segments() = %v", segs)
	}
	segs[4] = Segment{kind: SegName, name: "Changed"}
	segs[3].Exprs()[0].Value = "Changed"
	if p.String() != fi+`[Status=="Active"].Version` {
		t.Errorf("modifying Segments()/Exprs() results changed the path: %q", p)
	}
	if got := p.At(3).String(); got != `[Status=="Active"]` {
		t.Errorf("At(3).String() = %q", got)
	}
	if !p.At(3).IsSelector() || p.At(2).IsSelector() {
		t.Error("IsSelector")
	}
}

func TestPath_Equal(t *testing.T) {
	a := mustParse(t, fi+`[ Status == "Active" ].Version`)
	b := mustParse(t, fi+`[Status=="Active"].Version`)
	if !a.Equal(b) || !b.Equal(a) {
		t.Error("equal paths compare unequal")
	}
	for _, s := range []string{fi + `[Status!="Active"].Version`, fi + `[Status=="Active"].Status`, fi + `[Status=="Active"].`, fi + "*.Version"} {
		if a.Equal(mustParse(t, s)) {
			t.Errorf("%q equals %q", a, s)
		}
	}
}

func TestKindStrings(t *testing.T) {
	if Object.String() != "object" || Event.String() != "event" || Kind(9).String() != "Kind(9)" {
		t.Error("Kind.String")
	}
	if SegSearch.String() != "search" || SegKind(0).String() != "SegKind(0)" {
		t.Error("SegKind.String")
	}
	if Contains.String() != "~=" || Op(0).String() != "Op(0)" {
		t.Error("Op.String")
	}
}
