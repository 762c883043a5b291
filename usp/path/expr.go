package path

import (
	"strconv"
	"strings"
	"time"
)

// Op is a search expression operator.
type Op uint8

// Operators (usp.md 6.3). The zero Op is invalid.
const (
	Eq       Op = iota + 1 // ==
	Ne                     // !=
	Contains               // ~= : a list value has an item equal to the literal
	Lt                     // <
	Gt                     // >
	Le                     // <=
	Ge                     // >=
)

var opText = [...]string{Eq: "==", Ne: "!=", Contains: "~=", Lt: "<", Gt: ">", Le: "<=", Ge: ">="}

func (o Op) String() string {
	if int(o) < len(opText) && opText[o] != "" {
		return opText[o]
	}
	return "Op(" + strconv.Itoa(int(o)) + ")"
}

// relational reports whether o orders values (<, >, <=, >=).
func (o Op) relational() bool { return o >= Lt && o <= Ge }

// holds reports whether o is true of a comparison result c (<0, 0, >0).
func (o Op) holds(c int) bool {
	switch o {
	case Eq:
		return c == 0
	case Ne:
		return c != 0
	case Lt:
		return c < 0
	case Gt:
		return c > 0
	case Le:
		return c <= 0
	case Ge:
		return c >= 0
	}
	return false
}

// Expr is one component of a search expression: Param Op Value, as in
// Status=="Active" or Available==true. A search segment's components are
// joined by && (usp.md 6.3 has no OR).
//
// Value holds a quoted literal decoded (without the quotes, %22 and %25
// turned back into '"' and '%') and an unquoted literal as written
// ("+123", "true", "2021-06-06T08:00:00Z"). Which literal forms fit which
// parameter type is only known when the type is: see Eval.
type Expr struct {
	Param  string // parameter name relative to the instance; may name a single-instance sub-object's parameter (Stats.BytesSent)
	Op     Op
	Value  string
	Quoted bool // the literal was written in double quotes
}

// String is the component in canonical form: Status=="Active".
func (e Expr) String() string {
	var b strings.Builder
	e.writeTo(&b)
	return b.String()
}

func (e Expr) writeTo(b *strings.Builder) {
	b.WriteString(e.Param)
	b.WriteString(e.Op.String())
	if !e.Quoted {
		b.WriteString(e.Value)
		return
	}
	b.WriteByte('"')
	for i := 0; i < len(e.Value); i++ {
		switch c := e.Value[i]; c {
		case '"':
			b.WriteString("%22")
		case '%':
			b.WriteString("%25")
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}

// num is a decimal number split into parts: sign, integer digits without
// leading zeros, fraction digits without trailing zeros.
type num struct {
	neg        bool
	int, frac  string
	hasFracDot bool // written with a '.', even if frac trims to ""
}

// parseNum splits s, of the form [+-]?[0-9]+(\.[0-9]+)?, without allocating.
func parseNum(s string) (num, bool) {
	var n num
	if s != "" && (s[0] == '+' || s[0] == '-') {
		n.neg = s[0] == '-'
		s = s[1:]
	}
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i == 0 {
		return num{}, false
	}
	n.int = strings.TrimLeft(s[:i], "0")
	if i < len(s) {
		if s[i] != '.' {
			return num{}, false
		}
		f := s[i+1:]
		if f == "" {
			return num{}, false
		}
		for j := 0; j < len(f); j++ {
			if !isDigit(f[j]) {
				return num{}, false
			}
		}
		n.hasFracDot = true
		n.frac = strings.TrimRight(f, "0")
	}
	if n.int == "" && n.frac == "" {
		n.neg = false // -0 == 0
	}
	return n, true
}

// cmpNum compares a and b exactly: no float rounding, no range limit.
func cmpNum(a, b num) int {
	if a.neg != b.neg {
		if a.neg {
			return -1
		}
		return 1
	}
	c := cmpMagnitude(a, b)
	if a.neg {
		return -c
	}
	return c
}

func cmpMagnitude(a, b num) int {
	if len(a.int) != len(b.int) {
		if len(a.int) < len(b.int) {
			return -1
		}
		return 1
	}
	if c := strings.Compare(a.int, b.int); c != 0 {
		return c
	}
	return strings.Compare(a.frac, b.frac)
}

// parseBool reads a TR-106 boolean: true, false, 1 or 0.
func parseBool(s string) (v, ok bool) {
	switch s {
	case "true", "1":
		return true, true
	case "false", "0":
		return false, true
	}
	return false, false
}

// parseTime reads a TR-106 dateTime (RFC 3339, fractional seconds allowed).
func parseTime(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// validUnquoted reports whether an unquoted literal is a number, a boolean
// word or a dateTime: the only things a literal may be without quotes.
func validUnquoted(s string) bool {
	if s == "true" || s == "false" {
		return true
	}
	if _, ok := parseNum(s); ok {
		return true
	}
	_, ok := parseTime(s)
	return ok
}

// isUnquotedByte reports whether c may appear in an unquoted literal:
// digits, letters (true, false, the T and Z of a dateTime), signs, '.' and
// ':'.
func isUnquotedByte(c byte) bool {
	return isNameByte(c) || c == '+' || c == '-' || c == '.' || c == ':'
}
