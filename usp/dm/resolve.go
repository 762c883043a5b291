package dm

import (
	"fmt"
	"strings"
	"time"

	"brickyard/usp"
	"brickyard/usp/path"
)

// target is an object instance a path addresses: object o, whose values
// live in row r. With table set the path stopped at a table's name (no
// instance selector): o is the table and r the row its rows hang under.
type target struct {
	o     *Object
	r     *row
	table bool
}

// maxRefDepth bounds nested reference following (Ref+.Ref+...).
const maxRefDepth = 4

func invalidPath(p string, format string, args ...any) error {
	return fmt.Errorf("path %q: %s: %w", trunc(p), fmt.Sprintf(format, args...), usp.InvalidPath)
}

// parsePath parses a requested path, refusing one longer than the
// schema's MaxPathLen with 7005 and bad syntax with 7008.
func (m *Model) parsePath(s string) (path.Path, error) {
	if len(s) > m.s.opts.MaxPathLen {
		return path.Path{}, fmt.Errorf("path of %d bytes exceeds the %d-byte limit: %w", len(s), m.s.opts.MaxPathLen, usp.ResourcesExceeded)
	}
	return path.Parse(s)
}

// resolve follows the first n segments of p, which must name objects and
// instance selectors (and reference following), and returns the object
// instances they address, in tree order. obj is the schema object reached
// (nil after reference following, where each target has its own). A name
// not in the Supported DM, a selector on a non-table or an expression
// naming an unknown parameter is an error wrapping usp.InvalidPath (7026);
// an expression whose literal does not suit its parameter wraps
// usp.InvalidPathSyntax (7008). A path whose instances do not exist
// resolves to no targets without error: callers decide what that means.
func (m *Model) resolve(p path.Path, n int, now time.Time) (ts []target, obj *Object, err error) {
	return m.resolveDepth(p, n, now, 0)
}

func (m *Model) resolveDepth(p path.Path, n int, now time.Time, depth int) ([]target, *Object, error) {
	root := m.s.root
	if n == 0 || p.At(0).Kind() != path.SegName || p.At(0).Name() != root.name {
		return nil, nil, invalidPath(p.String(), "not in the supported data model (the root is %s.)", root.name)
	}
	cur := []target{{o: root, r: m.root}}
	o, tableOnly := root, false
	for i := 1; i < n; i++ {
		seg := p.At(i)
		switch seg.Kind() {
		case path.SegName:
			if tableOnly {
				return nil, nil, invalidPath(p.String(), "%s is a table: an instance selector must follow it", o.name)
			}
			c := o.childBy[seg.Name()]
			if c == nil {
				return nil, nil, invalidPath(p.String(), "%s has no object %s", o.path, seg.Name())
			}
			o, tableOnly = c, c.table
			for k := range cur {
				cur[k].o, cur[k].table = c, c.table
			}
		case path.SegInstance, path.SegWildcard, path.SegSearch:
			if !tableOnly {
				return nil, nil, invalidPath(p.String(), "%s is not a table", o.name)
			}
			exprs, err := checkExprs(p, o, seg)
			if err != nil {
				return nil, nil, err
			}
			var next []target
			for _, t := range cur {
				for _, r := range m.rowsOf(o, t.r) {
					if m.selects(seg, exprs, o, r, now) {
						next = append(next, target{o: o, r: r})
					}
				}
			}
			cur, tableOnly = next, false
		case path.SegReference:
			if tableOnly {
				return nil, nil, invalidPath(p.String(), "%s is a table: an instance selector must follow it", o.name)
			}
			return m.follow(p, i, n, o, cur, now, depth)
		default:
			return nil, nil, invalidPath(p.String(), "segment %s is not allowed here", seg)
		}
	}
	return cur, o, nil
}

// checkExprs validates a search segment's components against table t.
func checkExprs(p path.Path, t *Object, seg path.Segment) ([]path.Expr, error) {
	if seg.Kind() != path.SegSearch {
		return nil, nil
	}
	exprs := seg.Exprs()
	for _, e := range exprs {
		pp := t.paramRel(e.Param)
		if pp == nil {
			return nil, invalidPath(p.String(), "search expression names %s, not a parameter of %s", e.Param, t.path)
		}
		if err := e.Check(pp.typ); err != nil {
			return nil, fmt.Errorf("path %q: %w", trunc(p.String()), err)
		}
	}
	return exprs, nil
}

