package dm

import (
	"fmt"
	"time"

	"brickyard/usp"
	"brickyard/usp/path"
	pb "brickyard/usp/uspmsg"
)

// get answers a Get. Each requested path is evaluated on its own (the same
// data may come back for several paths):
//
//   - Parameter path: one resolved_path_result per object instance holding
//     the parameter, resolved_path = that instance (R-GET.2), result_params
//     = just that parameter under its name (R-GET.3).
//   - Object path: one resolved_path_result per object instance in the
//     addressed subtree that has parameters, each with its own parameters
//     only, relative names (USP 1.2). max_depth n > 0 keeps objects fewer
//     than n levels below the requested one (a table and its instances
//     count as one level); 0 is unlimited (R-GET.5).
//   - Results come in tree order: schema declaration order, instances by
//     increasing number.
//   - Errors stay in the RequestedPathResult: 7008 bad syntax; 7026 a path
//     not in the Supported DM, or a non-search path not in the
//     instantiated DM (R-GET.0); 7005 a path over the length limit. A
//     search path matching nothing is an empty success (R-GET.1a).
//   - Write-only parameters are left out (R-GET.4); Secret ones read "".
//   - Command and event paths are not readable: 7026.
func (m *Model) get(id string, g *pb.Get, now time.Time) *pb.Msg {
	if e := m.tooMany(id, len(g.GetParamPaths()), "paths"); e != nil {
		return e
	}
	resp := &pb.GetResp{}
	for _, ps := range g.GetParamPaths() {
		rr := &pb.GetResp_RequestedPathResult{RequestedPath: ps}
		res, err := m.getPath(ps, int(min(g.GetMaxDepth(), 1<<20)), now)
		if err != nil {
			code, text := getCodes.reason(err)
			rr.ErrCode, rr.ErrMsg = uint32(code), text
		} else {
			rr.ResolvedPathResults = res
		}
		resp.ReqPathResults = append(resp.ReqPathResults, rr)
	}
	return usp.NewResponse(id, resp)
}

func (m *Model) getPath(ps string, maxDepth int, now time.Time) ([]*pb.GetResp_ResolvedPathResult, error) {
	p, err := m.parsePath(ps)
	if err != nil {
		return nil, err
	}
	var out []*pb.GetResp_ResolvedPathResult
	switch p.Kind() {
	case path.Object:
		ts, _, err := m.resolve(p, p.Len(), now)
		if err != nil {
			return nil, err
		}
		if len(ts) == 0 && !p.IsSearch() {
			return nil, fmt.Errorf("%s is not in the instantiated data model: %w", ps, usp.InvalidPath)
		}
		for _, t := range ts {
			out = m.getTree(out, t, maxDepth, now)
		}
	case path.Parameter:
		ts, obj, err := m.resolve(p, p.Len()-1, now)
		if err != nil {
			return nil, err
		}
		if obj != nil {
			if _, err := leafParam(p, obj); err != nil {
				return nil, err
			}
		}
		if len(ts) == 0 && !p.IsSearch() {
			return nil, fmt.Errorf("%s is not in the instantiated data model: %w", ps, usp.InvalidPath)
		}
		for _, t := range ts {
			if t.table {
				return nil, invalidPath(ps, "%s is a table: an instance selector must follow it", t.o.name)
			}
			pp := t.o.paramBy[p.Name()]
			if pp == nil {
				continue // after reference following: this target lacks it
			}
			res := &pb.GetResp_ResolvedPathResult{ResolvedPath: objPath(t.o, t.r), ResultParams: map[string]string{}}
			if pp.access != WriteOnly {
				res.ResultParams[pp.name] = m.readOut(pp, t.r, now)
			}
			out = append(out, res)
		}
	default:
		return nil, invalidPath(ps, "Get reads objects and parameters, not a %s", p.Kind())
	}
	return out, nil
}

// getTree appends the results for target t and the objects below it.
func (m *Model) getTree(out []*pb.GetResp_ResolvedPathResult, t target, left int, now time.Time) []*pb.GetResp_ResolvedPathResult {
	if t.table {
		for _, r := range m.rowsOf(t.o, t.r) {
			out = m.getTree(out, target{o: t.o, r: r}, left, now)
		}
		return out
	}
	if len(t.o.params) > 0 {
		res := &pb.GetResp_ResolvedPathResult{ResolvedPath: objPath(t.o, t.r), ResultParams: make(map[string]string, len(t.o.params))}
		for _, pp := range t.o.params {
			if pp.access != WriteOnly {
				res.ResultParams[pp.name] = m.readOut(pp, t.r, now)
			}
		}
		out = append(out, res)
	}
	if left == 1 {
		return out
	}
	if left > 1 {
		left--
	}
	for _, c := range t.o.children {
		out = m.getTree(out, target{o: c, r: t.r, table: c.table}, left, now)
	}
	return out
}

// readOut is a value as a Controller may see it.
func (m *Model) readOut(p *Param, r *row, now time.Time) string {
	if p.secret {
		return ""
	}
	return m.read(p, r, now)
}
