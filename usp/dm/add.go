package dm

import (
	"fmt"
	"strconv"
	"time"

	"brickyard/usp"
	"brickyard/usp/path"
	pb "brickyard/usp/uspmsg"
)

// add answers an Add (R-ADD.0–6):
//
//   - obj_path must name a table ("Device.LocalAgent.Subscription."); a
//     search path in the part above it creates one row under each match,
//     each with its own CreatedObjectResult (USP 1.3). 7008 bad syntax,
//     7026 not in the Supported DM, 7018 not a table (or an instance
//     path), 7016 a parent that does not exist, 7019 a table Controllers
//     may not add to, 7005 the table is full.
//   - Instance numbers increase and are never reused while the model
//     lives.
//   - param_settings are checked like Set's (writeOnceReadOnly parameters
//     may be set here); a unique key setting counts as required whatever
//     its flag. Failed optional settings go to param_errs. A failed
//     required setting fails the object (7021); a unique key set equal to
//     another row's fails it with 7025.
//   - The Agent fills what the Controller did not: Alias "cpe-N" (unique),
//     and for the Subscription table Recipient (the creating Controller's
//     row), CreationDate (now) and an ID when none was given. oper_success
//     carries instantiated_path and every unique key (R-ADD.5).
//   - allow_partial=false: any failure undoes every row of the message and
//     the answer is an Error (7021 with param_errs, or the object's code).
//   - ObjectCreation notifications follow, after the AddResp.
func (m *Model) add(id string, from Origin, a *pb.Add, now time.Time) *pb.Msg {
	n := len(a.GetCreateObjs())
	for _, co := range a.GetCreateObjs() {
		n += len(co.GetParamSettings())
	}
	if e := m.tooMany(id, n, "objects and parameter settings"); e != nil {
		return e
	}
	t := &txn{}
	var created []*row
	resp := &pb.AddResp{}
	for _, co := range a.GetCreateObjs() {
		results, rows, err := m.addObject(t, from, co, now)
		if err != nil && !a.GetAllowPartial() {
			m.undo(t, 0, from, now)
			for _, r := range created {
				m.removeRow(r)
			}
			return usp.ErrorMsg(id, err, nil)
		}
		resp.CreatedObjResults = append(resp.CreatedObjResults, results...)
		created = append(created, rows...)
	}
	for _, r := range created {
		if h := r.obj.onRows; h != nil {
			h(m.ctx(from, r.obj, r, now), true)
		}
	}
	for _, r := range created {
		m.objectCreated(r, now)
	}
	return usp.NewResponse(id, resp)
}

// addObject handles one CreateObject. err is the first failure, for the
// allow_partial=false Error; the results hold every outcome.
func (m *Model) addObject(t *txn, from Origin, co *pb.Add_CreateObject, now time.Time) ([]*pb.AddResp_CreatedObjectResult, []*row, error) {
	req := co.GetObjPath()
	result := func(st *pb.AddResp_CreatedObjectResult_OperationStatus) *pb.AddResp_CreatedObjectResult {
		return &pb.AddResp_CreatedObjectResult{RequestedPath: req, OperStatus: st}
	}
	failed := func(err error) ([]*pb.AddResp_CreatedObjectResult, []*row, error) {
		err = addCodes.fit(err)
		return []*pb.AddResp_CreatedObjectResult{result(addFailure(err))}, nil, err
	}
	p, err := m.parsePath(req)
	if err != nil {
		return failed(err)
	}
	if p.Kind() != path.Object {
		return failed(fmt.Errorf("%s is not an object path: %w", req, usp.ObjectNotATable))
	}
	ts, obj, err := m.resolve(p, p.Len(), now)
	if err != nil {
		return failed(err)
	}
	if (obj != nil && !obj.table) || p.At(p.Len()-1).Kind() != path.SegName {
		return failed(fmt.Errorf("%s is not a table path (Add takes the table, without instance): %w", req, usp.ObjectNotATable))
	}
	ts = m.visible(p, ts)
	if len(ts) == 0 {
		if p.IsSearch() {
			return []*pb.AddResp_CreatedObjectResult{result(&pb.AddResp_CreatedObjectResult_OperationStatus{
				OperStatus: &pb.AddResp_CreatedObjectResult_OperationStatus_OperSuccess{
					OperSuccess: &pb.AddResp_CreatedObjectResult_OperationStatus_OperationSuccess{}}})}, nil, nil
		}
		return failed(fmt.Errorf("%s does not exist: %w", req, usp.ObjectDoesNotExist))
	}
	ws := make([]write, 0, len(co.GetParamSettings()))
	for _, ps := range co.GetParamSettings() {
		ws = append(ws, write{rel: ps.GetParam(), value: ps.GetValue(), required: ps.GetRequired()})
	}
	var out []*pb.AddResp_CreatedObjectResult
	var rows []*row
	var first error
	for _, tg := range ts {
		if !tg.table {
			return failed(fmt.Errorf("%s is not a table path: %w", req, usp.ObjectNotATable))
		}
		r, st, err := m.addRow(t, from, tg.o, tg.r, req, ws, now)
		if err != nil {
			err = addCodes.fit(err)
			if first == nil {
				first = err
			}
			out = append(out, result(addFailure(err)))
			continue
		}
		out = append(out, result(&pb.AddResp_CreatedObjectResult_OperationStatus{OperStatus: st}))
		rows = append(rows, r)
	}
	return out, rows, first
}

