package dm

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"brickyard/usp"
	"brickyard/usp/path"
	pb "brickyard/usp/uspmsg"
)

// delete answers a Delete (R-DEL.0–4):
//
//   - Each obj_path is an instance path or a search path to rows. 7008 bad
//     syntax, 7026 not in the Supported DM (or not an object path), 7018 a
//     single-instance object, 7024 a bare table or a table Controllers may
//     not delete from (OBJ_READ_ONLY, OBJ_ADD_ONLY) — schema-level, so it
//     holds even when no row matches.
//   - A valid path matching no row succeeds with empty affected_paths
//     (R-DEL.2a), search or not.
//   - allow_partial=false: any failing obj_path makes the whole message an
//     Error with its code, and nothing is deleted (R-DEL.1).
//     allow_partial=true: a failing obj_path gets oper_failure, the others
//     are deleted.
//   - affected_paths lists the rows deleted for that obj_path (rows below
//     them go too). ObjectDeletion notifications follow, for each deleted
//     row and each row below it, after the DeleteResp.
func (m *Model) delete(id string, from Origin, d *pb.Delete, now time.Time) *pb.Msg {
	if e := m.tooMany(id, len(d.GetObjPaths()), "paths"); e != nil {
		return e
	}
	type plan struct {
		ts  []target
		err error
	}
	plans := make([]plan, len(d.GetObjPaths()))
	for i, ps := range d.GetObjPaths() {
		ts, err := m.deletable(ps, now)
		if err != nil {
			err = deleteCodes.fit(err)
			if !d.GetAllowPartial() {
				return usp.ErrorMsg(id, err, nil)
			}
		}
		plans[i] = plan{ts, err}
	}
	// Notify every deletion before removing anything, so that search
	// expressions and Recipients still see the rows (a deleted Controller
	// gets its last notification).
	seen, notified := map[*row]bool{}, map[*row]bool{}
	var doomed []*row
	for _, pl := range plans {
		for _, t := range pl.ts {
			if pl.err != nil || seen[t.r] {
				continue
			}
			seen[t.r] = true
			if !slices.ContainsFunc(doomed, func(d *row) bool { return under(t.r, d) }) {
				doomed = append(doomed, t.r)
				m.notifyDeletions(t.r, notified, now)
			}
		}
	}
	resp := &pb.DeleteResp{}
	for i, ps := range d.GetObjPaths() {
		res := &pb.DeleteResp_DeletedObjectResult{RequestedPath: ps}
		resp.DeletedObjResults = append(resp.DeletedObjResults, res)
		if err := plans[i].err; err != nil {
			code, text := usp.Reason(err, nil)
			res.OperStatus = &pb.DeleteResp_DeletedObjectResult_OperationStatus{
				OperStatus: &pb.DeleteResp_DeletedObjectResult_OperationStatus_OperFailure{
					OperFailure: &pb.DeleteResp_DeletedObjectResult_OperationStatus_OperationFailure{ErrCode: uint32(code), ErrMsg: text}}}
			continue
		}
		ok := &pb.DeleteResp_DeletedObjectResult_OperationStatus_OperationSuccess{}
		for _, t := range plans[i].ts {
			if seen[t.r] {
				if m.readObj(t.o, t.r) { // R-DEL.2
					ok.AffectedPaths = append(ok.AffectedPaths, objPath(t.o, t.r))
				}
				delete(seen, t.r) // reported for the first path naming it
			}
		}
		res.OperStatus = &pb.DeleteResp_DeletedObjectResult_OperationStatus{
			OperStatus: &pb.DeleteResp_DeletedObjectResult_OperationStatus_OperSuccess{OperSuccess: ok}}
	}
	for _, r := range doomed {
		if h := r.obj.onRows; h != nil && m.alive(r) {
			h(m.ctx(from, r.obj, r, now), false)
		}
		if m.alive(r) {
			m.removeRow(r)
			m.dropSubscriptionsOf(r, now)
		}
	}
	return usp.NewResponse(id, resp)
}

// deletable resolves a Delete path to the rows it deletes.
func (m *Model) deletable(ps string, now time.Time) ([]target, error) {
	p, err := m.parsePath(ps)
	if err != nil {
		return nil, err
	}
	if p.Kind() != path.Object {
		return nil, invalidPath(ps, "Delete needs an object instance path (ending in '.')")
	}
	ts, obj, err := m.resolve(p, p.Len(), now)
	if err != nil {
		return nil, err
	}
	if obj != nil {
		if !obj.table {
			return nil, fmt.Errorf("%s is not a table: %w", obj.path, usp.ObjectNotATable)
		}
		if !obj.access.canDelete() {
			return nil, fmt.Errorf("%s: Controllers cannot delete rows of this table: %w", obj.path, usp.DeleteFailure)
		}
	}
	ts = m.visible(p, ts)
	for _, t := range ts {
		switch {
		case t.table:
			return nil, fmt.Errorf("%s is a table: Delete takes its instances (%s*. or a number): %w", t.o.path, ps, usp.DeleteFailure)
		case !t.o.table:
			return nil, fmt.Errorf("%s is not a table: %w", t.o.path, usp.ObjectNotATable)
		case !t.o.access.canDelete():
			return nil, fmt.Errorf("%s: Controllers cannot delete rows of this table: %w", t.o.path, usp.DeleteFailure)
		}
		if err := m.mayDelete(t.o, t.r); err != nil {
			return nil, err
		}
	}
	return ts, nil
}

// alive reports whether r is still linked into the model.
func (m *Model) alive(r *row) bool {
	for ; r.parent != nil; r = r.parent {
		found := false
		for _, k := range m.rowsOf(r.obj, r.parent) {
			if k == r {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return r == m.root
}

// deleteRow notifies the deletion of r and every row below it, then
// removes them.
func (m *Model) deleteRow(r *row, now time.Time) {
	m.notifyDeletions(r, nil, now)
	m.removeRow(r)
	m.dropSubscriptionsOf(r, now)
}

// dropSubscriptionsOf deletes the subscriptions of a Controller row that
// was just removed (their Recipient is gone), with their ObjectDeletion
// notifications, as obuspa does.
func (m *Model) dropSubscriptionsOf(r *row, now time.Time) {
	c, sc := m.s.ctrl, m.s.subs
	if c == nil || sc == nil || r.obj != c.table {
		return
	}
	rcpt := strings.TrimSuffix(objPath(r.obj, r), ".")
	var orphans []*row
	for _, s := range m.rowsOf(sc.table, m.root) {
		if m.read(sc.recipient, s, now) == rcpt {
			orphans = append(orphans, s)
		}
	}
	for _, s := range orphans {
		m.deleteRow(s, now)
	}
}

// notifyDeletions notifies r and the rows below it, parents first, each
// once (done, when not nil, remembers those already notified).
func (m *Model) notifyDeletions(r *row, done map[*row]bool, now time.Time) {
	if done != nil {
		if done[r] {
			return
		}
		done[r] = true
	}
	m.objectDeleted(r, now)
	for _, k := range r.kids() {
		m.notifyDeletions(k, done, now)
	}
}
