package dm

import (
	"fmt"
	"time"

	"brickyard/usp"
	"brickyard/usp/path"
)

// What each message does under access control (R-SEC.1; the
// per-message rules of TR-369's Messages chapter; roles.go says how a
// Controller's permissions are worked out). While a request is handled,
// Model.acc holds the sender's ACL; nil allows everything (a schema
// without ControllerTrust, the device's own calls).
//
//   - A refused Controller (disabled row; no role, and no UntrustedRole
//     for it) gets Error 7006 for every request.
//   - Get (R-GET.1, R-GET.4): an object instance is reported only when the
//     Controller holds Obj r on it; its parameters without Param r are
//     left out (result_params may be empty). A table's rows, when a path
//     lists them, are those it holds InstantiatedObj r on. A non-search
//     path to an object or parameter it may not read (a table: not the
//     table nor any instance) is 7026, as if absent.
//   - Wildcards and search expressions, in every message, select only
//     instances the Controller holds InstantiatedObj r on, and a search
//     expression matches only on parameters it may read (R-GIN.0).
//   - GetInstances (R-GIN.0, R-GIN.1): instances without InstantiatedObj r
//     are absent, with everything below them; unique keys without Param r
//     are left out (R-ADD.6 likewise for AddResp).
//   - GetSupportedDM (R-GSP.0): objects without Obj r, parameters without
//     Param r, commands and events without CommandEvent r at any instance
//     are absent (a non-search requested path to one is 7026); a
//     parameter the Controller may not write reads PARAM_READ_ONLY, a
//     table it may not add to or delete from loses those in its access.
//   - Set: a parameter without Param w fails with 7006 (param_errs; a
//     required one fails its object as any failed required setting does);
//     updated_params leaves out what it may not read (R-SET.3).
//   - Add: Obj w on the table, else 7006 for that object; settings without
//     Param w fail with 7006 (optional: ignored and reported in
//     param_errs; required: the object is not created).
//   - Delete: InstantiatedObj w on every instance, else 7006 (with
//     allow_partial false the whole message fails, R-DEL.1); affected_paths
//     leaves out what it may not read (R-DEL.2).
//   - Operate: CommandEvent x on the command, else cmd_failure 7006.
//   - Notifications go only where the recipient holds n: ValueChange
//     Param n, ObjectCreation Obj n on the table, ObjectDeletion
//     InstantiatedObj n on the instance, OperationComplete and Event
//     CommandEvent n; a refused recipient gets none. Boot!'s ParameterMap
//     holds only what the recipient may read.

// errRefused is the Error a refused Controller gets.
func errRefused(a *ACL) error {
	return fmt.Errorf("%s: %w", a.refused, usp.PermissionDenied)
}

// enter makes a the ACL of the call in progress and returns the one to
// put back.
func (m *Model) enter(a *ACL) (prev *ACL) {
	prev, m.acc = m.acc, a
	return prev
}

// readParam and readObj are on every Get's path: the common case (no
// ACL, or a cell no instance-number target touches) stays inline.
func (m *Model) readParam(p *Param, r *row) bool {
	a := m.acc
	if a == nil {
		return true
	}
	if c := a.params[p.id]; !c.specific {
		return c.gen&PermRead != 0
	}
	return a.paramAt(p, r)&PermRead != 0
}

func (m *Model) readObj(o *Object, r *row) bool {
	a := m.acc
	if a == nil {
		return true
	}
	if c := a.objs[o.id].obj; !c.specific {
		return c.gen&PermRead != 0
	}
	return a.objAt(o, r)&PermRead != 0
}

// readTarget reports whether the Controller may read the object instance
// t, or for a table named without instance, the table or some instance
// of it (its rows are then listed as a wildcard lists them).
func (m *Model) readTarget(t target) bool {
	if m.acc == nil {
		return true
	}
	if t.table {
		return m.acc.tableAt(t.o, t.r)&PermRead != 0 || m.acc.objs[t.o.id].obj.any&PermRead != 0
	}
	return m.acc.objAt(t.o, t.r)&PermRead != 0
}

// denied is the 7006 error of a missing permission.
func denied(what string, p Perm) error {
	return fmt.Errorf("%s: the Controller's roles do not grant %q: %w", what, p.String(), usp.PermissionDenied)
}

func notReadable(ps string) error {
	return fmt.Errorf("%s is not in the data model this Controller may read: %w", trunc(ps), usp.InvalidPath)
}

