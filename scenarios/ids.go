package scenarios

import (
	"fmt"
	"strconv"
	"strings"

	"brickyard/boards/image"
	"brickyard/boards/profile"
)

// IDScheme makes the n-th device's identifier (n from 1) from a pattern
// with one {n} placeholder, optionally zero-padded: "os::00256D-SIM{n:06}"
// gives os::00256D-SIM000001, os::00256D-SIM000002, …
type IDScheme struct {
	prefix, suffix string
	width          int
}

// ParseIDScheme reads a pattern. It must hold exactly one {n} or {n:0W}
// (W from 1 to 12).
func ParseIDScheme(s string) (IDScheme, error) {
	i := strings.Index(s, "{n")
	if i < 0 {
		return IDScheme{}, fmt.Errorf("%q has no {n} placeholder", s)
	}
	j := strings.IndexByte(s[i:], '}')
	if j < 0 {
		return IDScheme{}, fmt.Errorf("%q: unclosed {n", s)
	}
	spec, rest := s[i+2:i+j], s[i+j+1:]
	if strings.Contains(rest, "{n") {
		return IDScheme{}, fmt.Errorf("%q has more than one {n} placeholder", s)
	}
	w := 0
	if spec != "" {
		ws, ok := strings.CutPrefix(spec, ":0")
		n, err := strconv.Atoi(ws)
		if !ok || err != nil || n < 1 || n > 12 {
			return IDScheme{}, fmt.Errorf("%q: want {n} or {n:0W} with W from 1 to 12", s)
		}
		w = n
	}
	if strings.ContainsAny(s[:i]+rest, " \t\n{}") {
		return IDScheme{}, fmt.Errorf("%q: no spaces or other braces allowed", s)
	}
	return IDScheme{prefix: s[:i], suffix: rest, width: w}, nil
}

// ID is the n-th identifier.
func (p IDScheme) ID(n int) string {
	d := strconv.Itoa(n)
	if len(d) < p.width {
		d = strings.Repeat("0", p.width-len(d)) + d
	}
	return p.prefix + d + p.suffix
}

func parseVersion(s string) (image.Version, error) {
	if s == "" {
		return image.Version{}, fmt.Errorf("a version is required")
	}
	return image.ParseVersion(s)
}

func parseSize(s string) (int, error) {
	n, err := profile.ParseSize(s)
	return int(n), err
}
