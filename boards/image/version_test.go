package image_test

import (
	"strings"
	"testing"

	"brickyard/boards/image"
)

func TestVersion_ParseAndPrint(t *testing.T) {
	for _, tc := range []struct {
		s string
		v image.Version
	}{
		{"0.0.0", image.Version{}},
		{"2.5.0", image.Version{Major: 2, Minor: 5}},
		{"2.5.0+7", image.Version{Major: 2, Minor: 5, Build: 7}},
		{"1.2.3+4", image.Version{1, 2, 3, 4}},
		{"10.20.300", image.Version{Major: 10, Minor: 20, Patch: 300}},
		{"255.255.65535+4294967295", image.Version{255, 255, 65535, 4294967295}},
	} {
		got, err := image.ParseVersion(tc.s)
		if err != nil || got != tc.v {
			t.Errorf("ParseVersion(%q) = %+v, %v; want %+v", tc.s, got, err, tc.v)
		}
		if s := tc.v.String(); s != tc.s {
			t.Errorf("%+v.String() = %q, want %q", tc.v, s, tc.s)
		}
	}
}

func TestVersion_ParseRejects(t *testing.T) {
	for _, s := range []string{
		"", "2", "2.5", "2.5.0.1", "2.5.0+", "+7", "2.5.0+7+8", "v2.5.0",
		"2..0", ".2.5", "2.5.", " 2.5.0", "2.5.0 ", "-1.0.0", "+1.0.0", "1.+1.0",
		"256.0.0", "0.256.0", "0.0.65536", "0.0.0+4294967296",
		"02.5.0", "2.05.0", "2.5.00", "2.5.0+07", "2.5.0+0", "1_0.0.0", "0x1.0.0", "2.5.0-rc1",
	} {
		if v, err := image.ParseVersion(s); err == nil {
			t.Errorf("ParseVersion(%q) = %+v, want an error", s, v)
		} else if !strings.Contains(err.Error(), "MAJOR.MINOR.PATCH") {
			t.Errorf("ParseVersion(%q) error %q does not say the expected form", s, err)
		}
	}
}

func TestVersion_Compare(t *testing.T) {
	for _, tc := range []struct {
		a, b image.Version
		want int
	}{
		{image.Version{}, image.Version{}, 0},
		{image.Version{2, 5, 0, 7}, image.Version{2, 5, 0, 7}, 0},
		{image.Version{1, 255, 65535, 4294967295}, image.Version{2, 0, 0, 0}, -1},
		{image.Version{2, 4, 65535, 9}, image.Version{2, 5, 0, 0}, -1},
		{image.Version{2, 5, 1, 0}, image.Version{2, 5, 0, 9}, 1},
		{image.Version{2, 5, 0, 8}, image.Version{2, 5, 0, 7}, 1},
		{image.Version{3, 0, 0, 0}, image.Version{2, 9, 9, 9}, 1},
	} {
		if got := tc.a.Compare(tc.b); got != tc.want {
			t.Errorf("%v.Compare(%v) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := tc.b.Compare(tc.a); got != -tc.want {
			t.Errorf("%v.Compare(%v) = %d, want %d", tc.b, tc.a, got, -tc.want)
		}
	}
}
