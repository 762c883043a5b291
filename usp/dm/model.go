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
// Values are kept per row, packed into one string (vals.go), and only
// when they differ from the default; single-instance objects have no row
// of their own (their values live in the row of the nearest enclosing
// table, or the root row), so a model that only stores a handful of values
// costs a few hundred bytes plus its rows, and models given a shared
// Config.Intern hold their equal rows once.
type Model struct {
	s    *Schema
	env  any
	rnd  *rand.Rand
	root *row

	seq    uint64 // msg_id counter for Notify (kept by Snapshot)
	jobSeq uint64
	jobs   []*job
	pend   []*pending

	subs []sub // subscription cache, valid when subsOK

	acl      []aclEntry // Accesses of the Controllers served, valid when aclOK (roles.go)
	aclCache ACLCache
	acc      *ACL // the Access of the request being handled; nil: everything allowed

	fx     *Effects // effects of the call in progress; nil: none yet
	intern func(string) string
	wrote  *row  // the row whose values the call in progress changed (with Intern)
	depth  int32 // nesting of public calls (handlers calling back)
	subsOK bool
	aclOK  bool
	wrote2 bool // the call in progress changed the values of more rows than wrote
}

// Config is what a Model is created with.
type Config struct {
	// Env is handed to every binding and handler as Ctx.Env: typically the
	// device that owns the model.
	Env any
	// Rand draws the Notify retry waits (R-NOT.1). With nil the engine
	// always waits the shortest interval of each range, deterministically.
	Rand *rand.Rand
	// Intern, if set, shares storage between models. A row's stored
	// values are kept packed in one string; at the end of each call that
	// changed them, the model passes that string to Intern and keeps what
	// it returns instead, which must be equal to it. The rows of a fleet
	// of devices of one type are mostly equal (the same firmware rows,
	// the same controller, the same subscriptions): an interning table
	// owned by the caller lets them hold one copy. Intern is called from
	// the model's calls only, on the caller's goroutine; it must be safe
	// for concurrent use if models sharing it run on several.
	Intern func(string) string
	// ACL, if set, shares the compiled permissions of equal sets of roles
	// between models of one schema (ACLCache); nil: each model compiles
	// its own.
	ACL ACLCache
}

// row is one table row (or the root pseudo-row). It is kept small: a
// fleet holds one per table row per device.
type row struct {
	obj    *Object // the table (the root object for the root row)
	parent *row
	vals   string   // stored values, packed (see vals.go)
	tabs   *rowTabs // rows of sub-tables and instance counters; nil until needed
	num    uint32   // instance number; 0 for the root
}

// rowTabs is what a row whose table has sub-tables holds of them.
type rowTabs struct {
	kids []*row   // rows of sub-tables, sorted by (obj.id, num)
	next []uint32 // next instance number per obj.subTables slot
}

// kids returns the rows of r's sub-tables, sorted by (obj.id, num). The
// slice aliases r's; callers must not keep it across changes.
func (r *row) kids() []*row {
	if r.tabs == nil {
		return nil
	}
	return r.tabs.kids
}

// NewModel creates a device's model with every parameter at its default,
// no rows and nothing pending.
func NewModel(s *Schema, cfg Config) *Model {
	return &Model{s: s, env: cfg.Env, rnd: cfg.Rand, root: &row{obj: s.root}, intern: cfg.Intern, aclCache: cfg.ACL}
}

// Schema returns the model's schema.
func (m *Model) Schema() *Schema { return m.s }

// stored returns the stored value of p in r, if any.
func (r *row) stored(p *Param) (string, bool) {
	return lookupVal(r.vals, p.id)
}

// put stores v for p in r (removing the entry when v is the default) and
// returns the previous stored value. A parameter with a Template has no
// fixed default: every value put is stored (unput removes it).
func (m *Model) put(r *row, p *Param, v string) (old string, had bool) {
	return m.putVal(r, p, v, v == p.def && p.tmpl == nil)
}

// unput removes p's stored value from r: it reads its default (or its
// Template's value) again.
func (m *Model) unput(r *row, p *Param) { m.putVal(r, p, p.def, true) }

