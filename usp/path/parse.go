package path

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"brickyard/usp"
)

// MaxLen is the longest path Parse and ParseSupported accept, in bytes.
const MaxLen = 32 << 10

// Parse parses a path in the instantiated data model: an object, parameter,
// command or event path, with instance numbers, wildcards, unique-key and
// search expressions and reference following (see the package comment for
// the grammar). {i} placeholders are invalid here; use ParseSupported.
//
// Every error wraps usp.InvalidPathSyntax (7008) and names what was wrong
// and at which byte offset.
func Parse(s string) (Path, error) { return parse(s, false) }

// ParseSupported parses a path in Supported-DM notation: names and {i}
// placeholders only, as in Device.DeviceInfo.FirmwareImage.{i}.Status or
// Device.DeviceInfo.FirmwareImage.{i}. (GetSupportedDM also allows a table
// without its final "{i}.": Device.DeviceInfo.FirmwareImage.). Instance
// numbers, wildcards, expressions and reference following are invalid.
//
// Every error wraps usp.InvalidPathSyntax (7008).
func ParseSupported(s string) (Path, error) { return parse(s, true) }

type parser struct {
	s         string
	i         int
	supported bool
	segs      []Segment
}

func parse(s string, supported bool) (Path, error) {
	if s == "" {
		return Path{}, syntaxError(s, "empty path")
	}
	if len(s) > MaxLen {
		return Path{}, syntaxError(s, fmt.Sprintf("%d bytes, longer than the %d-byte limit", len(s), MaxLen))
	}
	n := strings.Count(s, ".") // segments, if no literal holds a '.'
	if !strings.HasSuffix(s, ".") {
		n++
	}
	p := parser{s: s, supported: supported, segs: make([]Segment, 0, min(n, 32))}
	kind, err := p.path()
	if err != nil {
		return Path{}, err
	}
	return Path{segs: p.segs, kind: kind}, nil
}

// path parses the whole input and reports how it ends.
func (p *parser) path() (Kind, error) {
	for {
		if p.i == len(p.s) {
			return Object, nil
		}
		c := p.s[p.i]
		switch {
		case isNameStart(c):
			if kind, err := p.element(); kind != 0 || err != nil {
				return kind, err
			}
		case c == '.':
			if p.i == 0 {
				return 0, p.errf(p.i, "path begins with '.'")
			}
			return 0, p.errf(p.i, "empty segment (\"..\")")
		case isDigit(c) || c == '*' || c == '[' || c == '{':
			if err := p.selector(); err != nil {
				return 0, err
			}
		default:
			return 0, p.errf(p.i, "unexpected %q", p.char())
		}
	}
}

// element parses a name and what ends it: ".", "()", "!", end of input,
// or reference following. A non-zero kind means the path ended.
func (p *parser) element() (Kind, error) {
	start := p.i
	name := p.name()
	seg := Segment{kind: SegName, name: name}
	if p.i == len(p.s) {
		p.segs = append(p.segs, seg)
		return Parameter, nil
	}
	var kind Kind
	switch p.s[p.i] {
	case '.':
		p.segs = append(p.segs, seg)
		p.i++
		return 0, nil
	case '(':
		if !strings.HasPrefix(p.s[p.i:], "()") {
			return 0, p.errf(p.i, "command %s: expected \"()\" (a path carries no arguments)", name)
		}
		p.i += 2
		kind = Command
	case '!':
		p.i++
		kind = Event
	case '+', '#':
		return 0, p.reference(start, name)
	default:
		return 0, p.errf(p.i, "unexpected %q after name %s (names match [A-Za-z_][A-Za-z0-9_]*)", p.char(), name)
	}
	if p.i != len(p.s) {
		return 0, p.errf(p.i, "unexpected %q after %s", p.char(), p.s[start:p.i])
	}
	p.segs = append(p.segs, seg)
	return kind, nil
}

// reference parses the rest of "Name+", "Name#n+" or "Name#*+" and the
// '.' that must follow it; p.i is at the '+' or '#'.
func (p *parser) reference(start int, name string) error {
	if p.supported {
		return p.errf(start, "reference following is not allowed in a supported data model path")
	}
	if len(p.segs) == 0 {
		return p.errf(start, "path must begin with an object name, not reference following")
	}
	seg := Segment{kind: SegReference, name: name}
	if p.s[p.i] == '#' {
		p.i++
		switch {
		case p.i < len(p.s) && p.s[p.i] == '*':
			seg.num = RefAll
			p.i++
		case p.i < len(p.s) && isDigit(p.s[p.i]):
			n, err := p.posnum("list index")
			if err != nil {
				return err
			}
			seg.num = n
		default:
			return p.errf(p.i, "expected a list index or '*' after '#' in reference %s", name)
		}
		if p.i == len(p.s) || p.s[p.i] != '+' {
			return p.errf(p.i, "expected '+' to end reference following %s", p.s[start:p.i])
		}
	}
	p.i++ // '+'
	if p.i == len(p.s) || p.s[p.i] != '.' {
		return p.errf(p.i, "reference following %s must be followed by '.'", p.s[start:p.i])
	}
	p.i++
	p.segs = append(p.segs, seg)
	return nil
}

