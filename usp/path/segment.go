package path

import (
	"slices"
	"strconv"
	"strings"
)

// SegKind says what one dot-separated segment of a Path is.
type SegKind uint8

// Segment kinds. The zero SegKind is invalid.
const (
	SegName        SegKind = iota + 1 // object, parameter, command or event name: "DeviceInfo"
	SegInstance                       // instance number: "2"
	SegWildcard                       // every instance: "*"
	SegSearch                         // unique key or search expression: "[Alias==\"cpe-1\"]"
	SegPlaceholder                    // Supported-DM instance placeholder: "{i}"
	SegReference                      // reference following: "Ref+", "Ref#2+", "Ref#*+"
)

var segKindText = [...]string{
	SegName:        "name",
	SegInstance:    "instance",
	SegWildcard:    "wildcard",
	SegSearch:      "search",
	SegPlaceholder: "placeholder",
	SegReference:   "reference",
}

func (k SegKind) String() string {
	if int(k) < len(segKindText) && segKindText[k] != "" {
		return segKindText[k]
	}
	return "SegKind(" + strconv.Itoa(int(k)) + ")"
}

// RefAll is the Number of a reference segment written "Ref#*+": follow every
// item of a list-valued reference.
const RefAll = -1

// Segment is one element of a Path. Segments are values, obtained only
// from a Path (or as the invalid zero Segment), so they are well formed.
type Segment struct {
	kind  SegKind
	name  string // SegName, SegReference
	num   int    // SegInstance: instance number; SegReference: 0, RefAll or a list index ≥ 1
	exprs []Expr // SegSearch: at least one, never modified after parsing
}

// Kind reports what the segment is.
func (s Segment) Kind() SegKind { return s.kind }

// Name is the element name of a SegName segment ("Status", "Download",
// "Boot": without "()" or "!") or the reference parameter's name of a
// SegReference segment; "" for other kinds.
func (s Segment) Name() string { return s.name }

// Number is the instance number of a SegInstance segment (≥ 1), and for a
// SegReference segment the list index: 0 for "Ref+", n for "Ref#n+", RefAll
// for "Ref#*+". It is 0 for other kinds.
func (s Segment) Number() int { return s.num }

// Exprs returns a copy of a SegSearch segment's components, which are
// joined by &&; nil for other kinds.
func (s Segment) Exprs() []Expr { return slices.Clone(s.exprs) }

// IsSelector reports whether s selects instances of a table: an instance
// number, a wildcard, a search expression or a placeholder.
func (s Segment) IsSelector() bool {
	switch s.kind {
	case SegInstance, SegWildcard, SegSearch, SegPlaceholder:
		return true
	}
	return false
}

// String is the segment as written in a canonical path, without the
// separating dot and without a command's "()" or an event's "!".
func (s Segment) String() string {
	var b strings.Builder
	s.writeTo(&b)
	return b.String()
}

func (s Segment) writeTo(b *strings.Builder) {
	switch s.kind {
	case SegName:
		b.WriteString(s.name)
	case SegInstance:
		b.WriteString(strconv.Itoa(s.num))
	case SegWildcard:
		b.WriteByte('*')
	case SegPlaceholder:
		b.WriteString("{i}")
	case SegSearch:
		b.WriteByte('[')
		for i, e := range s.exprs {
			if i > 0 {
				b.WriteString("&&")
			}
			e.writeTo(b)
		}
		b.WriteByte(']')
	case SegReference:
		b.WriteString(s.name)
		switch {
		case s.num == RefAll:
			b.WriteString("#*")
		case s.num > 0:
			b.WriteByte('#')
			b.WriteString(strconv.Itoa(s.num))
		}
		b.WriteByte('+')
	}
}

// equal reports whether s and t are the same segment.
func (s Segment) equal(t Segment) bool {
	return s.kind == t.kind && s.name == t.name && s.num == t.num && slices.Equal(s.exprs, t.exprs)
}
