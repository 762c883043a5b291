package image

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
)

// Version is an image's version: major.minor.patch, plus a build number
// that is printed only when it is not zero ("2.5.0", "2.5.0+17").
type Version struct {
	Major, Minor uint8
	Patch        uint16
	Build        uint32
}

// String prints "major.minor.patch", followed by "+build" when Build ≠ 0.
func (v Version) String() string {
	b := make([]byte, 0, 24)
	b = strconv.AppendUint(b, uint64(v.Major), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(v.Minor), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(v.Patch), 10)
	if v.Build != 0 {
		b = append(b, '+')
		b = strconv.AppendUint(b, uint64(v.Build), 10)
	}
	return string(b)
}

// Compare returns -1, 0 or +1 as v is older than, equal to or newer than
// o, comparing major, minor, patch and then build.
func (v Version) Compare(o Version) int {
	if c := cmp.Compare(v.Major, o.Major); c != 0 {
		return c
	}
	if c := cmp.Compare(v.Minor, o.Minor); c != 0 {
		return c
	}
	if c := cmp.Compare(v.Patch, o.Patch); c != 0 {
		return c
	}
	return cmp.Compare(v.Build, o.Build)
}

// ParseVersion parses the forms String prints: "MAJOR.MINOR.PATCH" and
// "MAJOR.MINOR.PATCH+BUILD", each number decimal without sign or leading
// zeros and within its field's range. A zero build is written without
// "+0", so every accepted string is exactly what String prints.
func ParseVersion(s string) (Version, error) {
	bad := func(why string) (Version, error) {
		return Version{}, fmt.Errorf("image: version %q: %s (want MAJOR.MINOR.PATCH or MAJOR.MINOR.PATCH+BUILD)", s, why)
	}
	core, build, hasBuild := strings.Cut(s, "+")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return bad("not three dot-separated numbers")
	}
	names := [4]string{"major", "minor", "patch", "build"}
	bits := [4]int{8, 8, 16, 32}
	var n [4]uint64
	fields := append(parts, build)
	if !hasBuild {
		fields = fields[:3]
	}
	for i, f := range fields {
		if f == "" || (len(f) > 1 && f[0] == '0') || strings.Trim(f, "0123456789") != "" {
			return bad(names[i] + " is not a decimal number")
		}
		x, err := strconv.ParseUint(f, 10, bits[i])
		if err != nil {
			return bad(fmt.Sprintf("%s exceeds %d bits", names[i], bits[i]))
		}
		n[i] = x
	}
	if hasBuild && n[3] == 0 {
		return bad("a zero build is written without +0")
	}
	return Version{Major: uint8(n[0]), Minor: uint8(n[1]), Patch: uint16(n[2]), Build: uint32(n[3])}, nil
}

// ParseVersionText reads a version an image writes as text (an ESP-IDF
// app description, a FIT "version" property): ParseVersion's forms, with
// an optional leading "v" ("v2.5.0"). ok is false for any other text.
func ParseVersionText(s string) (v Version, ok bool) {
	v, err := ParseVersion(strings.TrimPrefix(s, "v"))
	return v, err == nil
}