func addFailure(err error) *pb.AddResp_CreatedObjectResult_OperationStatus {
	code, text := usp.Reason(err, nil)
	return &pb.AddResp_CreatedObjectResult_OperationStatus{OperStatus: &pb.AddResp_CreatedObjectResult_OperationStatus_OperFailure{
		OperFailure: &pb.AddResp_CreatedObjectResult_OperationStatus_OperationFailure{ErrCode: uint32(code), ErrMsg: text}}}
}

// addRow creates a row of table tbl under parent for a Controller.
func (m *Model) addRow(t *txn, from Origin, tbl *Object, parent *row, req string, ws []write, now time.Time) (*row, *pb.AddResp_CreatedObjectResult_OperationStatus_OperSuccess, error) {
	if !tbl.access.canAdd() {
		return nil, nil, fmt.Errorf("%s: Controllers cannot create rows of this table: %w", tbl.path, usp.ObjectNotCreatable)
	}
	if err := m.mayAdd(tbl, parent); err != nil {
		return nil, nil, err
	}
	if err := m.roomIn(tbl, parent); err != nil {
		return nil, nil, err
	}
	mark := len(t.changes)
	r := m.insertRow(tbl, parent, m.nextNum(tbl, parent))
	m.initRow(from, r, now)
	errs, _, reqFailed := m.writeObject(t, from, tbl, r, ws, true, now)
	fail := func(err error) (*row, *pb.AddResp_CreatedObjectResult_OperationStatus_OperSuccess, error) {
		m.undo(t, mark, from, now)
		m.removeRow(r)
		return nil, nil, err
	}
	if reqFailed {
		var pe []usp.ParamError
		for _, e := range errs {
			pe = append(pe, usp.ParamError{Path: req + e.rel, Code: e.code, Msg: e.msg})
		}
		return fail(&usp.Error{Code: usp.RequiredParameterFailed, Msg: trunc(req) + ": a required parameter failed", Params: pe})
	}
	m.fillKeys(r, now)
	if p, other := m.keyClash(tbl, r, now); p != nil {
		return fail(fmt.Errorf("%s: unique key %s equals that of %s: %w", tbl.path, p.name, other, usp.DuplicateKey))
	}
	ok := &pb.AddResp_CreatedObjectResult_OperationStatus_OperationSuccess{
		InstantiatedPath: objPath(tbl, r), UniqueKeys: m.uniqueKeys(tbl, r, now)}
	for _, e := range errs {
		ok.ParamErrs = append(ok.ParamErrs, &pb.AddResp_ParameterError{Param: e.rel, ErrCode: uint32(e.code), ErrMsg: e.msg})
	}
	return r, &pb.AddResp_CreatedObjectResult_OperationStatus_OperSuccess{OperSuccess: ok}, nil
}

// roomIn refuses a row beyond the table's limit with 7005.
func (m *Model) roomIn(tbl *Object, parent *row) error {
	limit := tbl.maxEntries
	if limit <= 0 {
		limit = m.s.opts.MaxInstances
	}
	if len(m.rowsOf(tbl, parent)) >= limit {
		return fmt.Errorf("%s is full (%d rows): %w", tbl.path, limit, usp.ResourcesExceeded)
	}
	return nil
}

// fillKeys assigns an Alias "cpe-N" when the row has none.
func (m *Model) fillKeys(r *row, now time.Time) {
	a := r.obj.alias
	if a == nil || a.get != nil || m.read(a, r, now) != "" {
		return
	}
	base := "cpe-" + strconv.FormatUint(uint64(r.num), 10)
	v := base
	for k := 2; m.aliasTaken(r, v, now); k++ {
		v = base + "-" + strconv.Itoa(k)
	}
	m.put(r, a, v)
}

func (m *Model) aliasTaken(r *row, v string, now time.Time) bool {
	for _, o := range m.rowsOf(r.obj, r.parent) {
		if o != r && m.read(r.obj.alias, o, now) == v {
			return true
		}
	}
	return false
}
