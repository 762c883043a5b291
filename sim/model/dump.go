package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"

	pb "brickyard/usp/uspmsg"
)

// Base tells an importer what the default model already has: whether a
// Supported-DM path — an object ("Device.DeviceInfo.") or an element of
// one ("Device.DeviceInfo.SerialNumber", "Device.Reboot()", "Device.Boot!")
// — is declared there. An importer leaves those out: the device provides
// them itself. nil: nothing is.
type Base func(path string) bool

// ImportDump makes a model of what a controller read from a real device:
// its GetSupportedDMResp (the supported objects, parameters with access
// and type, commands, events, unique keys) and its GetResp of the same
// tree (the instances and their values, which become defaults and
// per-instance values). The JSON is the protobuf JSON mapping of USP
// messages, as controllers and tools print them: an array of Msg, one
// Msg, or an object {"getSupportedDmResp": …, "getResp": …} (snake_case
// names accepted). The device's serial number and Endpoint ID in values
// become {serial} and {eid}, so that every simulated device shows its
// own. It returns the model and what it left out, one line each.
func ImportDump(data []byte, base Base) (*Model, []string, error) {
	if len(data) > MaxFileSize {
		return nil, nil, fmt.Errorf("%w: %d bytes, at most %d", ErrModel, len(data), MaxFileSize)
	}
	gsdm, get, err := decodeDump(data)
	if err != nil {
		return nil, nil, err
	}
	if len(gsdm) == 0 {
		return nil, nil, fmt.Errorf("%w: the dump has no GetSupportedDMResp", ErrModel)
	}
	if base == nil {
		base = func(string) bool { return false }
	}
	var notes []string
	m := &Model{Name: "imported"}
	byPath := map[string]*Object{}
	baseObj := map[string]bool{}
	for _, r := range gsdm {
		for _, rr := range r.GetReqObjResults() {
			if rr.GetErrCode() != 0 {
				notes = append(notes, fmt.Sprintf("GetSupportedDM %s failed on the device (%d %s): left out", rr.GetReqObjPath(), rr.GetErrCode(), rr.GetErrMsg()))
				continue
			}
			for _, so := range rr.GetSupportedObjs() {
				p := so.GetSupportedObjPath()
				if so.GetIsMultiInstance() && !strings.HasSuffix(p, "{i}.") {
					p += "{i}."
				}
				if byPath[p] != nil {
					continue
				}
				o := &Object{Path: p}
				inBase := base(p)
				baseObj[p] = inBase
				if so.GetIsMultiInstance() && !inBase {
					o.Access = objAccess(so.GetAccess())
					for _, ks := range so.GetUniqueKeySets() {
						o.Keys = append(o.Keys, ks.GetKeyNames())
					}
				}
				for _, sp := range so.GetSupportedParams() {
					if base(p + sp.GetParamName()) {
						continue
					}
					o.Params = append(o.Params, &Param{Name: sp.GetParamName(), Type: valueType(sp.GetValueType()), Access: paramAccess(sp.GetAccess()),
						IgnoreValueChange: sp.GetValueChange() == pb.GetSupportedDMResp_VALUE_CHANGE_WILL_IGNORE})
				}
				for _, sc := range so.GetSupportedCommands() {
					if base(p + sc.GetCommandName()) {
						continue
					}
					o.Commands = append(o.Commands, &Command{Name: sc.GetCommandName(), Async: sc.GetCommandType() == pb.GetSupportedDMResp_CMD_ASYNC,
						In: sc.GetInputArgNames(), Out: sc.GetOutputArgNames()})
				}
				for _, se := range so.GetSupportedEvents() {
					if base(p + se.GetEventName()) {
						continue
					}
					o.Events = append(o.Events, &Event{Name: se.GetEventName(), Args: se.GetArgNames()})
				}
				byPath[p] = o
				m.Objects = append(m.Objects, o)
			}
		}
	}

	// Values: the identity first, to make templates of it.
	values := map[string]string{} // instantiated parameter path → value
	for _, g := range get {
		for _, rr := range g.GetReqPathResults() {
			for _, res := range rr.GetResolvedPathResults() {
				for k, v := range res.GetResultParams() {
					values[res.GetResolvedPath()+k] = v
				}
			}
		}
	}
	var repl []string
	if s := values["Device.DeviceInfo.SerialNumber"]; len(s) >= 4 {
		repl = append(repl, s, "{serial}")
	}
	if s := values["Device.LocalAgent.EndpointID"]; len(s) >= 4 {
		repl = append(repl, s, "{eid}")
	}
	template := func(v string) string {
		v = escape(v)
		for i := 0; i+1 < len(repl); i += 2 {
			v = strings.ReplaceAll(v, escape(repl[i]), repl[i+1])
		}
		return v
	}
	type seen struct {
		vals map[uint32]string
		any  bool
	}
	per := map[*Param]*seen{}
	insts := map[*Object]map[uint32]bool{}
	paths := make([]string, 0, len(values))
	for p := range values {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, full := range paths {
		i := strings.LastIndexByte(full, '.')
		objPath, name := full[:i+1], full[i+1:]
		sp, nums := supported(objPath)
		o := byPath[sp]
		if o == nil {
			continue // not in the supported model, or brickyard's
		}
		if len(nums) > 0 {
			if insts[o] == nil {
				insts[o] = map[uint32]bool{}
			}
			insts[o][nums[len(nums)-1]] = true
		}
		p := o.param(name)
		if p == nil {
			continue
		}
		v := values[full]
		if err := p.checkLiteral(v); err != nil && p.Type != "string" {
			notes = append(notes, fmt.Sprintf("%s = %q: %v: no default", full, v, err))
			continue
		}
		s := per[p]
		if s == nil {
			s = &seen{vals: map[uint32]string{}}
			per[p] = s
		}
		n := uint32(0)
		if len(nums) > 0 {
			n = nums[len(nums)-1]
		}
		if p.Type == "string" && len(p.Enum) == 0 {
			s.vals[n] = template(v) // only a free string may be another device's
		} else {
			s.vals[n] = escape(v)
		}
		s.any = true
	}
	for _, o := range m.Objects {
		if !strings.HasSuffix(o.Path, "{i}.") || baseObj[o.Path] {
			continue
		}
		for n := range insts[o] {
			o.Instances = append(o.Instances, n)
		}
		slices.Sort(o.Instances)
		if len(o.Instances) > MaxInstances {
			notes = append(notes, fmt.Sprintf("%s: %d instances, kept the first %d", o.Path, len(o.Instances), MaxInstances))
			o.Instances = o.Instances[:MaxInstances]
		}
	}
	for p, s := range per {
		// One value everywhere: the default; else per instance.
		var first string
		same := true
		k := 0
		for _, v := range s.vals {
			if k == 0 {
				first = v
			} else if v != first {
				same = false
			}
			k++
		}
		if same {
			p.Default = first
			continue
		}
		p.Values = map[uint32]string{}
		for n, v := range s.vals {
			if n > 0 {
				p.Values[n] = v
			}
		}
	}
	// Drop what only the default model has: objects left with nothing to add.
	m.Objects = slices.DeleteFunc(m.Objects, func(o *Object) bool {
		return baseObj[o.Path] && len(o.Params) == 0 && len(o.Commands) == 0 && len(o.Events) == 0
	})
	// Keys must have a value per factory instance: a key the dump left
	// without values is dropped.
	for _, o := range m.Objects {
		var keep [][]string
		for _, ks := range o.Keys {
			ok := true
			for _, k := range ks {
				if p := o.param(k); p == nil || (len(o.Instances) > 1 && k != "Alias" && !p.perInstanceSource()) {
					ok = false
				}
			}
			if ok {
				keep = append(keep, ks)
			} else {
				notes = append(notes, fmt.Sprintf("%s: unique key %v left out (no distinct value per instance in the dump)", o.Path, ks))
			}
		}
		o.Keys = keep
	}
	if err := m.Check(); err != nil {
		return nil, notes, err
	}
	sort.Strings(notes)
	return m, notes, nil
}

func (p *Param) perInstanceSource() bool {
	return len(p.Values) > 0 || strings.Contains(p.Default, "{i")
}

// decodeDump finds the GetSupportedDMResp and GetResp messages of a dump.
func decodeDump(data []byte) ([]*pb.GetSupportedDMResp, []*pb.GetResp, error) {
	var gsdm []*pb.GetSupportedDMResp
	var get []*pb.GetResp
	opts := protojson.UnmarshalOptions{DiscardUnknown: true}
	addMsg := func(raw json.RawMessage) error {
		var m pb.Msg
		if err := opts.Unmarshal(raw, &m); err != nil {
			return fmt.Errorf("%w: dump: a USP Msg: %v", ErrModel, err)
		}
		if r := m.GetBody().GetResponse().GetGetSupportedDmResp(); r != nil {
			gsdm = append(gsdm, r)
		}
		if r := m.GetBody().GetResponse().GetGetResp(); r != nil {
			get = append(get, r)
		}
		return nil
	}
	data = bytes.TrimSpace(data)
	switch {
	case len(data) == 0:
		return nil, nil, fmt.Errorf("%w: dump: empty", ErrModel)
	case data[0] == '[':
		var msgs []json.RawMessage
		if err := json.Unmarshal(data, &msgs); err != nil {
			return nil, nil, fmt.Errorf("%w: dump: %v", ErrModel, err)
		}
		for _, raw := range msgs {
			if err := addMsg(raw); err != nil {
				return nil, nil, err
			}
		}
	case data[0] == '{':
		var top map[string]json.RawMessage
		if err := json.Unmarshal(data, &top); err != nil {
			return nil, nil, fmt.Errorf("%w: dump: %v", ErrModel, err)
		}
		if _, ok := top["header"]; ok {
			if err := addMsg(data); err != nil {
				return nil, nil, err
			}
			break
		}
		for k, raw := range top {
			switch k {
			case "getSupportedDmResp", "get_supported_dm_resp":
				var r pb.GetSupportedDMResp
				if err := opts.Unmarshal(raw, &r); err != nil {
					return nil, nil, fmt.Errorf("%w: dump: %s: %v", ErrModel, k, err)
				}
				gsdm = append(gsdm, &r)
			case "getResp", "get_resp":
				var r pb.GetResp
				if err := opts.Unmarshal(raw, &r); err != nil {
					return nil, nil, fmt.Errorf("%w: dump: %s: %v", ErrModel, k, err)
				}
				get = append(get, &r)
			default:
				return nil, nil, fmt.Errorf("%w: dump: unknown key %q (want getSupportedDmResp and getResp, or USP Msgs)", ErrModel, k)
			}
		}
	default:
		return nil, nil, fmt.Errorf("%w: dump: not JSON", ErrModel)
	}
	return gsdm, get, nil
}

// supported turns an instantiated object path into its Supported-DM
// path and its instance numbers: Device.WiFi.Radio.2. → Device.WiFi.Radio.{i}., [2].
func supported(p string) (string, []uint32) {
	parts := strings.Split(p, ".")
	var nums []uint32
	for i, s := range parts {
		if s == "" {
			continue
		}
		if n, err := strconv.ParseUint(s, 10, 32); err == nil && s[0] != '0' {
			parts[i] = "{i}"
			nums = append(nums, uint32(n))
		}
	}
	return strings.Join(parts, "."), nums
}

func objAccess(a pb.GetSupportedDMResp_ObjAccessType) string {
	switch a {
	case pb.GetSupportedDMResp_OBJ_ADD_DELETE:
		return "addDelete"
	case pb.GetSupportedDMResp_OBJ_ADD_ONLY:
		return "addOnly"
	case pb.GetSupportedDMResp_OBJ_DELETE_ONLY:
		return "deleteOnly"
	}
	return ""
}

func paramAccess(a pb.GetSupportedDMResp_ParamAccessType) string {
	switch a {
	case pb.GetSupportedDMResp_PARAM_READ_WRITE:
		return "readWrite"
	case pb.GetSupportedDMResp_PARAM_WRITE_ONLY:
		return "writeOnly"
	}
	return ""
}

func valueType(t pb.GetSupportedDMResp_ParamValueType) string {
	switch t {
	case pb.GetSupportedDMResp_PARAM_BASE_64:
		return "base64"
	case pb.GetSupportedDMResp_PARAM_BOOLEAN:
		return "boolean"
	case pb.GetSupportedDMResp_PARAM_DATE_TIME:
		return "dateTime"
	case pb.GetSupportedDMResp_PARAM_DECIMAL:
		return "decimal"
	case pb.GetSupportedDMResp_PARAM_HEX_BINARY:
		return "hexBinary"
	case pb.GetSupportedDMResp_PARAM_INT:
		return "int"
	case pb.GetSupportedDMResp_PARAM_LONG:
		return "long"
	case pb.GetSupportedDMResp_PARAM_UNSIGNED_INT:
		return "unsignedInt"
	case pb.GetSupportedDMResp_PARAM_UNSIGNED_LONG:
		return "unsignedLong"
	}
	return "string"
}
