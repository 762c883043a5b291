package path

import (
	"fmt"
	"strings"

	"brickyard/usp"
)

// Eval reports whether a parameter holding value, of type typ, satisfies e
// (usp.md 6.3). The literal must suit the type:
//
//   - string, hexBinary, base64: a quoted literal; only == and !=.
//     hexBinary compares case-insensitively, the others byte for byte.
//   - boolean: unquoted true, false, 1 or 0 (1 ≡ true); only == and !=.
//     A quoted literal such as Enable=="true" is invalid: Parse cannot see
//     the type, so it accepts the path and Eval reports the error.
//   - int, unsignedInt, long, unsignedLong: an unquoted integer; decimal: an
//     unquoted number. All operators but ~=. Comparison is exact and
//     numeric, so 123, +123 and 0123 are the same literal.
//   - dateTime: an unquoted RFC 3339 time, compared as a time. The Unknown
//     Time 0001-01-01T00:00:00Z as a literal allows only == and !=; an
//     unknown value never satisfies <, >, <= or >=.
//   - a List type: ~= is true when an item (split at commas, surrounding
//     spaces ignored) equals the literal under the item type's rules above;
//     == and != compare the whole value as a string and need a quoted
//     literal; other operators are invalid.
//
// A literal or operator that does not suit typ is an invalid expression:
// the error wraps usp.InvalidPathSyntax and names the parameter, operator
// and literal. A value that is not valid for typ is the data model's fault:
// the error wraps usp.InternalError. An invalid typ wraps usp.InternalError
// too.
func (e Expr) Eval(value string, typ Type) (bool, error) {
	if err := e.Check(typ); err != nil {
		return false, err
	}
	switch {
	case e.Op == Contains:
		return e.contains(value, typ.Elem())
	case typ.IsList():
		return (value == e.Value) == (e.Op == Eq), nil
	}
	c, ok, err := e.cmp(typ, value)
	if err != nil || !ok {
		return false, err
	}
	return e.Op.holds(c), nil
}

// contains reports whether a comma-separated list of elem items has one
// equal to e's literal.
func (e Expr) contains(list string, elem Type) (bool, error) {
	if strings.TrimSpace(list) == "" {
		return false, nil
	}
	for rest, more := list, true; more; {
		var item string
		item, rest, more = strings.Cut(rest, ",")
		c, ok, err := e.cmp(elem, strings.Trim(item, " \t"))
		if err != nil {
			return false, err
		}
		if ok && c == 0 {
			return true, nil
		}
	}
	return false, nil
}

// Check reports whether e's operator and literal suit a parameter of type
// t, by the rules Eval lists, without a value. An engine that knows the
// schema can call it once per search path, so that an invalid expression
// is reported even when the table has no instances to evaluate it on.
func (e Expr) Check(t Type) error {
	if !t.valid() {
		return fmt.Errorf("search expression %s: parameter %s has unknown type %s: %w", e, e.Param, t, usp.InternalError)
	}
	if e.Op < Eq || e.Op > Ge {
		return e.mismatch(t, "invalid operator")
	}
	if t.IsList() && e.Op != Contains {
		if e.Op.relational() {
			return e.mismatch(t, "operator "+e.Op.String()+" does not apply to a list; use ==, != or ~=")
		}
		if !e.Quoted {
			return e.mismatch(t, "a list compares as a string with == and !=; quote the literal")
		}
		return nil
	}
	if e.Op == Contains && !t.IsList() {
		return e.mismatch(t, "~= applies only to list-valued parameters")
	}
	elem := t.Elem()
	switch {
	case elem == String || elem == HexBinary || elem == Base64:
		if !e.Quoted {
			return e.mismatch(t, "a "+elem.String()+" literal must be quoted")
		}
	case e.Quoted:
		return e.mismatch(t, "a quoted literal cannot compare with a "+elem.String()+"; write it unquoted")
	case elem == Boolean:
		if _, ok := parseBool(e.Value); !ok {
			return e.mismatch(t, "literal "+e.Value+" is not a boolean (true, false, 1, 0)")
		}
	case elem == Decimal:
		if _, ok := parseNum(e.Value); !ok {
			return e.mismatch(t, "literal "+e.Value+" is not a number")
		}
	case elem.numeric():
		if n, ok := parseNum(e.Value); !ok || n.hasFracDot {
			return e.mismatch(t, "literal "+e.Value+" is not an integer")
		}
	case elem == DateTime:
		tm, ok := parseTime(e.Value)
		if !ok {
			return e.mismatch(t, "literal "+e.Value+" is not a dateTime")
		}
		if tm.IsZero() && e.Op.relational() {
			return e.mismatch(t, "the Unknown Time compares only with == and !=")
		}
	}
	if e.Op.relational() && (elem == String || elem == HexBinary || elem == Base64 || elem == Boolean) {
		return e.mismatch(t, "operator "+e.Op.String()+" does not apply to a "+elem.String()+"; use == or !=")
	}
	return nil
}

// cmp compares value v, of scalar type t, with e's literal, which Check has
// accepted. For types without an order the result is 0 (equal) or 1. ok is
// false when the two cannot be ordered (an Unknown Time value under a
// relational operator).
func (e Expr) cmp(t Type, v string) (c int, ok bool, err error) {
	switch {
	case t == String || t == Base64:
		return neq(v != e.Value), true, nil
	case t == HexBinary:
		return neq(!strings.EqualFold(v, e.Value)), true, nil
	case t == Boolean:
		vb, ok := parseBool(v)
		if !ok {
			return 0, false, e.badValue(t, v)
		}
		lb, _ := parseBool(e.Value)
		return neq(vb != lb), true, nil
	case t.numeric():
		vn, ok := parseNum(v)
		if !ok || (t != Decimal && vn.hasFracDot) {
			return 0, false, e.badValue(t, v)
		}
		ln, _ := parseNum(e.Value)
		return cmpNum(vn, ln), true, nil
	case t == DateTime:
		vt, ok := parseTime(v)
		if !ok {
			return 0, false, e.badValue(t, v)
		}
		if vt.IsZero() && e.Op.relational() {
			return 0, false, nil
		}
		lt, _ := parseTime(e.Value)
		return vt.Compare(lt), true, nil
	}
	return 0, false, e.badValue(t, v)
}

func neq(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (e Expr) mismatch(t Type, what string) error {
	return fmt.Errorf("search expression %s on %s parameter %s: %s: %w", e, t, e.Param, what, usp.InvalidPathSyntax)
}

func (e Expr) badValue(t Type, v string) error {
	return fmt.Errorf("search expression %s: %s parameter %s holds malformed value %q: %w", e, t, e.Param, v, usp.InternalError)
}
