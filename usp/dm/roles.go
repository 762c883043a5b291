package dm

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"brickyard/usp"
	"brickyard/usp/path"
)

// How a Controller's permissions are worked out (TR-369 "A Controller's
// Role"):
//
//  1. Its roles: the Role rows its Controller row's AssignedRole and
//     InheritedRole name (enabled ones only). A Controller that holds no
//     enabled role, and an endpoint with no Controller row at all, get
//     ControllerTrust.UntrustedRole; when that is empty too, or the
//     Controller row is disabled (Enable false), the Controller is
//     refused: every request it sends is answered with Error 7006.
//  2. Within one role, for each element the enabled Permission row with
//     the highest Order whose Targets cover the element decides all four
//     strings at once (a winning row overrides every lower one, bit by
//     bit, as obuspa does); no row covering it means nothing is allowed.
//  3. Across roles, the results are united (a permission granted by any
//     role is granted).
//
// A target covers an element when it is an object path at or above it
// (everything in the subtree) or the element's own full path; "*" stands
// for any instance, an instance number for that one only.
//
// The result is compiled once per set of roles into an ACL: for every
// parameter, object, command and event of the schema, what the rules
// grant to any instance, plus a flag for elements some instance-number
// target touches, which are worked out per instance when asked. Models
// cache the ACL of each Controller they have served until a Role,
// Permission or Controller row (or UntrustedRole) changes; models sharing
// a Config.ACL share equal ACLs.

// rule is one enabled Permission row.
type rule struct {
	order   uint64
	targets []aclTarget
	perms   Perms
}

// roleRules are one enabled role's rules, highest Order first.
type roleRules []rule

// ACL is what one Controller may do, compiled against one schema. It
// is immutable and may be shared by any number of Models of that schema
// (Config.ACL). The zero of a field is "nothing".
type ACL struct {
	s      *Schema
	roles  []roleRules
	params []cell
	objs   []objCell
	cmds   []cell
	events []cell
	// refused, when not empty, is why the Controller is not served.
	refused string
}

// cell is an element's permission: gen for any instance, any for some
// instance (what GetSupportedDM shows), specific when an instance-number
// target may change gen for some instances.
type cell struct {
	gen, any Perm
	specific bool
}

// objCell is an object's: table is Obj at a table itself (as Add and
// ObjectCreation ask), obj is Obj at the object or at an instance (as Get
// and GetSupportedDM ask), inst is InstantiatedObj at an instance
// (GetInstances, wildcards, Delete). A single-instance object has the
// same in all three places.
type objCell struct {
	table, obj, inst cell
	// paramsRead: every parameter of the object is readable at every
	// instance (Get then checks none of them one by one).
	paramsRead bool
}

// ACLCache shares compiled ACLs between the Models of one schema
// (Config.ACL): key identifies the roles' rules; build compiles them.
// ACL must return an ACL built for an equal key (or build's result),
// and be safe for concurrent use if the Models run on several goroutines.
type ACLCache interface {
	ACL(key string, build func() *ACL) *ACL
}

// Refused reports why the Controller is refused ("" when it is served).
func (a *ACL) Refused() string { return a.refused }

// Param is what the Controller may do with parameter p in any instance.
func (a *ACL) Param(p *Param) Perm { return a.params[p.id].gen }

// compile builds the ACL of a set of roles.
func compileAccess(s *Schema, roles []roleRules) *ACL {
	a := &ACL{s: s, roles: roles, params: make([]cell, len(s.params)), objs: make([]objCell, len(s.objects)),
		cmds: make([]cell, s.ncmds), events: make([]cell, s.nevents)}
	for _, p := range s.params {
		a.params[p.id] = a.cellOf(element{segs: p.obj.segs, kind: path.Parameter, leaf: p.name}, pickParam)
	}
	for _, o := range s.objects {
		self := element{segs: o.segs, kind: path.Object}
		oc := objCell{obj: a.cellOf(self, pickObj), inst: a.cellOf(self, pickInst)}
		oc.table = oc.obj
		if o.table {
			oc.table = a.cellOf(tableElem(o), pickObj)
		}
		oc.paramsRead = true
		for _, p := range o.params {
			if c := a.params[p.id]; c.specific || c.gen&PermRead == 0 {
				oc.paramsRead = false
			}
		}
		a.objs[o.id] = oc
		for _, c := range o.commands {
			a.cmds[c.id] = a.cellOf(element{segs: o.segs, kind: path.Command, leaf: c.name}, pickCE)
		}
		for _, e := range o.events {
			a.events[e.id] = a.cellOf(element{segs: o.segs, kind: path.Event, leaf: e.name}, pickCE)
		}
	}
	return a
}

// tableElem is the element of an object itself: a table without its
// trailing placeholder.
func tableElem(o *Object) element {
	segs := o.segs
	if o.table {
		segs = segs[:len(segs)-1]
	}
	return element{segs: segs, kind: path.Object}
}

type pick func(Perms) Perm

