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
	for _, r := range m.getResults(g.GetParamPaths(), g.GetMaxDepth(), now) {
		rr := &pb.GetResp_RequestedPathResult{RequestedPath: r.Requested, ErrCode: r.ErrCode, ErrMsg: r.ErrMsg}
		for _, rp := range r.Resolved {
			res := &pb.GetResp_ResolvedPathResult{ResolvedPath: rp.Path, ResultParams: make(map[string]string, len(rp.Params))}
			for _, p := range rp.Params {
				res.ResultParams[p.Name] = p.Value
			}
			rr.ResolvedPathResults = append(rr.ResolvedPathResults, res)
		}
		resp.ReqPathResults = append(resp.ReqPathResults, rr)
	}
	return usp.NewResponse(id, resp)
}

// Get answers a Get request from a Controller as Handle does, but as the
// results themselves, for an encoder that writes the GetResp without
// building it (usp.Codec.AppendGetRespRecord). ok is false when the
// request gets an Error message instead (more paths than Options.MaxPaths,
// or a refused Controller): Handle it then.
func (m *Model) Get(from Origin, paths []string, maxDepth uint32, now time.Time) (results []usp.GetResult, fx Effects, ok bool) {
	if len(paths) > m.s.opts.MaxPaths {
		return nil, Effects{}, false
	}
	a := m.accessFor(from, now)
	if a != nil && a.refused != "" {
		return nil, Effects{}, false
	}
	m.begin()
	prev := m.enter(a)
	results = m.getResults(paths, maxDepth, now)
	m.enter(prev)
	return results, m.end(), true
}

// getResults evaluates every requested path of a Get. The results' objects
// share arrays of parameters (see getTree).
func (m *Model) getResults(paths []string, maxDepth uint32, now time.Time) []usp.GetResult {
	var buf []usp.Param
	out := make([]usp.GetResult, len(paths))
	for i, ps := range paths {
		out[i].Requested = ps
		res, err := m.getPath(ps, int(min(maxDepth, 1<<20)), now, &buf)
		if err != nil {
			code, text := getCodes.reason(err)
			out[i].ErrCode, out[i].ErrMsg = uint32(code), text
		} else {
			out[i].Resolved = res
		}
	}
	return out
}

// getPath evaluates one requested path; buf is where its objects'
// parameters go (see getTree).
func (m *Model) getPath(ps string, maxDepth int, now time.Time, buf *[]usp.Param) ([]usp.ResolvedParams, error) {
	p, err := m.parsePath(ps)
	if err != nil {
		return nil, err
	}
	var out []usp.ResolvedParams
	switch p.Kind() {
	case path.Object:
		ts, _, err := m.resolve(p, p.Len(), now)
		if err != nil {
			return nil, err
		}
		if len(ts) == 0 && !p.IsSearch() {
			return nil, fmt.Errorf("%s is not in the instantiated data model: %w", ps, usp.InvalidPath)
		}
		if ts = m.visible(p, ts); !p.IsSearch() && !m.readTarget(ts[0]) {
			return nil, notReadable(ps)
		}
		for _, t := range ts {
			out = m.getTree(out, t, maxDepth, now, buf)
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
		ts = m.visible(p, ts)
		for _, t := range ts {
			if t.table {
				return nil, invalidPath(ps, "%s is a table: an instance selector must follow it", t.o.name)
			}
			pp := t.o.paramBy[p.Name()]
			if pp == nil {
				continue // after reference following: this target lacks it
			}
			if m.acc != nil && (!m.readObj(t.o, t.r) || !m.readParam(pp, t.r)) {
				if !p.IsSearch() {
					return nil, notReadable(ps)
				}
				continue
			}
			res := usp.ResolvedParams{Path: objPath(t.o, t.r)}
			if pp.access != WriteOnly {
				res.Params = []usp.Param{{Name: pp.name, Value: m.readOut(pp, t.r, now)}}
			}
			out = append(out, res)
		}
	default:
		return nil, invalidPath(ps, "Get reads objects and parameters, not a %s", p.Kind())
	}
	return out, nil
}

// getTree appends the results for target t and the objects below it. An
// object's parameters come in name order (Object.byName), appended to
// *buf, grown as needed: every object's slice of it is capped, so that
// none is written over, and an array outgrown stays the earlier objects'.
func (m *Model) getTree(out []usp.ResolvedParams, t target, left int, now time.Time, buf *[]usp.Param) []usp.ResolvedParams {
	if t.table {
		for _, r := range m.rowsOf(t.o, t.r) {
			if m.acc == nil || m.acc.instAt(t.o, r)&PermRead != 0 { // a table's rows listed: as a wildcard
				out = m.getTree(out, target{o: t.o, r: r}, left, now, buf)
			}
		}
		return out
	}
	if len(t.o.params) > 0 && m.readObj(t.o, t.r) {
		b := *buf
		if cap(b)-len(b) < len(t.o.byName) {
			b = make([]usp.Param, 0, max(2*cap(b), 2*len(t.o.byName)))
		}
		from := len(b)
		all := m.acc == nil || m.acc.objs[t.o.id].paramsRead
		for _, pp := range t.o.byName {
			if pp.access != WriteOnly && (all || m.readParam(pp, t.r)) {
				b = append(b, usp.Param{Name: pp.name, Value: m.readOut(pp, t.r, now)})
			}
		}
		out = append(out, usp.ResolvedParams{Path: objPath(t.o, t.r), Params: b[from:len(b):len(b)]})
		*buf = b
	}
	if left == 1 {
		return out
	}
	if left > 1 {
		left--
	}
	for _, c := range t.o.children {
		out = m.getTree(out, target{o: c, r: t.r, table: c.table}, left, now, buf)
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