// selector parses an instance selector and the '.' after it.
func (p *parser) selector() error {
	start := p.i
	if n := len(p.segs); n == 0 || p.segs[n-1].kind != SegName {
		if n == 0 {
			return p.errf(start, "path must begin with an object name")
		}
		return p.errf(start, "instance selector must follow a table name, not %s", p.segs[n-1].kind)
	}
	var seg Segment
	switch c := p.s[p.i]; {
	case c == '{':
		if !strings.HasPrefix(p.s[p.i:], "{i}") {
			return p.errf(start, "invalid placeholder (only {i} exists)")
		}
		if !p.supported {
			return p.errf(start, "{i} placeholder is only allowed in supported data model paths")
		}
		p.i += 3
		seg = Segment{kind: SegPlaceholder}
	case p.supported:
		return p.errf(start, "instance selector %q is not allowed in a supported data model path (use {i})", p.char())
	case c == '*':
		p.i++
		seg = Segment{kind: SegWildcard}
	case c == '[':
		exprs, err := p.search()
		if err != nil {
			return err
		}
		seg = Segment{kind: SegSearch, exprs: exprs}
	default:
		n, err := p.posnum("instance number")
		if err != nil {
			return err
		}
		seg = Segment{kind: SegInstance, num: n}
	}
	if p.i == len(p.s) {
		return p.errf(start, "instance selector %s must be followed by '.'", p.s[start:])
	}
	if p.s[p.i] != '.' {
		return p.errf(p.i, "unexpected %q after instance selector %s", p.char(), p.s[start:p.i])
	}
	p.i++
	p.segs = append(p.segs, seg)
	return nil
}

// posnum parses [1-9][0-9]* no larger than math.MaxUint32.
func (p *parser) posnum(what string) (int, error) {
	start := p.i
	for p.i < len(p.s) && isDigit(p.s[p.i]) {
		p.i++
	}
	digits := p.s[start:p.i]
	switch {
	case digits == "0" || strings.Trim(digits, "0") == "":
		return 0, p.errf(start, "%s 0 (numbering starts at 1)", what)
	case digits[0] == '0':
		return 0, p.errf(start, "%s %s has a leading zero", what, digits)
	case len(digits) > 10:
		return 0, p.errf(start, "%s %s out of range", what, digits)
	}
	n := 0
	for i := 0; i < len(digits); i++ {
		n = n*10 + int(digits[i]-'0')
	}
	if n > math.MaxUint32 {
		return 0, p.errf(start, "%s %s out of range", what, digits)
	}
	return n, nil
}

// name consumes [A-Za-z_][A-Za-z0-9_-]*; p.i is at a name start byte. The
// hyphen is for vendor extensions (X_EXAMPLE-COM_Name, TR-106's rule of a
// domain name with its dots replaced by hyphens).
func (p *parser) name() string {
	start := p.i
	p.i++
	for p.i < len(p.s) && isNameByte(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

// char is the UTF-8 character at p.i (one byte if it is not valid UTF-8),
// for error messages.
func (p *parser) char() string {
	_, n := utf8.DecodeRuneInString(p.s[p.i:])
	return p.s[p.i : p.i+n]
}

func (p *parser) errf(off int, format string, args ...any) error {
	return syntaxError(p.s, fmt.Sprintf(format, args...)+fmt.Sprintf(" at offset %d", off))
}

// syntaxError wraps usp.InvalidPathSyntax, quoting at most 200 bytes of the
// path so that a 32 KiB input does not make a 32 KiB message.
func syntaxError(s, what string) error {
	const show = 200
	if len(s) > show {
		s = s[:show] + "..."
	}
	return fmt.Errorf("path %q: %s: %w", s, what, usp.InvalidPathSyntax)
}

func isDigit(c byte) bool     { return '0' <= c && c <= '9' }
func isNameStart(c byte) bool { return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }
func isNameByte(c byte) bool  { return isNameStart(c) || isDigit(c) || c == '-' }
