package dm

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"brickyard/usp"
	"brickyard/usp/path"
	pb "brickyard/usp/uspmsg"
)

// operate answers an Operate (R-OPR.0–7):
//
//   - command is a command path or a search path; each matched object gets
//     its own operation_result, executed_command being its concrete path
//     (R-OPR.2). Failures of the command are never a message Error
//     (R-OPR.1): only a bad message is — 7008 syntax, 7026 not in the
//     Supported DM or not a command path, 7016 a non-search path to an
//     object that does not exist, 7005 too many input arguments. That Error
//     is sent even when send_resp is false (R-OPR.4 lets the Agent report
//     processing errors). A search matching nothing gives an empty
//     OperateResp.
//   - A missing mandatory input is cmd_failure 7027 (R-OPR.5); unknown
//     inputs are dropped before the handler sees them (R-OPR.6); missing
//     optional inputs with a declared default get it (R-OPR.7).
//   - Synchronous: the handler's output args (an empty map still sends
//     req_output_args), or its error as cmd_failure (codes a CommandFailure
//     may not carry become 7022). A command declared without handler fails
//     with 7022.
//   - Asynchronous: Accept (if any) may refuse (cmd_failure). Then, if the
//     schema has a Request table, a row is created (Originator, Command,
//     CommandKey; Status Requested, then Active) — an identical
//     outstanding (Originator, Command, CommandKey) is refused with 7005,
//     a full table too — and req_obj_path is its path with the trailing
//     dot. The device receives a Job in Effects.Jobs and ends it with
//     Complete.
//   - send_resp=false: no OperateResp, everything else the same.
func (m *Model) operate(id string, from Origin, op *pb.Operate, now time.Time) *pb.Msg {
	if e := m.tooMany(id, len(op.GetInputArgs()), "input arguments"); e != nil {
		return e
	}
	results, err := m.operateAll(from, op, now)
	if err != nil {
		return usp.ErrorMsg(id, opMsgCodes.fit(err), nil)
	}
	if !op.GetSendResp() {
		return nil
	}
	return usp.NewResponse(id, &pb.OperateResp{OperationResults: results})
}

func (m *Model) operateAll(from Origin, op *pb.Operate, now time.Time) ([]*pb.OperateResp_OperationResult, error) {
	cs := op.GetCommand()
	p, err := m.parsePath(cs)
	if err != nil {
		return nil, err
	}
	if p.Kind() != path.Command {
		return nil, invalidPath(cs, "Operate needs a command path (ending in \"()\")")
	}
	ts, obj, err := m.resolve(p, p.Len()-1, now)
	if err != nil {
		return nil, err
	}
	name := p.Name() + "()"
	if obj != nil && obj.cmdBy[name] == nil {
		return nil, invalidPath(cs, "%s has no command %s", obj.path, name)
	}
	if len(ts) == 0 && !p.IsSearch() {
		return nil, fmt.Errorf("%s does not exist: %w", cs, usp.ObjectDoesNotExist)
	}
	ts = m.visible(p, ts)
	var out []*pb.OperateResp_OperationResult
	for _, t := range ts {
		if t.table {
			return nil, invalidPath(cs, "%s is a table: an instance selector must follow it", t.o.name)
		}
		c := t.o.cmdBy[name]
		if c == nil {
			continue // after reference following: this object lacks it
		}
		out = append(out, m.run(from, c, t.r, op, now))
	}
	return out, nil
}

// run invokes command c on the object instance in row r.
func (m *Model) run(from Origin, c *Command, r *row, op *pb.Operate, now time.Time) *pb.OperateResp_OperationResult {
	obj := objPath(c.obj, r)
	executed := obj + c.name
	fail := func(err error) *pb.OperateResp_OperationResult {
		return usp.OperFailure(executed, opCodes.fit(err), nil)
	}
	if err := m.mayRun(c, r); err != nil {
		return fail(err)
	}
	in, err := c.inputs(op.GetInputArgs())
	if err != nil {
		return fail(err)
	}
	ctx := m.ctx(from, c.obj, r, now)
	ctx.CommandKey = op.GetCommandKey()
	switch {
	case c.cancel:
		if err := m.cancel(r, now); err != nil {
			return fail(err)
		}
		return usp.OperOutput(executed, nil)
	case !c.async:
		if c.run == nil {
			return fail(fmt.Errorf("%s is not implemented: %w", executed, usp.CommandFailure))
		}
		res, err := c.run(ctx, in)
		if err != nil {
			return fail(err)
		}
		return usp.OperOutput(executed, res)
	}
	if c.accept != nil {
		if err := c.accept(ctx, in); err != nil {
			return fail(err)
		}
	}
	j := &job{Job: Job{Command: executed, Name: c.name, Obj: obj, Nums: rowNums(r), Key: op.GetCommandKey(),
		Input: in, Origin: from}, cmd: c, at: r}
	if rq := m.s.reqs; rq != nil {
		req, err := m.newRequest(from, executed, op.GetCommandKey(), now)
		if err != nil {
			return fail(err)
		}
		j.req = req
		j.Request = objPath(rq.table, req)
	}
	m.jobSeq++
	j.ID = m.jobSeq
	m.jobs = append(m.jobs, j)
	m.effects().Jobs = append(m.effects().Jobs, j.Job)
	return usp.OperRequested(executed, j.Request)
}

// inputs keeps the known input arguments, checks the mandatory ones and
// fills in defaults.
func (c *Command) inputs(given map[string]string) (map[string]string, error) {
	in := make(map[string]string, len(given))
	for _, k := range slices.Sorted(maps.Keys(given)) {
		if c.findArg(supportedForm(k)) != nil {
			in[k] = given[k]
		}
	}
	for _, a := range c.in {
		if !a.mandatory {
			if _, ok := in[a.name]; !ok && a.hasDef && !strings.Contains(a.name, "{i}") {
				in[a.name] = a.def
			}
			continue
		}
		if err := a.present(in); err != nil {
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
	}
	return in, nil
}

// present checks a mandatory argument: a plain one must be given; one
// inside an object argument ("TimeWindow.{i}.Start") needs at least one
// instance of the object, and the argument in each instance given.
func (a arg) present(in map[string]string) error {
	i := strings.LastIndex(a.name, "{i}.")
	if i < 0 {
		if _, ok := in[a.name]; !ok {
			return fmt.Errorf("mandatory input argument %s is missing: %w", a.name, usp.InvalidCommandArguments)
		}
		return nil
	}
	prefix, leaf := a.name[:i+4], a.name[i+4:]
	seen := map[string]bool{}
	for k := range in {
		if j := strings.LastIndex(k, "."); j > 0 && supportedForm(k[:j+1]) == prefix {
			seen[k[:j+1]] = true
		}
	}
	if len(seen) == 0 {
		return fmt.Errorf("mandatory input argument %s is missing: %w", a.name, usp.InvalidCommandArguments)
	}
	for pfx := range seen {
		if _, ok := in[pfx+leaf]; !ok {
			return fmt.Errorf("mandatory input argument %s%s is missing: %w", pfx, leaf, usp.InvalidCommandArguments)
		}
	}
	return nil
}

// supportedForm writes instance numbers of an argument name as {i}:
// "TimeWindow.2.Start" → "TimeWindow.{i}.Start".
func supportedForm(k string) string {
	if !strings.ContainsAny(k, "0123456789") {
		return k
	}
	parts := strings.Split(k, ".")
	for i, s := range parts {
		if s != "" && allDigits(s) {
			parts[i] = "{i}"
		}
	}
	return strings.Join(parts, ".")
}
