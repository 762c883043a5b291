package dm

import (
	"fmt"
	"time"

	"brickyard/usp"
	"brickyard/usp/path"
	pb "brickyard/usp/uspmsg"
)

// getInstances answers a GetInstances. Each obj_path must address a table
// ("Device.DeviceInfo.FirmwareImage.") or table instances (a number,
// wildcard or search expression as its last selector): curr_insts lists
// those instances with all their unique keys; with first_level_only false
// every instance of the tables nested below them follows its parent
// (depth first, tree order). Per path: 7008 bad syntax, 7026 not in the
// Supported DM, 7018 not a table, 7016 a non-search instance path that
// does not exist; a search matching nothing is an empty success.
func (m *Model) getInstances(id string, g *pb.GetInstances, now time.Time) *pb.Msg {
	if e := m.tooMany(id, len(g.GetObjPaths()), "paths"); e != nil {
		return e
	}
	resp := &pb.GetInstancesResp{}
	for _, ps := range g.GetObjPaths() {
		rr := &pb.GetInstancesResp_RequestedPathResult{RequestedPath: ps}
		insts, err := m.instancesOf(ps, g.GetFirstLevelOnly(), now)
		if err != nil {
			code, text := instCodes.reason(err)
			rr.ErrCode, rr.ErrMsg = uint32(code), text
		} else {
			rr.CurrInsts = insts
		}
		resp.ReqPathResults = append(resp.ReqPathResults, rr)
	}
	return usp.NewResponse(id, resp)
}

func (m *Model) instancesOf(ps string, firstOnly bool, now time.Time) ([]*pb.GetInstancesResp_CurrInstance, error) {
	p, err := m.parsePath(ps)
	if err != nil {
		return nil, err
	}
	if p.Kind() != path.Object {
		return nil, fmt.Errorf("%s is not an object path: %w", ps, usp.ObjectNotATable)
	}
	ts, obj, err := m.resolve(p, p.Len(), now)
	if err != nil {
		return nil, err
	}
	if obj != nil && !obj.table {
		return nil, fmt.Errorf("%s is not a table: %w", obj.path, usp.ObjectNotATable)
	}
	if len(ts) == 0 && !p.IsSearch() {
		return nil, fmt.Errorf("%s does not exist: %w", ps, usp.ObjectDoesNotExist)
	}
	ts = m.visible(p, ts)
	var out []*pb.GetInstancesResp_CurrInstance
	for _, t := range ts {
		switch {
		case t.table:
			for _, r := range m.rowsOf(t.o, t.r) {
				out = m.instTree(out, t.o, r, firstOnly, now)
			}
		case t.o.table:
			out = m.instTree(out, t.o, t.r, firstOnly, now)
		}
	}
	return out, nil
}

// instTree appends row r of table t and, unless firstOnly, the rows of
// every table nested below it.
func (m *Model) instTree(out []*pb.GetInstancesResp_CurrInstance, t *Object, r *row, firstOnly bool, now time.Time) []*pb.GetInstancesResp_CurrInstance {
	if m.acc != nil && m.acc.instAt(t, r)&PermRead == 0 {
		return out // absent, and everything below it (R-GIN.0)
	}
	out = append(out, &pb.GetInstancesResp_CurrInstance{InstantiatedObjPath: objPath(t, r), UniqueKeys: m.uniqueKeys(t, r, now)})
	if firstOnly {
		return out
	}
	for _, k := range r.kids() {
		out = m.instTree(out, k.obj, k, false, now)
	}
	return out
}

// uniqueKeys maps every unique key parameter of row r of table t to its
// value (R-ADD.5, GetInstances, ObjectCreation).
func (m *Model) uniqueKeys(t *Object, r *row, now time.Time) map[string]string {
	keys := map[string]string{}
	for _, set := range t.keys {
		for _, p := range set {
			if p.access != WriteOnly && m.readParam(p, r) {
				keys[p.name] = m.readOut(p, r, now)
			}
		}
	}
	return keys
}
