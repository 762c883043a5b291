package dm

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"brickyard/usp"
	"brickyard/usp/path"
)

// A write is one parameter value a Controller asks for (Set or Add).
type write struct {
	rel      string // as requested, relative to the object
	value    string
	required bool
}

// paramErr is one parameter's failure (SetResp/AddResp ParameterError,
// Error.param_errs).
type paramErr struct {
	rel  string
	code usp.Code
	msg  string
}

// change is one applied write, kept to undo it and to notify about it.
type change struct {
	r      *row
	p      *Param
	old    string // the value before (as read), for ValueChange and the Setter on undo
	oldRaw string // the stored value before, for undo
	had    bool
	canon  string // the value written
	setter bool   // a Setter was called
}

// txn collects the changes of one request so that they can be undone and,
// once final, notified.
type txn struct {
	changes []change
}

// undo reverts the changes after mark, newest first.
func (m *Model) undo(t *txn, mark int, from Origin, now time.Time) {
	for i := len(t.changes) - 1; i >= mark; i-- {
		c := t.changes[i]
		if c.p.get == nil {
			m.restore(c.r, c.p, c.oldRaw, c.had)
		}
		if c.setter {
			_ = c.p.set(m.ctx(from, c.p.obj, c.r, now), c.old) // best effort
		}
	}
	t.changes = t.changes[:mark]
}

// writeObject applies writes to object o of row r, as Set (create false)
// or Add (create true) does. It returns the failed parameters, the
// relative names and values applied, and whether a required write failed
// (keys count as required in Add). On a required failure the object's
// applied writes are left in t for the caller to undo.
func (m *Model) writeObject(t *txn, from Origin, o *Object, r *row, ws []write, create bool, now time.Time) (errs []paramErr, updated map[string]string, reqFailed bool) {
	updated = map[string]string{}
	codes := setCodes
	if create {
		codes = addCodes
	}
	fail := func(w write, err error) {
		code, text := codes.reason(err)
		if !create && code == usp.InternalError {
			code = usp.ParameterActionFailed
		}
		errs = append(errs, paramErr{rel: w.rel, code: code, msg: text})
	}
	// Validate every write first, so that validators see no half-applied
	// object and an invalid write never reaches a Setter.
	type ok struct {
		w     write
		p     *Param
		canon string
	}
	var good []ok
	for _, w := range ws {
		p, canon, err := m.checkWrite(from, o, r, w, create, now)
		if err != nil {
			fail(w, err)
			reqFailed = reqFailed || w.required || (create && isKey(o, p))
			continue
		}
		good = append(good, ok{w, p, canon})
	}
	if reqFailed {
		return errs, updated, true
	}
	for _, g := range good {
		if err := m.apply(t, from, g.p, r, g.canon, now); err != nil {
			fail(g.w, err)
			if g.w.required || (create && isKey(o, g.p)) {
				return errs, updated, true
			}
			continue
		}
		if g.p.access != WriteOnly && m.readParam(g.p, r) { // R-SET.3
			updated[g.w.rel] = g.canon
			if g.p.secret {
				updated[g.w.rel] = ""
			}
		}
	}
	// Unique keys must stay unique (R-KEY.2): a clash fails the object.
	if o.table && !create && slices.ContainsFunc(good, func(g ok) bool { return isKey(o, g.p) }) {
		if p, other := m.keyClash(o, r, now); p != nil {
			for _, g := range good {
				if isKey(o, g.p) {
					errs = append(errs, paramErr{rel: g.w.rel, code: usp.DuplicateKey,
						msg: fmt.Sprintf("%s would duplicate the unique key of %s", g.p.name, other)})
					delete(updated, g.w.rel)
				}
			}
			return errs, updated, true
		}
	}
	return errs, updated, false
}