func (m *Model) putVal(r *row, p *Param, v string, isDef bool) (old string, had bool) {
	start, end, found := findVal(r.vals, p.id)
	if found {
		_, old, _ = nextVal(r.vals[start:end])
		had = true
	}
	switch {
	case isDef && found:
		r.vals = spliceVal(r.vals, start, end, 0, "", false)
	case isDef:
	case found && old == v:
	default:
		r.vals = spliceVal(r.vals, start, end, p.id, v, true)
	}
	if m.intern != nil && m.wrote != r && (found || !isDef) {
		if m.wrote != nil {
			m.wrote2 = true
		}
		m.wrote = r
	}
	m.touched(r)
	if t := m.s.trust; t != nil && p == t.untrusted {
		m.aclOK = false
	}
	return old, had
}

// internRows hands the values of the rows written since the last call to
// Config.Intern.
func (m *Model) internRows() {
	switch {
	case m.wrote2:
		m.internTree(m.root)
	case m.wrote != nil:
		m.wrote.vals = m.intern(m.wrote.vals)
	}
	m.wrote, m.wrote2 = nil, false
}

func (m *Model) internTree(r *row) {
	r.vals = m.intern(r.vals)
	for _, k := range r.kids() {
		m.internTree(k)
	}
}

// restore undoes put.
func (m *Model) restore(r *row, p *Param, old string, had bool) {
	if had {
		m.putVal(r, p, old, false)
	} else {
		m.unput(r, p)
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
		m.aclOK = false
	}
	if t := m.s.trust; t != nil && t.trustRow(r) {
		m.aclOK = false
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
	if p.tmpl != nil {
		return p.tmpl(Ctx{Model: m, Env: m.env, Now: now, obj: p.obj, row: r})
	}
	return p.def
}

// rowsOf returns the rows of table t under parent row r, in instance order.
// The slice aliases r's kids; callers must not keep it across changes.
func (m *Model) rowsOf(t *Object, r *row) []*row {
	kids := r.kids()
	lo, _ := slices.BinarySearchFunc(kids, t.id, func(k *row, id uint16) int { return int(k.obj.id) - int(id) })
	hi := lo
	for hi < len(kids) && kids[hi].obj == t {
		hi++
	}
	return kids[lo:hi]
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
	next := m.ensureNext(r)
	n := next[t.slot]
	if n == 0 {
		n = 1
	}
	for m.findRow(t, r, n) != nil {
		n++
	}
	next[t.slot] = n + 1
	return n
}

// ensureTabs returns r's sub-table state, creating it.
func (m *Model) ensureTabs(r *row) *rowTabs {
	if r.tabs == nil {
		r.tabs = &rowTabs{}
	}
	return r.tabs
}

// ensureNext returns r's instance counters, one per sub-table.
func (m *Model) ensureNext(r *row) []uint32 {
	rt := m.ensureTabs(r)
	if len(rt.next) < len(r.obj.subTables) {
		rt.next = append(rt.next, make([]uint32, len(r.obj.subTables)-len(rt.next))...)
	}
	return rt.next
}

// bumpNext makes sure n is never handed out again for t under r.
func (m *Model) bumpNext(t *Object, r *row, n uint32) {
	next := m.ensureNext(r)
	if next[t.slot] <= n {
		next[t.slot] = n + 1
	}
}

// insertRow adds a new row of table t numbered n under parent.
func (m *Model) insertRow(t *Object, parent *row, n uint32) *row {
	nr := &row{obj: t, num: n, parent: parent}
	rt := m.ensureTabs(parent)
	i, _ := slices.BinarySearchFunc(rt.kids, nr, func(k, x *row) int {
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
	rt.kids = slices.Insert(rt.kids, i, nr)
	m.bumpNext(t, parent, n)
	m.touched(nr)
	return nr
}

// removeRow unlinks r (and so everything below it) from its parent.
func (m *Model) removeRow(r *row) {
	if rt := r.parent.tabs; rt != nil {
		if i := slices.Index(rt.kids, r); i >= 0 {
			rt.kids = slices.Delete(rt.kids, i, i+1)
			if len(rt.kids) == 0 {
				rt.kids = nil
			}
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
	if o.ntables == 0 {
		return o.path // no instance numbers: the Supported-DM path is the path
	}
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
