package dm

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Model is one device's instantiated data model: its table rows, the
// values that differ from the schema defaults, its subscriptions, pending
// notifications and running asynchronous commands. It is a pure state
// machine: no goroutines, no clock (every call takes now), no I/O, no
// global state, and it is not safe for concurrent use — one device
// goroutine owns one Model.
//
// Values are kept per row in a small slice sorted by parameter, and only
// when they differ from the default; single-instance objects have no row
// of their own (their values live in the row of the nearest enclosing
// table, or the root row), so a model that only stores a handful of values
// costs a few hundred bytes plus its rows.
type Model struct {
	s    *Schema
	env  any
	rnd  *rand.Rand
	root *row

	seq    uint64 // msg_id counter for Notify (kept by Snapshot)
	jobSeq uint64
	jobs   []*job
	pend   []*pending

	subs   []*sub // subscription cache, valid when subsOK
	subsOK bool

	fx    Effects // effects of the call in progress
	depth int     // nesting of public calls (handlers calling back)
}

// Config is what a Model is created with.
type Config struct {
	// Env is handed to every binding and handler as Ctx.Env: typically the
	// device that owns the model.
	Env any
	// Rand draws the Notify retry waits (R-NOT.1). With nil the engine
	// always waits the shortest interval of each range, deterministically.
	Rand *rand.Rand
}

// row is one table row (or the root pseudo-row).
type row struct {
	obj    *Object // the table (the root object for the root row)
	num    uint32  // instance number; 0 for the root
	parent *row
	vals   []kv     // stored values, sorted by param id
	kids   []*row   // rows of sub-tables, sorted by (obj.id, num)
	next   []uint32 // next instance number per obj.subTables slot (lazily allocated)
}

type kv struct {
	p uint16
	v string
}

// NewModel creates a device's model with every parameter at its default,
// no rows and nothing pending.
func NewModel(s *Schema, cfg Config) *Model {
	return &Model{s: s, env: cfg.Env, rnd: cfg.Rand, root: &row{obj: s.root}}
}

// Schema returns the model's schema.
func (m *Model) Schema() *Schema { return m.s }

// stored returns the stored value of p in r, if any.
func (r *row) stored(p *Param) (string, bool) {
	i, ok := slices.BinarySearchFunc(r.vals, p.id, func(e kv, id uint16) int { return int(e.p) - int(id) })
	if !ok {
		return "", false
	}
	return r.vals[i].v, true
}

// put stores v for p in r (removing the entry when v is the default) and
// returns the previous stored value.
func (m *Model) put(r *row, p *Param, v string) (old string, had bool) {
	i, ok := slices.BinarySearchFunc(r.vals, p.id, func(e kv, id uint16) int { return int(e.p) - int(id) })
	if ok {
		old, had = r.vals[i].v, true
	}
	switch {
	case v == p.def && ok:
		r.vals = slices.Delete(r.vals, i, i+1)
		if len(r.vals) == 0 {
			r.vals = nil
		}
	case v == p.def:
	case ok:
		r.vals[i].v = v
	default:
		r.vals = slices.Insert(r.vals, i, kv{p: p.id, v: v})
	}
	m.touched(r)
	return old, had
}

// restore undoes put.
func (m *Model) restore(r *row, p *Param, old string, had bool) {
	if had {
		m.put(r, p, old)
	} else {
		m.put(r, p, p.def)
	}
}

// touched invalidates caches derived from rows of the subscription and
// controller tables.
func (m *Model) touched(r *row) {
	if r == nil {
		return
	}
	if (m.s.subs != nil && r.obj == m.s.subs.table) || (m.s.ctrl != nil && r.obj == m.s.ctrl.table) {
		m.subsOK = false
	}
}

// read returns p's value in row r: a bound getter's value, a row count,
// the stored value or the default.
func (m *Model) read(p *Param, r *row, now time.Time) string {
	switch {
	case p.get != nil:
		return p.get(Ctx{Model: m, Env: m.env, Now: now, obj: p.obj, row: r})
	case p.count != nil:
		return strconv.Itoa(len(m.rowsOf(p.count, r)))
	}
	if v, ok := r.stored(p); ok {
		return v
	}
	return p.def
}

// rowsOf returns the rows of table t under parent row r, in instance order.
// The slice aliases r.kids; callers must not keep it across changes.
func (m *Model) rowsOf(t *Object, r *row) []*row {
	lo, _ := slices.BinarySearchFunc(r.kids, t.id, func(k *row, id uint16) int { return int(k.obj.id) - int(id) })
	hi := lo
	for hi < len(r.kids) && r.kids[hi].obj == t {
		hi++
	}
	return r.kids[lo:hi]
}

// findRow returns the row of table t with number n under r.
func (m *Model) findRow(t *Object, r *row, n uint32) *row {
	for _, k := range m.rowsOf(t, r) {
		if k.num == n {
			return k
		}
	}
	return nil
}

