package dm

import (
	"fmt"
	"time"

	"brickyard/usp"
	"brickyard/usp/path"
	pb "brickyard/usp/uspmsg"
)

// set answers a Set (TR-369 "Using Allow Partial and Required Parameters"
// and R-SET.0–2b):
//
//   - Each update_obj's obj_path (object, instance or search path) is
//     resolved; a path error is 7008/7026, a non-search path to an
//     instance that does not exist 7016, a bare table 7020. A search path
//     matching nothing succeeds with no instance results.
//   - Per instance, every parameter setting is checked (7010 unknown,
//     7013 read-only or writeOnceReadOnly already set, 7011 wrong type,
//     7012 out of range/enum/length or a reference to no row, validators'
//     own codes) before any is applied; failed non-required settings are
//     reported in param_errs while the others apply. A failed required
//     setting, or a unique-key clash (7025), fails the instance.
//   - An obj_path is atomic (R-SET.2a): if any of its instances fails,
//     every change made for it is undone and its result is oper_failure
//     (7021, or 7025 for a key clash) with one updated_inst_failure per
//     failed instance — with allow_partial true. With allow_partial false
//     the whole message fails instead: Error 7021 (or the path error's
//     code) with param_errs naming full parameter paths, and nothing
//     changes.
//   - updated_params holds every parameter applied, with its value after
//     the update, even when unchanged (Secret ones read "").
//   - ValueChange notifications follow for the values that really
//     changed, after the response.
func (m *Model) set(id string, from Origin, s *pb.Set, now time.Time) *pb.Msg {
	n := len(s.GetUpdateObjs())
	for _, uo := range s.GetUpdateObjs() {
		n += len(uo.GetParamSettings())
	}
	if e := m.tooMany(id, n, "objects and parameter settings"); e != nil {
		return e
	}
	t := &txn{}
	resp := &pb.SetResp{}
	for _, uo := range s.GetUpdateObjs() {
		mark := len(t.changes)
		ok, fail, msgErr := m.setObject(t, from, uo, now)
		if msgErr == nil {
			resp.UpdatedObjResults = append(resp.UpdatedObjResults, &pb.SetResp_UpdatedObjectResult{
				RequestedPath: uo.GetObjPath(),
				OperStatus:    &pb.SetResp_UpdatedObjectResult_OperationStatus{OperStatus: ok}})
			continue
		}
		m.undo(t, mark, from, now)
		if !s.GetAllowPartial() {
			m.undo(t, 0, from, now)
			return usp.ErrorMsg(id, msgErr, nil)
		}
		resp.UpdatedObjResults = append(resp.UpdatedObjResults, &pb.SetResp_UpdatedObjectResult{
			RequestedPath: uo.GetObjPath(),
			OperStatus:    &pb.SetResp_UpdatedObjectResult_OperationStatus{OperStatus: fail}})
	}
	m.notifyChanges(t, now)
	return usp.NewResponse(id, resp)
}

// setObject applies one UpdateObject. On failure it returns the
// oper_failure for allow_partial=true and the error for allow_partial=false;
// the caller undoes the changes.
func (m *Model) setObject(t *txn, from Origin, uo *pb.Set_UpdateObject, now time.Time) (
	*pb.SetResp_UpdatedObjectResult_OperationStatus_OperSuccess,
	*pb.SetResp_UpdatedObjectResult_OperationStatus_OperFailure, error) {
	failure := func(err error, insts []*pb.SetResp_UpdatedInstanceFailure) (
		*pb.SetResp_UpdatedObjectResult_OperationStatus_OperSuccess,
		*pb.SetResp_UpdatedObjectResult_OperationStatus_OperFailure, error) {
		err = setCodes.fit(err)
		code, text := usp.Reason(err, nil)
		return nil, &pb.SetResp_UpdatedObjectResult_OperationStatus_OperFailure{
			OperFailure: &pb.SetResp_UpdatedObjectResult_OperationStatus_OperationFailure{
				ErrCode: uint32(code), ErrMsg: text, UpdatedInstFailures: insts}}, err
	}
	p, err := m.parsePath(uo.GetObjPath())
	if err != nil {
		return failure(err, nil)
	}
	if p.Kind() != path.Object {
		return failure(invalidPath(uo.GetObjPath(), "Set needs an object path (ending in '.')"), nil)
	}
	ts, _, err := m.resolve(p, p.Len(), now)
	if err != nil {
		return failure(err, nil)
	}
	if len(ts) == 0 && !p.IsSearch() {
		return failure(fmt.Errorf("%s does not exist: %w", uo.GetObjPath(), usp.ObjectDoesNotExist), nil)
	}
	ts = m.visible(p, ts)
	ws := make([]write, 0, len(uo.GetParamSettings()))
	for _, ps := range uo.GetParamSettings() {
		ws = append(ws, write{rel: ps.GetParam(), value: ps.GetValue(), required: ps.GetRequired()})
	}
	ok := &pb.SetResp_UpdatedObjectResult_OperationStatus_OperationSuccess{}
	var fails []*pb.SetResp_UpdatedInstanceFailure
	var all []usp.ParamError
	clash := false
	for _, tg := range ts {
		if tg.table {
			return failure(fmt.Errorf("%s is a table: Set its instances: %w", tg.o.path, usp.ObjectNotUpdated), nil)
		}
		affected := objPath(tg.o, tg.r)
		mark := len(t.changes)
		errs, updated, failed := m.writeObject(t, from, tg.o, tg.r, ws, false, now)
		pe := setParamErrs(errs)
		if failed {
			m.undo(t, mark, from, now) // later instances see this one unchanged
			fails = append(fails, &pb.SetResp_UpdatedInstanceFailure{AffectedPath: affected, ParamErrs: pe})
			for _, e := range errs {
				all = append(all, usp.ParamError{Path: affected + e.rel, Code: e.code, Msg: e.msg})
				clash = clash || e.code == usp.DuplicateKey
			}
			continue
		}
		ok.UpdatedInstResults = append(ok.UpdatedInstResults, &pb.SetResp_UpdatedInstanceResult{
			AffectedPath: affected, ParamErrs: pe, UpdatedParams: updated})
	}
	if len(fails) > 0 {
		code, what := usp.RequiredParameterFailed, "a required parameter failed"
		if clash {
			code, what = usp.DuplicateKey, "an object with the same unique key exists"
		}
		err := &usp.Error{Code: code, Msg: fmt.Sprintf("%s: %s", trunc(uo.GetObjPath()), what), Params: all}
		return failure(err, fails)
	}
	return &pb.SetResp_UpdatedObjectResult_OperationStatus_OperSuccess{OperSuccess: ok}, nil, nil
}

func setParamErrs(errs []paramErr) []*pb.SetResp_ParameterError {
	var out []*pb.SetResp_ParameterError
	for _, e := range errs {
		out = append(out, &pb.SetResp_ParameterError{Param: e.rel, ErrCode: uint32(e.code), ErrMsg: e.msg})
	}
	return out
}

// notifyChanges emits ValueChange notifications for the changes of a
// finished request whose value really changed.
func (m *Model) notifyChanges(t *txn, now time.Time) {
	for _, c := range t.changes {
		if c.old != c.canon {
			m.valueChanged(c.p, c.r, c.canon, now)
		}
	}
}
