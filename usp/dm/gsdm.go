package dm

import (
	"fmt"
	"time"

	"brickyard/usp"
	"brickyard/usp/path"
	pb "brickyard/usp/uspmsg"
)

// getSupportedDM answers a GetSupportedDM. Each obj_path may be written in
// Supported-DM notation ("Device.DeviceInfo.FirmwareImage.{i}.", the final
// "{i}." optional) or as an instantiated path whose instances exist
// ("Device.DeviceInfo.FirmwareImage.1."; otherwise 7016).
//
//   - An object path reports that object and, with first_level_only, its
//     immediate children without parameters, commands or events (their
//     unique key sets still, when asked); without, every object below it,
//     in declaration order, each with full details.
//   - return_params/commands/events/unique_key_sets choose the details.
//     writeOnceReadOnly parameters read PARAM_READ_WRITE; list parameters
//     report PARAM_STRING; IgnoreValueChange ones VALUE_CHANGE_WILL_IGNORE.
//   - A parameter, command or event path reports only that element, in an
//     entry for its object, whatever the return_* flags.
//   - data_model_inst_uri is Options.URI. Errors per path: 7008, 7026
//     (not in the Supported DM), 7016, 7005 (path too long).
func (m *Model) getSupportedDM(id string, g *pb.GetSupportedDM, now time.Time) *pb.Msg {
	if e := m.tooMany(id, len(g.GetObjPaths()), "paths"); e != nil {
		return e
	}
	resp := &pb.GetSupportedDMResp{}
	for _, ps := range g.GetObjPaths() {
		rr := &pb.GetSupportedDMResp_RequestedObjectResult{ReqObjPath: ps}
		objs, err := m.gsdmPath(ps, g, now)
		if err != nil {
			code, text := gsdmCodes.reason(err)
			rr.ErrCode, rr.ErrMsg = uint32(code), text
		} else {
			rr.DataModelInstUri = m.s.opts.URI
			rr.SupportedObjs = objs
		}
		resp.ReqObjResults = append(resp.ReqObjResults, rr)
	}
	return usp.NewResponse(id, resp)
}

func (m *Model) gsdmPath(ps string, g *pb.GetSupportedDM, now time.Time) ([]*pb.GetSupportedDMResp_SupportedObjectResult, error) {
	if len(ps) > m.s.opts.MaxPathLen {
		return nil, fmt.Errorf("path of %d bytes exceeds the %d-byte limit: %w", len(ps), m.s.opts.MaxPathLen, usp.ResourcesExceeded)
	}
	p, err := path.ParseSupported(ps)
	instantiated := false
	if err != nil {
		if p, err = path.Parse(ps); err != nil {
			return nil, err
		}
		instantiated = true
	}
	n := p.Len()
	if p.Kind() != path.Object {
		n--
	}
	o, _ := m.s.walkSupported(p, n)
	if o == nil {
		return nil, invalidPath(ps, "not in the supported data model")
	}
	a := m.acc
	if !a.seesObj(o) {
		return nil, notReadable(ps)
	}
	if instantiated && !p.IsSearch() {
		ts, _, err := m.resolve(p, n, now)
		if err != nil {
			return nil, err
		}
		if len(ts) == 0 {
			return nil, fmt.Errorf("%s does not exist: %w", ps, usp.ObjectDoesNotExist)
		}
	}
	switch p.Kind() {
	case path.Parameter:
		pp := o.paramBy[p.Name()]
		if pp == nil {
			return nil, invalidPath(ps, "%s has no parameter %s", o.path, p.Name())
		}
		if !a.seesParam(pp) {
			return nil, notReadable(ps)
		}
		r := a.supObj(o, g, false)
		r.SupportedParams = []*pb.GetSupportedDMResp_SupportedParamResult{a.supParam(pp)}
		return []*pb.GetSupportedDMResp_SupportedObjectResult{r}, nil
	case path.Command:
		c := o.cmdBy[p.Name()+"()"]
		if c == nil {
			return nil, invalidPath(ps, "%s has no command %s()", o.path, p.Name())
		}
		if !a.seesCmd(c) {
			return nil, notReadable(ps)
		}
		r := a.supObj(o, g, false)
		r.SupportedCommands = []*pb.GetSupportedDMResp_SupportedCommandResult{supCommand(c)}
		return []*pb.GetSupportedDMResp_SupportedObjectResult{r}, nil
	case path.Event:
		e := o.eventBy[p.Name()+"!"]
		if e == nil {
			return nil, invalidPath(ps, "%s has no event %s!", o.path, p.Name())
		}
		if !a.seesEvent(e) {
			return nil, notReadable(ps)
		}
		r := a.supObj(o, g, false)
		r.SupportedEvents = []*pb.GetSupportedDMResp_SupportedEventResult{{EventName: e.name, ArgNames: e.args}}
		return []*pb.GetSupportedDMResp_SupportedObjectResult{r}, nil
	}
	out := []*pb.GetSupportedDMResp_SupportedObjectResult{a.supObj(o, g, true)}
	if g.GetFirstLevelOnly() {
		for _, c := range o.children {
			if a.seesObj(c) {
				out = append(out, a.supObj(c, g, false))
			}
		}
		return out, nil
	}
	var walk func(*Object)
	walk = func(x *Object) {
		for _, c := range x.children {
			if a.seesObj(c) {
				out = append(out, a.supObj(c, g, true))
			}
			walk(c) // what is below a hidden object has permissions of its own
		}
	}
	walk(o)
	return out, nil
}