// checkWrite validates one write and returns the parameter and the
// canonical value.
func (m *Model) checkWrite(from Origin, o *Object, r *row, w write, create bool, now time.Time) (*Param, string, error) {
	p := o.paramRel(w.rel)
	if p == nil {
		return nil, "", fmt.Errorf("%s has no parameter %s: %w", o.path, trunc(w.rel), usp.UnsupportedParameter)
	}
	if err := m.mayWrite(p, r); err != nil {
		return p, "", err
	}
	switch p.access {
	case ReadOnly:
		return p, "", fmt.Errorf("%s is read-only: %w", p.name, usp.ParameterNotWritable)
	case WriteOnceReadOnly:
		if !create && m.read(p, r, now) != "" {
			return p, "", fmt.Errorf("%s can be set only once: %w", p.name, usp.ParameterNotWritable)
		}
	}
	if p.get != nil && p.set == nil {
		return p, "", fmt.Errorf("%s is computed by the device: %w", p.name, usp.ParameterNotWritable)
	}
	canon, err := p.canon(w.value, m.s.opts.MaxValueLen)
	if err != nil {
		return p, "", err
	}
	if p.ref != nil && canon != "" {
		if canon, err = m.refTarget(p, canon, now); err != nil {
			return p, "", err
		}
	}
	if p == o.alias && !validAlias(canon) {
		return p, "", fmt.Errorf("Alias %q must start with a letter: %w", trunc(canon), usp.InvalidValue)
	}
	if err := m.checkSpecial(p, r, canon, now); err != nil {
		return p, "", err
	}
	if err := m.checkTrustWrite(p, canon); err != nil {
		return p, "", err
	}
	if p.check != nil {
		if err := p.check(m.ctx(from, p.obj, r, now), canon); err != nil {
			return p, "", err
		}
	}
	return p, canon, nil
}

// apply writes a checked value and records the change.
func (m *Model) apply(t *txn, from Origin, p *Param, r *row, v string, now time.Time) error {
	c := change{r: r, p: p, canon: v, old: m.read(p, r, now)}
	if p.get == nil {
		c.oldRaw, c.had = m.put(r, p, v)
	}
	if p.set != nil {
		if err := p.set(m.ctx(from, p.obj, r, now), v); err != nil {
			if p.get == nil {
				m.restore(r, p, c.oldRaw, c.had)
			}
			return err
		}
		c.setter = true
	}
	t.changes = append(t.changes, c)
	return nil
}

// refTarget resolves a strong reference value to the one row of p's
// target table it addresses, and returns that row's path without the
// trailing dot.
func (m *Model) refTarget(p *Param, v string, now time.Time) (string, error) {
	rp, err := path.Parse(strings.TrimSuffix(v, ".") + ".")
	if err != nil {
		return "", fmt.Errorf("%s: %q is not an object path: %w", p.name, trunc(v), usp.InvalidValue)
	}
	if rp.Len() == 0 || !rp.MatchSupported(mustSupported(p.ref)) {
		return "", fmt.Errorf("%s: %q is not a row of %s: %w", p.name, trunc(v), p.ref.path, usp.InvalidValue)
	}
	ts, _, err := m.resolve(rp, rp.Len(), now)
	if err != nil || len(ts) != 1 || ts[0].table {
		return "", fmt.Errorf("%s: %q does not address one existing row of %s: %w", p.name, trunc(v), p.ref.path, usp.InvalidValue)
	}
	return strings.TrimSuffix(objPath(ts[0].o, ts[0].r), "."), nil
}

func mustSupported(o *Object) path.Path {
	p, _ := path.ParseSupported(o.path)
	return p
}

func validAlias(s string) bool {
	return s != "" && (('a' <= s[0] && s[0] <= 'z') || ('A' <= s[0] && s[0] <= 'Z'))
}

func isKey(o *Object, p *Param) bool {
	return p != nil && o.table && slices.Contains(keyParams(o), p)
}

func keyParams(o *Object) []*Param {
	var out []*Param
	for _, set := range o.keys {
		out = append(out, set...)
	}
	return out
}

// keyClash reports a unique key set of row r of table t whose values
// another row under the same parent already has: the first key parameter
// and the other row's path.
func (m *Model) keyClash(t *Object, r *row, now time.Time) (*Param, string) {
	for _, set := range t.keys {
		if len(set) == 0 {
			continue
		}
		for _, other := range m.rowsOf(t, r.parent) {
			if other == r {
				continue
			}
			same := true
			for _, p := range set {
				if m.read(p, other, now) != m.read(p, r, now) {
					same = false
					break
				}
			}
			if same {
				return set[0], objPath(t, other)
			}
		}
	}
	return nil, ""
}