func pickParam(p Perms) Perm { return p.Param }
func pickObj(p Perms) Perm   { return p.Obj }
func pickInst(p Perms) Perm  { return p.Inst }
func pickCE(p Perms) Perm    { return p.CmdEvent }

// cellOf evaluates element e for every role.
func (a *ACL) cellOf(e element, f pick) cell {
	var c cell
	for _, rr := range a.roles {
		gen, genOrder, found := Perm(0), uint64(0), false
		for i := range rr {
			r := &rr[i]
			if r.coversAny(e, nil) {
				gen, genOrder, found = f(r.perms), r.order, true
				break // highest Order first
			}
		}
		c.gen |= gen
		c.any |= gen
		for i := range rr {
			r := &rr[i]
			if found && r.order <= genOrder {
				break
			}
			if r.coversSpecific(e) {
				c.specific = true
				c.any |= f(r.perms)
			}
		}
	}
	return c
}

// coversAny reports whether one of r's targets covers e at the instances
// nums (nil: any instance, so instance-number targets never cover).
func (r *rule) coversAny(e element, nums []uint32) bool {
	for i := range r.targets {
		if r.targets[i].covers(e, nums, false) {
			return true
		}
	}
	return false
}

// coversSpecific reports whether an instance-number target of r covers e
// at some instance.
func (r *rule) coversSpecific(e element) bool {
	for i := range r.targets {
		if t := &r.targets[i]; t.specific && t.covers(e, nil, true) {
			return true
		}
	}
	return false
}

// eval is the permission of element e at the instances nums, worked out
// from the rules (for cells marked specific).
func (a *ACL) eval(e element, nums []uint32, f pick) Perm {
	var out Perm
	for _, rr := range a.roles {
		for i := range rr {
			if rr[i].coversAny(e, nums) {
				out |= f(rr[i].perms)
				break
			}
		}
	}
	return out
}

// The permissions of one element at one instance: r is the row whose
// instance numbers the element's path takes (the row of the object, or
// for a table itself the row it hangs under).

func (a *ACL) paramAt(p *Param, r *row) Perm {
	if c := a.params[p.id]; !c.specific {
		return c.gen
	}
	return a.evalAt(element{segs: p.obj.segs, kind: path.Parameter, leaf: p.name}, r, pickParam)
}

// tableAt is Obj at table o itself, under row r (the row its rows hang
// under).
func (a *ACL) tableAt(o *Object, r *row) Perm {
	if c := a.objs[o.id].table; !c.specific {
		return c.gen
	}
	return a.evalAt(tableElem(o), r, pickObj)
}

// objAt is Obj at object o whose values live in row r (an instance of a
// table: its row).
func (a *ACL) objAt(o *Object, r *row) Perm {
	if c := a.objs[o.id].obj; !c.specific {
		return c.gen
	}
	return a.evalAt(element{segs: o.segs, kind: path.Object}, r, pickObj)
}

// instAt is InstantiatedObj at row r of table o.
func (a *ACL) instAt(o *Object, r *row) Perm {
	if c := a.objs[o.id].inst; !c.specific {
		return c.gen
	}
	return a.evalAt(element{segs: o.segs, kind: path.Object}, r, pickInst)
}

func (a *ACL) cmdAt(c *Command, r *row) Perm {
	if x := a.cmds[c.id]; !x.specific {
		return x.gen
	}
	return a.evalAt(element{segs: c.obj.segs, kind: path.Command, leaf: c.name}, r, pickCE)
}

func (a *ACL) eventAt(e *Event, r *row) Perm {
	if x := a.events[e.id]; !x.specific {
		return x.gen
	}
	return a.evalAt(element{segs: e.obj.segs, kind: path.Event, leaf: e.name}, r, pickCE)
}

// evalAt is eval at the instances of row r (the slow path of the *At
// methods, kept out of line so that they inline).
func (a *ACL) evalAt(e element, r *row, f pick) Perm {
	var buf [8]uint32
	return a.eval(e, appendNums(buf[:0], r), f)
}

// appendNums appends the instance numbers from the outermost table to r.
func appendNums(dst []uint32, r *row) []uint32 {
	n := 0
	for x := r; x != nil && x.parent != nil; x = x.parent {
		n++
	}
	start := len(dst)
	for range n {
		dst = append(dst, 0)
	}
	for x := r; x != nil && x.parent != nil; x = x.parent {
		n--
		dst[start+n] = x.num
	}
	return dst
}

