package path

import (
	"fmt"

	"brickyard/usp"
)

// Lookup returns the value and type of the parameter param of the object
// instance obj (an object path ending in an instance number, such as
// Device.DeviceInfo.FirmwareImage.2.), and whether the instance has that
// parameter and the caller may read it. Match, Covers and Selects call it
// to evaluate search expressions.
type Lookup func(obj Path, param string) (value string, typ Type, ok bool)

// Match reports whether the concrete path c (names and instance numbers
// only, as the data model reports them) is one p addresses: same kind, same
// length, equal names and instance numbers, a wildcard or {i} in p matching
// any instance number, and a search expression in p matching an instance
// whose parameters, read through lookup, satisfy every component (see
// Expr.Eval). A unique-key address is a search expression like any other.
// A component naming a parameter lookup does not find is false. lookup may
// be nil when p has no search expressions; with a nil lookup every
// expression is false.
//
// Match does not resolve reference following: the data-model engine must
// replace "Ref+" segments itself, and Match returns an error wrapping
// usp.InvalidPath for a p that has them. A c that is not concrete is an
// error wrapping usp.InvalidPath too. An invalid expression (a literal or
// operator the parameter's type does not allow) is an error wrapping
// usp.InvalidPathSyntax.
//
// Match does not allocate unless it fails or lookup does.
func (p Path) Match(c Path, lookup Lookup) (bool, error) {
	if err := p.matchable(c); err != nil {
		return false, err
	}
	if p.kind != c.kind || len(p.segs) != len(c.segs) {
		return false, nil
	}
	return p.matchPrefix(c, lookup)
}

// Covers is Match with partial-path semantics, as subscriptions and
// permissions use it: an object path p covers the concrete path c when c
// is p's object or anything below it (Device.DeviceInfo.FirmwareImage.*.
// covers Device.DeviceInfo.FirmwareImage.2.Status). A p that is not an
// object path covers only what it matches.
func (p Path) Covers(c Path, lookup Lookup) (bool, error) {
	if p.kind != Object {
		return p.Match(c, lookup)
	}
	if err := p.matchable(c); err != nil {
		return false, err
	}
	if len(c.segs) < len(p.segs) || (len(c.segs) == len(p.segs) && c.kind != Object) {
		return false, nil
	}
	return p.matchPrefix(c, lookup)
}

// Selects reports whether the selector s selects the instance at inst, an
// object path ending in an instance number: an instance number selects the
// instance with that number, a wildcard or {i} selects all, and a search
// expression selects the instances whose parameters, read through lookup
// with obj = inst, satisfy every component. A name or reference segment
// selects nothing. A data-model engine resolving a search path calls it
// for each instance of the table.
func (s Segment) Selects(inst Path, lookup Lookup) (bool, error) {
	n := len(inst.segs)
	if n == 0 || inst.segs[n-1].kind != SegInstance {
		return false, fmt.Errorf("path %q: not an object instance path: %w", inst.String(), usp.InvalidPath)
	}
	switch s.kind {
	case SegInstance:
		return s.num == inst.segs[n-1].num, nil
	case SegWildcard, SegPlaceholder:
		return true, nil
	case SegSearch:
		return s.eval(Path{segs: inst.segs, kind: Object}, lookup)
	}
	return false, nil
}

// matchable reports why p cannot be matched against c, if it cannot.
func (p Path) matchable(c Path) error {
	for _, s := range p.segs {
		if s.kind == SegReference {
			return fmt.Errorf("path %q: reference following %s cannot be matched syntactically; the data model resolves it: %w", p.String(), s.String(), usp.InvalidPath)
		}
	}
	for _, s := range c.segs {
		if s.kind != SegName && s.kind != SegInstance {
			return fmt.Errorf("path %q: not an instantiated path (has %s segment %s): %w", c.String(), s.kind, s.String(), usp.InvalidPath)
		}
	}
	return nil
}

// matchPrefix matches p's segments against the first len(p.segs) of c's:
// names and numbers first, search expressions only if all of those agree.
func (p Path) matchPrefix(c Path, lookup Lookup) (bool, error) {
	search := false
	for i, s := range p.segs {
		t := c.segs[i]
		switch s.kind {
		case SegName:
			if t.kind != SegName || t.name != s.name {
				return false, nil
			}
		case SegInstance:
			if t.kind != SegInstance || t.num != s.num {
				return false, nil
			}
		case SegWildcard, SegPlaceholder, SegSearch:
			if t.kind != SegInstance {
				return false, nil
			}
			search = search || s.kind == SegSearch
		}
	}
	if !search {
		return true, nil
	}
	for i, s := range p.segs {
		if s.kind != SegSearch {
			continue
		}
		ok, err := s.eval(Path{segs: c.segs[: i+1 : i+1], kind: Object}, lookup)
		if err != nil {
			return false, fmt.Errorf("path %q: %w", p.String(), err)
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

// eval evaluates a search segment's components on the instance obj. It
// evaluates every component, so that an invalid one is reported whatever
// the others yield.
func (s Segment) eval(obj Path, lookup Lookup) (bool, error) {
	if lookup == nil {
		return false, nil
	}
	all := true
	for _, e := range s.exprs {
		v, t, ok := lookup(obj, e.Param)
		if !ok {
			all = false
			continue
		}
		m, err := e.Eval(v, t)
		if err != nil {
			return false, err
		}
		all = all && m
	}
	return all, nil
}