// selects reports whether row r of table t is selected by seg.
func (m *Model) selects(seg path.Segment, exprs []path.Expr, t *Object, r *row, now time.Time) bool {
	switch seg.Kind() {
	case path.SegInstance:
		return uint64(r.num) == uint64(seg.Number())
	case path.SegWildcard, path.SegPlaceholder:
		return true
	}
	for _, e := range exprs {
		pp := t.paramRel(e.Param)
		if pp == nil || pp.access == WriteOnly || pp.secret {
			return false
		}
		ok, err := e.Eval(m.read(pp, r, now), pp.typ)
		if err != nil || !ok { // an error here is a malformed value: no match
			return false
		}
	}
	return true
}

// follow resolves reference following at segment i: the reference
// parameter's value(s) replace the path up to and including it.
func (m *Model) follow(p path.Path, i, n int, o *Object, cur []target, now time.Time, depth int) ([]target, *Object, error) {
	seg := p.At(i)
	rp := o.paramBy[seg.Name()]
	if rp == nil || rp.typ.Elem() != path.String {
		return nil, nil, invalidPath(p.String(), "%s is not a reference parameter of %s", seg.Name(), o.path)
	}
	if depth >= maxRefDepth {
		return nil, nil, invalidPath(p.String(), "reference following nested deeper than %d", maxRefDepth)
	}
	var rest strings.Builder
	for j := i + 1; j < n; j++ {
		rest.WriteString(p.At(j).String())
		rest.WriteByte('.')
	}
	var out []target
	var obj *Object
	for _, t := range cur {
		for _, ref := range refItems(m.read(rp, t.r, now), seg.Number()) {
			sub, err := path.Parse(strings.TrimSuffix(ref, ".") + "." + rest.String())
			if err != nil {
				continue
			}
			ts, so, err := m.resolveDepth(sub, sub.Len(), now, depth+1)
			if err != nil {
				continue // a dangling or foreign reference addresses nothing
			}
			out = append(out, ts...)
			obj = so
		}
	}
	if rp.ref != nil && obj == nil {
		// A typed reference lets the rest be checked even with no targets.
		obj = rp.ref
	}
	return out, obj, nil
}

// refItems picks the reference(s) a "Ref+", "Ref#n+" or "Ref#*+" segment
// follows in a (list) value.
func refItems(v string, num int) []string {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	items := strings.Split(v, ",")
	for i := range items {
		items[i] = strings.TrimSpace(items[i])
	}
	switch {
	case num == path.RefAll:
		return items
	case num > 0:
		if num <= len(items) {
			return items[num-1 : num]
		}
		return nil
	}
	return items[:1]
}

// leafParam finds the parameter a parameter path ends in, on object o.
func leafParam(p path.Path, o *Object) (*Param, error) {
	name := p.Name()
	if o == nil {
		return nil, nil
	}
	pp := o.paramBy[name]
	if pp == nil {
		if o.childBy[name] != nil {
			return nil, invalidPath(p.String(), "%s is an object: end its path with '.'", name)
		}
		return nil, invalidPath(p.String(), "%s has no parameter %s", o.path, name)
	}
	return pp, nil
}

// paramTargets finds the rows and parameter a concrete (or search)
// parameter path addresses, for the device-side API.
func (m *Model) paramTargets(s string, now time.Time) ([]target, *Param, error) {
	p, err := m.parsePath(s)
	if err != nil {
		return nil, nil, err
	}
	if p.Kind() != path.Parameter {
		return nil, nil, invalidPath(s, "not a parameter path")
	}
	ts, obj, err := m.resolve(p, p.Len()-1, now)
	if err != nil {
		return nil, nil, err
	}
	if obj == nil && len(ts) > 0 {
		obj = ts[0].o
	}
	pp, err := leafParam(p, obj)
	if err != nil {
		return nil, nil, err
	}
	if pp == nil || len(ts) == 0 {
		return nil, nil, fmt.Errorf("path %q: no such instance: %w", trunc(s), usp.ObjectDoesNotExist)
	}
	for _, t := range ts {
		if t.table {
			return nil, nil, invalidPath(s, "%s is a table: an instance selector must follow it", t.o.name)
		}
	}
	return ts, pp, nil
}