// nextNum returns (and consumes) the next instance number of table t
// under r. Numbers increase and are never reused while the model lives
// (Snapshot keeps the counters).
func (m *Model) nextNum(t *Object, r *row) uint32 {
	m.ensureNext(r)
	n := r.next[t.slot]
	if n == 0 {
		n = 1
	}
	for m.findRow(t, r, n) != nil {
		n++
	}
	r.next[t.slot] = n + 1
	return n
}

func (m *Model) ensureNext(r *row) {
	if len(r.next) < len(r.obj.subTables) {
		r.next = append(r.next, make([]uint32, len(r.obj.subTables)-len(r.next))...)
	}
}

// bumpNext makes sure n is never handed out again for t under r.
func (m *Model) bumpNext(t *Object, r *row, n uint32) {
	m.ensureNext(r)
	if r.next[t.slot] <= n {
		r.next[t.slot] = n + 1
	}
}

// insertRow adds a new row of table t numbered n under parent.
func (m *Model) insertRow(t *Object, parent *row, n uint32) *row {
	nr := &row{obj: t, num: n, parent: parent}
	i, _ := slices.BinarySearchFunc(parent.kids, nr, func(k, x *row) int {
		if k.obj.id != x.obj.id {
			return int(k.obj.id) - int(x.obj.id)
		}
		switch {
		case k.num < x.num:
			return -1
		case k.num > x.num:
			return 1
		}
		return 0
	})
	parent.kids = slices.Insert(parent.kids, i, nr)
	m.bumpNext(t, parent, n)
	m.touched(nr)
	return nr
}

// removeRow unlinks r (and so everything below it) from its parent.
func (m *Model) removeRow(r *row) {
	p := r.parent
	if i := slices.Index(p.kids, r); i >= 0 {
		p.kids = slices.Delete(p.kids, i, i+1)
		if len(p.kids) == 0 {
			p.kids = nil
		}
	}
	m.touched(r)
	m.forgetRow(r)
}

// forgetRow drops pending notifications and jobs tied to r or below it.
func (m *Model) forgetRow(r *row) {
	m.pend = slices.DeleteFunc(m.pend, func(p *pending) bool { return under(p.sub, r) })
	m.jobs = slices.DeleteFunc(m.jobs, func(j *job) bool { return under(j.req, r) })
}

// under reports whether x is r or a row below r.
func under(x, r *row) bool {
	for ; x != nil; x = x.parent {
		if x == r {
			return true
		}
	}
	return false
}

// rowNums lists the instance numbers from the outermost table to r.
func rowNums(r *row) []uint32 {
	var n int
	for x := r; x != nil && x.parent != nil; x = x.parent {
		n++
	}
	nums := make([]uint32, n)
	for x := r; x != nil && x.parent != nil; x = x.parent {
		n--
		nums[n] = x.num
	}
	return nums
}

// objPath is the instance path of object o whose values live in row r:
// "Device.DeviceInfo.FirmwareImage.2.".
func objPath(o *Object, r *row) string {
	var b strings.Builder
	writeObjPath(&b, o, r, len(o.segs))
	return b.String()
}

// tablePath is the path of table t under parent row r, without instance:
// "Device.DeviceInfo.FirmwareImage.".
func tablePath(t *Object, r *row) string {
	var b strings.Builder
	writeObjPath(&b, t, r, len(t.segs)-1)
	return b.String()
}

// writeObjPath writes the first n segments of o's path, taking instance
// numbers from r and its ancestors.
func writeObjPath(b *strings.Builder, o *Object, r *row, n int) {
	var buf [8]uint32
	nums := buf[:0]
	for x := r; x != nil && x.parent != nil; x = x.parent {
		nums = append(nums, x.num)
	}
	// nums is innermost first; placeholders are consumed outermost first.
	j := len(nums) - 1
	b.Grow(len(o.path) + 4*len(nums))
	for _, s := range o.segs[:n] {
		if s.table {
			if j >= 0 {
				b.WriteString(strconv.FormatUint(uint64(nums[j]), 10))
			}
			j--
		} else {
			b.WriteString(s.name)
		}
		b.WriteByte('.')
	}
}

// paramRel finds a parameter by a path relative to o: "Status" or
// "Stats.BytesSent" through single-instance sub-objects.
func (o *Object) paramRel(rel string) *Param {
	for {
		name, rest, more := strings.Cut(rel, ".")
		if !more {
			return o.paramBy[name]
		}
		c := o.childBy[name]
		if c == nil || c.table {
			return nil
		}
		o, rel = c, rest
	}
}

// relName is p's name relative to object o (an ancestor of p's object
// within the same row): "Stats.BytesSent".
func relName(o *Object, p *Param) string {
	if p.obj == o {
		return p.name
	}
	var parts []string
	for x := p.obj; x != nil && x != o; x = x.parent {
		parts = append(parts, x.name)
	}
	slices.Reverse(parts)
	return strings.Join(parts, ".") + "." + p.name
}
