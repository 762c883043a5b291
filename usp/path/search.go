package path

import (
	"strings"
)

// search parses "[comp&&comp...]"; p.i is at the '['. Spaces and tabs are
// tolerated around names, operators, literals and "&&".
func (p *parser) search() ([]Expr, error) {
	open := p.i
	p.i++
	p.space()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		return nil, p.errf(open, "empty search expression []")
	}
	body := p.s[p.i:]
	if end := strings.IndexByte(body, ']'); end >= 0 {
		body = body[:end]
	}
	exprs := make([]Expr, 0, 1+strings.Count(body, "&&"))
	for {
		e, err := p.component(open)
		if err != nil {
			return nil, err
		}
		exprs = append(exprs, e)
		p.space()
		if p.i == len(p.s) {
			return nil, p.errf(open, "unterminated search expression")
		}
		switch c := p.s[p.i]; {
		case c == ']':
			p.i++
			return exprs, nil
		case strings.HasPrefix(p.s[p.i:], "&&"):
			p.i += 2
		case strings.HasPrefix(p.s[p.i:], "||"):
			return nil, p.errf(p.i, "only && may join search expression components")
		case c == '{' || c == '}':
			return nil, p.errf(p.i, "curly braces are not allowed in a search expression")
		default:
			return nil, p.errf(p.i, "expected && or ] in search expression, found %q", p.char())
		}
	}
}

// component parses "Param op literal".
func (p *parser) component(open int) (Expr, error) {
	p.space()
	if p.i == len(p.s) {
		return Expr{}, p.errf(open, "unterminated search expression")
	}
	if c := p.s[p.i]; !isNameStart(c) {
		if c == '{' || c == '}' {
			return Expr{}, p.errf(p.i, "curly braces are not allowed in a search expression")
		}
		return Expr{}, p.errf(p.i, "expected a parameter name in search expression, found %q", p.char())
	}
	start := p.i
	p.name()
	// A relative path into single-instance sub-objects (Stats.BytesSent) is
	// allowed; an instance number in it would descend into a table.
	for p.i+1 < len(p.s) && p.s[p.i] == '.' && isNameStart(p.s[p.i+1]) {
		p.i++
		p.name()
	}
	e := Expr{Param: p.s[start:p.i]}
	if p.i < len(p.s) {
		switch p.s[p.i] {
		case '.':
			return Expr{}, p.errf(start, "search expression parameter %s. descends into a child table (only the instance's own parameters and single-instance sub-objects may be searched)", e.Param)
		case '+', '#':
			return Expr{}, p.errf(start, "reference following is not allowed in a search expression")
		}
	}
	p.space()
	if e.Op = p.op(); e.Op == 0 {
		if p.i == len(p.s) {
			return Expr{}, p.errf(open, "unterminated search expression")
		}
		return Expr{}, p.errf(p.i, "expected an operator (== != ~= < > <= >=) after %s, found %q", e.Param, p.char())
	}
	p.space()
	if p.i == len(p.s) {
		return Expr{}, p.errf(open, "unterminated search expression")
	}
	var err error
	switch c := p.s[p.i]; {
	case c == '"':
		e.Quoted = true
		e.Value, err = p.quoted()
	case c == '{' || c == '}':
		err = p.errf(p.i, "curly braces are not allowed in a search expression")
	case isUnquotedByte(c):
		e.Value, err = p.unquoted()
	default:
		err = p.errf(p.i, "expected a literal after %s%s, found %q", e.Param, e.Op, p.char())
	}
	return e, err
}

// op consumes an operator, or returns 0 and consumes nothing.
func (p *parser) op() Op {
	rest := p.s[p.i:]
	for _, o := range [...]Op{Eq, Ne, Contains, Le, Ge, Lt, Gt} {
		if strings.HasPrefix(rest, opText[o]) {
			p.i += len(opText[o])
			return o
		}
	}
	return 0
}

// quoted consumes a double-quoted literal and returns it percent-decoded.
// Any %XX escape is decoded; a '%' not followed by two hex digits is an
// error.
func (p *parser) quoted() (string, error) {
	open := p.i
	p.i++
	end := strings.IndexByte(p.s[p.i:], '"')
	if end < 0 {
		return "", p.errf(open, "unterminated string literal")
	}
	raw := p.s[p.i : p.i+end]
	p.i += end + 1
	if strings.IndexByte(raw, '%') < 0 {
		return raw, nil
	}
	var b strings.Builder
	b.Grow(len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(raw) || !isHex(raw[i+1]) || !isHex(raw[i+2]) {
			return "", p.errf(open+1+i, "bad percent-escape in string literal (write %%25 for '%%', %%22 for '\"')")
		}
		b.WriteByte(unhex(raw[i+1])<<4 | unhex(raw[i+2]))
		i += 2
	}
	return b.String(), nil
}

// unquoted consumes an unquoted literal: a number, true/false or a dateTime.
func (p *parser) unquoted() (string, error) {
	start := p.i
	for p.i < len(p.s) && isUnquotedByte(p.s[p.i]) {
		p.i++
	}
	v := p.s[start:p.i]
	if !validUnquoted(v) {
		return "", p.errf(start, "unquoted literal %s is not a number, boolean or dateTime (quote strings)", v)
	}
	return v, nil
}

func (p *parser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func isHex(c byte) bool {
	return isDigit(c) || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case isDigit(c):
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
