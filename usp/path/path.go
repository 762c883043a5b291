package path

import (
	"strconv"
	"strings"
)

// Kind is what a Path addresses, read from how it ends.
type Kind uint8

// Path kinds. The zero Kind belongs to the zero Path only.
const (
	Object    Kind = iota + 1 // ends with ".": Device.DeviceInfo.
	Parameter                 // ends with a name: Device.DeviceInfo.SoftwareVersion
	Command                   // ends with "()": Device.Reboot()
	Event                     // ends with "!": Device.Boot!
)

var kindText = [...]string{Object: "object", Parameter: "parameter", Command: "command", Event: "event"}

func (k Kind) String() string {
	if int(k) < len(kindText) && kindText[k] != "" {
		return kindText[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Path is a parsed USP path: its segments and its kind. The zero Path is
// empty (Len 0, String ""); Parse never returns it without an error.
//
// A Path is an immutable value: methods never modify the segments, so
// copies, Parent results and the original may share storage and may be
// used from several goroutines.
type Path struct {
	segs []Segment
	kind Kind
}

// Kind reports whether p addresses an object, a parameter, a command or an
// event.
func (p Path) Kind() Kind { return p.kind }

// IsZero reports whether p is the zero Path.
func (p Path) IsZero() bool { return len(p.segs) == 0 }

// IsPartial reports whether p is an object path (ends with "."), which in
// Get, subscriptions and permissions stands for everything below it.
func (p Path) IsPartial() bool { return p.kind == Object }

// IsSearch reports whether p may address more than one element, or an
// element only the data model can find: it contains a wildcard, a unique
// key or search expression, or reference following. A path with only names
// and instance numbers (or {i} placeholders) is not a search path.
func (p Path) IsSearch() bool {
	for _, s := range p.segs {
		switch s.kind {
		case SegWildcard, SegSearch, SegReference:
			return true
		}
	}
	return false
}

// Len is the number of segments: 4 for Device.DeviceInfo.FirmwareImage.2.
// (Device, DeviceInfo, FirmwareImage, 2).
func (p Path) Len() int { return len(p.segs) }

// At returns segment i, 0 ≤ i < Len.
func (p Path) At(i int) Segment { return p.segs[i] }

// Segments returns a copy of p's segments.
func (p Path) Segments() []Segment { return append([]Segment(nil), p.segs...) }

// Name is the name of the element p ends in: the parameter, command or
// event name (without "()" or "!"), or for an object path the last object
// name, which for an instance path is the table's name
// (Device.DeviceInfo.FirmwareImage.2. → "FirmwareImage"). It is "" for the
// zero Path.
func (p Path) Name() string {
	for i := len(p.segs) - 1; i >= 0; i-- {
		if s := p.segs[i]; s.kind == SegName || s.kind == SegReference {
			return s.name
		}
	}
	return ""
}

// Parent returns p without its last segment, as an object path: the object
// holding a parameter, command or event (Device.X.2.Status → Device.X.2.),
// the table of an instance (Device.X.2. → Device.X.), or the parent of an
// object (Device.X. → Device.). The parent of a one-segment path is the
// zero Path. Parent shares p's storage and does not allocate.
func (p Path) Parent() Path {
	if len(p.segs) <= 1 {
		return Path{}
	}
	return Path{segs: p.segs[: len(p.segs)-1 : len(p.segs)-1], kind: Object}
}

// Depth is the number of objects named along p, counting a table and its
// instances as one level and not counting a final parameter, command or
// event:
//
//	Device.                                 1
//	Device.DeviceInfo.                      2
//	Device.DeviceInfo.FirmwareImage.        3
//	Device.DeviceInfo.FirmwareImage.2.      3
//	Device.DeviceInfo.FirmwareImage.2.Name  3
//
// An engine answering Get for the object path req with max_depth n > 0
// reports object o (at or below req) when o.Depth()-req.Depth() < n;
// max_depth 0 means no limit.
func (p Path) Depth() int {
	segs := p.segs
	if p.kind != Object && len(segs) > 0 {
		segs = segs[:len(segs)-1]
	}
	d := 0
	for _, s := range segs {
		if s.kind == SegName || s.kind == SegReference {
			d++
		}
	}
	return d
}

// Equal reports whether p and q are the same path: same kind and segments,
// search expressions compared component by component (so whitespace and
// escaping in the original text do not matter).
func (p Path) Equal(q Path) bool {
	if p.kind != q.kind || len(p.segs) != len(q.segs) {
		return false
	}
	for i := range p.segs {
		if !p.segs[i].equal(q.segs[i]) {
			return false
		}
	}
	return true
}

// String is p in canonical form: no whitespace in search expressions,
// string literals with '"' and '%' percent-encoded and nothing else, other
// literals and everything outside expressions as written. Parse(p.String())
// yields a Path equal to p.
func (p Path) String() string {
	if len(p.segs) == 0 {
		return ""
	}
	var b strings.Builder
	n := 2
	for _, s := range p.segs {
		n += len(s.name) + 4 + 16*len(s.exprs)
	}
	b.Grow(n)
	last := len(p.segs) - 1
	for i, s := range p.segs {
		s.writeTo(&b)
		if i < last {
			b.WriteByte('.')
		}
	}
	switch p.kind {
	case Object:
		b.WriteByte('.')
	case Command:
		b.WriteString("()")
	case Event:
		b.WriteByte('!')
	}
	return b.String()
}