// mayWrite checks Param w for a write to p in row r.
func (m *Model) mayWrite(p *Param, r *row) error {
	if m.acc == nil || m.acc.paramAt(p, r)&PermWrite != 0 {
		return nil
	}
	return denied(p.name, PermWrite)
}

// mayAdd checks Obj w for a row of table t under parent.
func (m *Model) mayAdd(t *Object, parent *row) error {
	if m.acc == nil || m.acc.tableAt(t, parent)&PermWrite != 0 {
		return nil
	}
	return denied(tablePath(t, parent), PermWrite)
}

// mayDelete checks InstantiatedObj w on row r of table t.
func (m *Model) mayDelete(t *Object, r *row) error {
	if m.acc == nil || m.acc.instAt(t, r)&PermWrite != 0 {
		return nil
	}
	return denied(objPath(t, r), PermWrite)
}

// mayRun checks CommandEvent x on command c of the object in row r.
func (m *Model) mayRun(c *Command, r *row) error {
	if m.acc == nil || m.acc.cmdAt(c, r)&PermExecute != 0 {
		return nil
	}
	return denied(objPath(c.obj, r)+c.name, PermExecute)
}

// visible keeps the targets of p whose rows chosen by a wildcard or a
// search expression the Controller holds InstantiatedObj r on, and whose
// search expressions name parameters it may read. After reference
// following every row on the way must be visible so.
func (m *Model) visible(p path.Path, ts []target) []target {
	if m.acc == nil || !p.IsSearch() || len(ts) == 0 {
		return ts
	}
	var sels []path.Segment
	refs := false
	for i := 0; i < p.Len(); i++ {
		s := p.At(i)
		switch {
		case s.Kind() == path.SegReference:
			refs = true
		case s.IsSelector():
			sels = append(sels, s)
		}
	}
	out := ts[:0]
	for _, t := range ts {
		if m.selectedVisible(t, sels, refs) {
			out = append(out, t)
		}
	}
	return out
}

func (m *Model) selectedVisible(t target, sels []path.Segment, refs bool) bool {
	var buf [8]*row
	rows := buf[:0]
	for x := t.r; x != nil && x.parent != nil; x = x.parent {
		rows = append(rows, x)
	}
	for i := range rows { // rows is innermost first; selectors outermost first
		r := rows[len(rows)-1-i]
		if refs || i >= len(sels) {
			if m.acc.instAt(r.obj, r)&PermRead == 0 {
				return false
			}
			continue
		}
		switch sels[i].Kind() {
		case path.SegWildcard, path.SegSearch:
			if m.acc.instAt(r.obj, r)&PermRead == 0 {
				return false
			}
		}
		for _, e := range sels[i].Exprs() {
			if pp := r.obj.paramRel(e.Param); pp == nil || m.acc.paramAt(pp, r)&PermRead == 0 {
				return false
			}
		}
	}
	return true
}

// recipient is the ACL of subscription s's recipient: ok is false when it
// is refused (it gets no notifications); a nil ACL allows everything.
func (m *Model) recipient(s *sub, now time.Time) (a *ACL, ok bool) {
	if m.s.trust == nil {
		return nil, true
	}
	a = m.accessFor(Origin{EndpointID: s.to, Controller: m.subCtrl(s, now)}, now)
	return a, a == nil || a.refused == ""
}

// What GetSupportedDM shows: an element the Controller may read at some
// instance (a nil ACL sees everything).

func (a *ACL) seesObj(o *Object) bool { return a == nil || a.objs[o.id].obj.any&PermRead != 0 }

func (a *ACL) seesParam(p *Param) bool { return a == nil || a.params[p.id].any&PermRead != 0 }

func (a *ACL) seesCmd(c *Command) bool { return a == nil || a.cmds[c.id].any&PermRead != 0 }

func (a *ACL) seesEvent(e *Event) bool { return a == nil || a.events[e.id].any&PermRead != 0 }

// tableAccess is table o's access as the Controller may use it: Add
// needs Obj w on the table, Delete InstantiatedObj w on its instances.
func (a *ACL) tableAccess(o *Object) TableAccess {
	if a == nil {
		return o.access
	}
	add := o.access.canAdd() && a.objs[o.id].table.any&PermWrite != 0
	del := o.access.canDelete() && a.objs[o.id].inst.any&PermWrite != 0
	switch {
	case add && del:
		return AddDelete
	case add:
		return AddOnly
	case del:
		return DeleteOnly
	}
	return ReadOnlyTable
}