// rolesOf reads the rules of the Role rows refs names (enabled ones
// only, each once, in the order given) and a key identifying them.
func (m *Model) rolesOf(refs []string, now time.Time) ([]roleRules, string) {
	c := m.s.trust
	var out []roleRules
	var key strings.Builder
	var seen []*row
	for _, ref := range refs {
		r := m.roleRow(ref)
		if r == nil || slices.Contains(seen, r) || m.read(c.roleEnable, r, now) != "true" {
			continue
		}
		seen = append(seen, r)
		var rr roleRules
		key.WriteString(strconv.Itoa(int(r.num)))
		key.WriteByte('{')
		for _, pr := range m.rowsOf(c.perms, r) {
			if m.read(c.pEnable, pr, now) != "true" {
				continue
			}
			ru, ok := m.ruleOf(pr, now)
			if !ok {
				continue
			}
			rr = append(rr, ru)
			key.WriteString(strconv.Itoa(len(pr.vals)))
			key.WriteByte(':')
			key.WriteString(pr.vals)
		}
		key.WriteByte('}')
		slices.SortStableFunc(rr, func(x, y rule) int {
			switch {
			case x.order > y.order:
				return -1
			case x.order < y.order:
				return 1
			}
			return 0
		})
		out = append(out, rr)
	}
	return out, key.String()
}

// ruleOf reads one Permission row. A row with a malformed value (written
// by the device, which is not checked) grants nothing: ok is false.
func (m *Model) ruleOf(r *row, now time.Time) (rule, bool) {
	c := m.s.trust
	order, err := strconv.ParseUint(m.read(c.pOrder, r, now), 10, 32)
	if err != nil {
		return rule{}, false
	}
	ts, err := parseTargets(m.read(c.targets, r, now))
	if err != nil {
		return rule{}, false
	}
	var ps [4]Perm
	for i, p := range []*Param{c.pParam, c.pObj, c.pInst, c.pCE} {
		if ps[i], err = ParsePerm(m.read(p, r, now)); err != nil {
			return rule{}, false
		}
	}
	return rule{order: order, targets: ts, perms: Perms{ps[0], ps[1], ps[2], ps[3]}}, true
}

// roleRow finds the Role row ref names ("Device.LocalAgent.ControllerTrust.Role.1",
// with or without the trailing dot).
func (m *Model) roleRow(ref string) *row {
	c := m.s.trust
	ref = strings.TrimSuffix(strings.TrimSpace(ref), ".")
	prefix := tablePath(c.roles, m.root)
	rest, ok := strings.CutPrefix(ref, prefix)
	if !ok {
		return nil
	}
	n, err := strconv.ParseUint(rest, 10, 32)
	if err != nil {
		return nil
	}
	return m.findRow(c.roles, m.root, uint32(n))
}

// refList splits a list of references.
func refList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func invalidRef(p *Param, ref string, t *Object) error {
	return fmt.Errorf("%s: %q is not a row of %s: %w", p.name, trunc(ref), t.path, usp.InvalidValue)
}

// aclEntry is a Controller's ACL as a Model caches it.
type aclEntry struct {
	eid string
	acc *ACL
}

// maxACLEntries bounds a Model's cache of ACLs (one per Controller
// served since the last change).
const maxACLEntries = 8

// accessFor returns what the Controller from may do: nil when everything
// is allowed (the schema has no ControllerTrust, or the call is the
// device's own), otherwise its ACL, which may be a refusal.
func (m *Model) accessFor(from Origin, now time.Time) *ACL {
	c := m.s.trust
	if c == nil || from.EndpointID == "" {
		return nil
	}
	if !m.aclOK {
		m.aclOK = true
		clear(m.acl)
		m.acl = m.acl[:0]
	}
	for i := range m.acl {
		if m.acl[i].eid == from.EndpointID {
			return m.acl[i].acc
		}
	}
	a := m.buildAccess(from, now)
	if len(m.acl) == maxACLEntries {
		m.acl = append(m.acl[:0], m.acl[1:]...)
	}
	m.acl = append(m.acl, aclEntry{eid: from.EndpointID, acc: a})
	return a
}

func (m *Model) buildAccess(from Origin, now time.Time) *ACL {
	c := m.s.trust
	var refs []string
	ctrl := m.controllerRow(from.Controller, now)
	if ctrl == nil {
		ctrl = m.controllerRow(m.controllerOf(from.EndpointID, now), now)
	}
	if ctrl != nil {
		if m.read(c.ctrlEnable, ctrl, now) != "true" {
			return &ACL{s: m.s, refused: "Controller " + trunc(from.EndpointID) + " is disabled (" + strings.TrimSuffix(objPath(ctrl.obj, ctrl), ".") + ".Enable is false)"}
		}
		refs = append(refList(m.read(c.assigned, ctrl, now)), refList(m.read(c.inherited, ctrl, now))...)
	}
	roles, key := m.rolesOf(refs, now)
	if len(roles) == 0 {
		roles, key = m.rolesOf(refList(m.read(c.untrusted, m.root, now)), now)
		if len(roles) == 0 {
			why := "holds no enabled role and ControllerTrust.UntrustedRole names none"
			if ctrl == nil {
				why = "is not a Controller of this Agent and unknown Controllers are refused (ControllerTrust.UntrustedRole is empty)"
			}
			return &ACL{s: m.s, refused: "Controller " + trunc(from.EndpointID) + " " + why}
		}
	}
	build := func() *ACL { return compileAccess(m.s, roles) }
	if m.aclCache != nil {
		return m.aclCache.ACL(key, build)
	}
	return build()
}