// supObj describes object o; details adds its parameters, commands and
// events as the request's flags ask.
func (a *ACL) supObj(o *Object, g *pb.GetSupportedDM, details bool) *pb.GetSupportedDMResp_SupportedObjectResult {
	r := &pb.GetSupportedDMResp_SupportedObjectResult{SupportedObjPath: o.path, IsMultiInstance: o.table,
		Access: pb.GetSupportedDMResp_OBJ_READ_ONLY}
	if o.table {
		r.Access = pb.GetSupportedDMResp_ObjAccessType(a.tableAccess(o))
		if g.GetReturnUniqueKeySets() {
			for _, set := range o.keys {
				ks := &pb.GetSupportedDMResp_SupportedUniqueKeySet{}
				for _, p := range set {
					ks.KeyNames = append(ks.KeyNames, p.name)
				}
				r.UniqueKeySets = append(r.UniqueKeySets, ks)
			}
		}
	}
	if !details {
		return r
	}
	if g.GetReturnParams() {
		for _, p := range o.params {
			if a.seesParam(p) {
				r.SupportedParams = append(r.SupportedParams, a.supParam(p))
			}
		}
	}
	if g.GetReturnCommands() {
		for _, c := range o.commands {
			if a.seesCmd(c) {
				r.SupportedCommands = append(r.SupportedCommands, supCommand(c))
			}
		}
	}
	if g.GetReturnEvents() {
		for _, e := range o.events {
			if a.seesEvent(e) {
				r.SupportedEvents = append(r.SupportedEvents, &pb.GetSupportedDMResp_SupportedEventResult{EventName: e.name, ArgNames: e.args})
			}
		}
	}
	return r
}

func (a *ACL) supParam(p *Param) *pb.GetSupportedDMResp_SupportedParamResult {
	r := &pb.GetSupportedDMResp_SupportedParamResult{ParamName: p.name, ValueType: valueType(p.typ),
		ValueChange: pb.GetSupportedDMResp_VALUE_CHANGE_ALLOWED}
	switch p.access {
	case ReadWrite, WriteOnceReadOnly:
		r.Access = pb.GetSupportedDMResp_PARAM_READ_WRITE
		if a != nil && a.params[p.id].any&PermWrite == 0 {
			r.Access = pb.GetSupportedDMResp_PARAM_READ_ONLY // restricted by the Controller's roles
		}
	case WriteOnly:
		r.Access = pb.GetSupportedDMResp_PARAM_WRITE_ONLY
	default:
		r.Access = pb.GetSupportedDMResp_PARAM_READ_ONLY
	}
	if p.noVC {
		r.ValueChange = pb.GetSupportedDMResp_VALUE_CHANGE_WILL_IGNORE
	}
	return r
}

func supCommand(c *Command) *pb.GetSupportedDMResp_SupportedCommandResult {
	r := &pb.GetSupportedDMResp_SupportedCommandResult{CommandName: c.name, OutputArgNames: c.out,
		CommandType: pb.GetSupportedDMResp_CMD_SYNC}
	if c.async {
		r.CommandType = pb.GetSupportedDMResp_CMD_ASYNC
	}
	for _, a := range c.in {
		r.InputArgNames = append(r.InputArgNames, a.name)
	}
	return r
}
