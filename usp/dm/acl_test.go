package dm

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"brickyard/usp"
	"brickyard/usp/path"
	pb "brickyard/usp/uspmsg"
)

var (
	trustOnce   sync.Once
	trustSchema *Schema
)

// testTrustSchema is testSchema with Device.LocalAgent.ControllerTrust.
func testTrustSchema(tb testing.TB) *Schema {
	trustOnce.Do(func() {
		b := NewBuilder(Options{URI: "urn:broadband-forum-org:tr-181-2-19-0", MaxPending: 8})
		declareTestSchema(b)
		b.ControllerTrust("Device.LocalAgent.ControllerTrust.", "Device.LocalAgent.Controller.{i}.")
		s, err := b.Build()
		if err != nil {
			panic(err)
		}
		trustSchema = s
	})
	return trustSchema
}

// trustFixture is newFixture's model on the trust schema: two firmware
// images, no Controllers, no roles.
type trustFixture struct {
	*fixture
	roles map[string]string // role name → row path (no trailing dot)
	last  string            // the role rows are added to
}

func newTrustFixture(tb testing.TB, cache ACLCache) *trustFixture {
	dev := &testDev{version: "1.0.0", boot: t0.Add(-3600e9)}
	f := &fixture{t: tb, dev: dev, now: t0,
		m: NewModel(testTrustSchema(tb), Config{Env: dev, Rand: rand.New(rand.NewPCG(1, 2)), ACL: cache})}
	f.mustAdd("Device.DeviceInfo.FirmwareImage.", map[string]string{"Name": "fw-a", "Version": "1.0.0", "Available": "true", "Status": "Active"})
	f.mustAdd("Device.DeviceInfo.FirmwareImage.", nil)
	f.mustSet("Device.DeviceInfo.ActiveFirmwareImage", "Device.DeviceInfo.FirmwareImage.1")
	f.mustSet("Device.DeviceInfo.SerialNumber", "SIM000001")
	return &trustFixture{fixture: f, roles: map[string]string{}}
}

func TestACLDataDriven(t *testing.T) {
	files, err := filepath.Glob("testdata/acl/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/acl/*.txt: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			f := newTrustFixture(t, nil)
			runDataDriven(t, file, func(t *testing.T, c *ddCase) string { return f.run(t, c) })
		})
	}
}

func (f *trustFixture) run(t *testing.T, c *ddCase) string {
	switch c.cmd {
	case "role":
		return f.defineRole(c)
	case "controller":
		return f.controller(c)
	case "untrusted":
		v := ""
		if len(c.args) > 0 && c.args[0] != "-" {
			v = f.roles[c.args[0]]
		}
		f.mustSet("Device.LocalAgent.ControllerTrust.UntrustedRole", v)
		return "UntrustedRole=" + v
	case "perm":
		return f.perms(c)
	case "request":
		from, _ := c.arg("from")
		var out []string
		for _, l := range c.input {
			resp, fx := f.m.Handle(f.origin(from), f.parseRequest(t, l), f.now)
			out = append(out, "> "+l)
			out = append(out, printMsg(resp)...)
			out = append(out, printNotify(fx)...)
		}
		return strings.Join(out, "\n")
	case "device":
		var out []string
		for _, l := range c.input {
			out = append(out, "> "+l)
			out = append(out, f.deviceCall(t, l)...)
		}
		return strings.Join(out, "\n")
	}
	t.Fatalf("%s: unknown command %s", c.pos, c.cmd)
	return ""
}

// origin is the Origin of an endpoint ID ("" = the device itself).
func (f *trustFixture) origin(eid string) Origin { return Origin{EndpointID: eid} }

// defineRole adds a Role row (device side, unchecked) and its Permission
// rows, one per input line: Order Targets Param Obj InstantiatedObj
// CommandEvent [disabled].
func (f *trustFixture) defineRole(c *ddCase) string {
	name := c.args[0]
	enable := "true"
	if slices.Contains(c.args, "disabled") {
		enable = "false"
	}
	p := f.mustAdd("Device.LocalAgent.ControllerTrust.Role.", map[string]string{"Name": name, "Enable": enable})
	row := strings.TrimSuffix(p, ".")
	f.roles[name] = row
	out := []string{row + " " + name}
	for _, l := range c.input {
		fs := strings.Fields(l)
		if len(fs) < 6 {
			f.t.Fatalf("%s: permission line %q: want Order Targets Param Obj InstantiatedObj CommandEvent", c.pos, l)
		}
		en := "true"
		if len(fs) > 6 && fs[6] == "disabled" {
			en = "false"
		}
		_, _, err := f.m.AddRow(p+"Permission.", 0, map[string]string{"Order": fs[0], "Targets": fs[1], "Param": fs[2],
			"Obj": fs[3], "InstantiatedObj": fs[4], "CommandEvent": fs[5], "Enable": en}, f.now)
		if err != nil {
			out = append(out, "  error: "+err.Error())
		}
	}
	return strings.Join(out, "\n")
}

// controller adds (or changes) the Controller row of an endpoint:
// controller EID [roles=A,B] [inherited=C] [disabled].
func (f *trustFixture) controller(c *ddCase) string {
	eid := c.args[0]
	refs := func(key string) string {
		v, _ := c.arg(key)
		var out []string
		for _, n := range strings.Split(v, ",") {
			if n != "" {
				out = append(out, f.roles[n])
			}
		}
		return strings.Join(out, ",")
	}
	enable := "true"
	if slices.Contains(c.args, "disabled") {
		enable = "false"
	}
	row := f.m.controllerOf(eid, f.now)
	if row == "" {
		p := f.mustAdd("Device.LocalAgent.Controller.", map[string]string{"EndpointID": eid})
		row = strings.TrimSuffix(p, ".")
	}
	f.mustSet(row+".Enable", enable)
	f.mustSet(row+".AssignedRole", refs("roles"))
	f.mustSet(row+".InheritedRole", refs("inherited"))
	return row
}

// perms prints what from may do with each element of the input, checking
// on the way that the compiled cells agree with the rules.
func (f *trustFixture) perms(c *ddCase) string {
	from, _ := c.arg("from")
	a := f.m.accessFor(f.origin(from), f.now)
	if a.refused != "" {
		return "refused: " + a.refused
	}
	var out []string
	for _, l := range c.input {
		e, nums, o, leaf, tableOnly, err := elementOf(f.m.s, l)
		if err != nil {
			out = append(out, l+": "+err.Error())
			continue
		}
		at := func(cl cell, e element, pk pick) Perm {
			got := a.eval(e, nums, pk)
			if !cl.specific && got != cl.gen {
				f.t.Errorf("%s: %s: the compiled %v differs from the rules' %v", c.pos, l, cl.gen, got)
			}
			return got
		}
		switch e.kind {
		case path.Parameter:
			out = append(out, fmt.Sprintf("%s: param %v", l, at(a.params[o.paramBy[leaf].id], e, pickParam)))
		case path.Command:
			out = append(out, fmt.Sprintf("%s: commandevent %v", l, at(a.cmds[o.cmdBy[leaf].id], e, pickCE)))
		case path.Event:
			out = append(out, fmt.Sprintf("%s: commandevent %v", l, at(a.events[o.eventBy[leaf].id], e, pickCE)))
		default:
			oc := a.objs[o.id]
			if tableOnly {
				out = append(out, fmt.Sprintf("%s: table obj %v", l, at(oc.table, e, pickObj)))
				continue
			}
			out = append(out, fmt.Sprintf("%s: obj %v inst %v", l, at(oc.obj, e, pickObj), at(oc.inst, e, pickInst)))
		}
	}
	return strings.Join(out, "\n")
}

// elementOf reads a path ("Device.LocalAgent.Controller.2.Enable",
// "Device.Reboot()", "Device.DeviceInfo.FirmwareImage.", with {i} for any
// instance) as the element permissions see and the instance numbers
// along it (0 for {i} or *).
func elementOf(s *Schema, ps string) (e element, nums []uint32, o *Object, leaf string, tableOnly bool, err error) {
	p, err := path.Parse(ps)
	if strings.Contains(ps, "{i}") {
		p, err = path.ParseSupported(ps)
	}
	if err != nil {
		return element{}, nil, nil, "", false, err
	}
	n := p.Len()
	if p.Kind() != path.Object {
		n--
	}
	o, tableOnly = s.walkSupported(p, n)
	if o == nil {
		return element{}, nil, nil, "", false, errors.New("not in the schema")
	}
	for i := 0; i < n; i++ {
		if seg := p.At(i); seg.Kind() == path.SegInstance {
			nums = append(nums, uint32(seg.Number()))
		} else if seg.IsSelector() {
			nums = append(nums, 0)
		}
	}
	e = element{segs: o.segs, kind: p.Kind()}
	switch p.Kind() {
	case path.Parameter:
		e.leaf = p.Name()
	case path.Command:
		e.leaf = p.Name() + "()"
	case path.Event:
		e.leaf = p.Name() + "!"
	default:
		if tableOnly {
			e = tableElem(o)
		}
	}
	return e, nums, o, e.leaf, tableOnly, nil
}

// parseRequest reads one request line:
//
//	get PATH...                 getinstances [first] PATH...
//	gsdm [first] PATH...        set [partial] OBJ NAME=VALUE[!]...
//	add [partial] TABLE NAME=VALUE[!]...
//	delete [partial] PATH...    operate CMD [NAME=VALUE...]
//
// "!" marks a required setting.
func (f *trustFixture) parseRequest(t *testing.T, l string) *pb.Msg {
	fs := strings.Fields(l)
	verb, rest := fs[0], fs[1:]
	flag := func(name string) bool {
		if len(rest) > 0 && rest[0] == name {
			rest = rest[1:]
			return true
		}
		return false
	}
	f.n++
	id := fmt.Sprintf("m%d", f.n)
	switch verb {
	case "get":
		return usp.NewRequest(id, &pb.Get{ParamPaths: rest})
	case "getinstances":
		first := flag("first")
		return usp.NewRequest(id, &pb.GetInstances{FirstLevelOnly: first, ObjPaths: rest})
	case "gsdm":
		first := flag("first")
		return usp.NewRequest(id, &pb.GetSupportedDM{FirstLevelOnly: first, ObjPaths: rest, ReturnParams: true,
			ReturnCommands: true, ReturnEvents: true})
	case "set":
		partial := flag("partial")
		u := &pb.Set_UpdateObject{ObjPath: rest[0]}
		for _, kv := range rest[1:] {
			k, v, req := setting(kv)
			u.ParamSettings = append(u.ParamSettings, &pb.Set_UpdateParamSetting{Param: k, Value: v, Required: req})
		}
		return usp.NewRequest(id, &pb.Set{AllowPartial: partial, UpdateObjs: []*pb.Set_UpdateObject{u}})
	case "add":
		partial := flag("partial")
		co := &pb.Add_CreateObject{ObjPath: rest[0]}
		for _, kv := range rest[1:] {
			k, v, req := setting(kv)
			co.ParamSettings = append(co.ParamSettings, &pb.Add_CreateParamSetting{Param: k, Value: v, Required: req})
		}
		return usp.NewRequest(id, &pb.Add{AllowPartial: partial, CreateObjs: []*pb.Add_CreateObject{co}})
	case "delete":
		partial := flag("partial")
		return usp.NewRequest(id, &pb.Delete{AllowPartial: partial, ObjPaths: rest})
	case "operate":
		in := map[string]string{}
		for _, kv := range rest[1:] {
			k, v, _ := strings.Cut(kv, "=")
			in[k] = v
		}
		return usp.NewRequest(id, &pb.Operate{Command: rest[0], SendResp: true, InputArgs: in})
	}
	t.Fatalf("unknown request %q", l)
	return nil
}

func setting(kv string) (k, v string, required bool) {
	k, v, _ = strings.Cut(kv, "=")
	if strings.HasSuffix(v, "!") {
		return k, strings.TrimSuffix(v, "!"), true
	}
	return k, v, false
}

// deviceCall runs a device-side call and prints the notifications it
// caused: set PATH VALUE | add TABLE | delete PATH | event PATH.
func (f *trustFixture) deviceCall(t *testing.T, l string) []string {
	fs := strings.Fields(l)
	var fx Effects
	var err error
	switch fs[0] {
	case "set":
		fx, err = f.m.SetValue(fs[1], fs[2], f.now)
	case "add":
		_, fx, err = f.m.AddRow(fs[1], 0, nil, f.now)
	case "delete":
		fx, err = f.m.DeleteRow(fs[1], f.now)
	case "event":
		fx, err = f.m.EventFor(fs[1], func(ctrl string) map[string]string {
			return map[string]string{"ParameterMap": f.m.ParameterMap(ctrl, f.now)}
		}, f.now)
	default:
		t.Fatalf("unknown device call %q", l)
	}
	if err != nil {
		return []string{"error: " + err.Error()}
	}
	return printNotify(fx)
}

// printMsg prints a response compactly (text-format protobuf is not
// stable across runs: the formatter adds random spaces).
func printMsg(m *pb.Msg) []string {
	if m == nil {
		return []string{"(no response)"}
	}
	if e := m.GetBody().GetError(); e != nil {
		out := []string{fmt.Sprintf("error %d: %s", e.GetErrCode(), e.GetErrMsg())}
		for _, pe := range e.GetParamErrs() {
			out = append(out, fmt.Sprintf("  param_err %s %d", pe.GetParamPath(), pe.GetErrCode()))
		}
		return out
	}
	r := m.GetBody().GetResponse()
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	switch {
	case r.GetGetResp() != nil:
		for _, rr := range r.GetGetResp().GetReqPathResults() {
			if rr.GetErrCode() != 0 {
				add("%s: err %d", rr.GetRequestedPath(), rr.GetErrCode())
				continue
			}
			add("%s: %d objects", rr.GetRequestedPath(), len(rr.GetResolvedPathResults()))
			for _, res := range rr.GetResolvedPathResults() {
				add("  %s %s", res.GetResolvedPath(), kv(res.GetResultParams()))
			}
		}
	case r.GetGetInstancesResp() != nil:
		for _, rr := range r.GetGetInstancesResp().GetReqPathResults() {
			if rr.GetErrCode() != 0 {
				add("%s: err %d", rr.GetRequestedPath(), rr.GetErrCode())
				continue
			}
			add("%s: %d instances", rr.GetRequestedPath(), len(rr.GetCurrInsts()))
			for _, in := range rr.GetCurrInsts() {
				add("  %s %s", in.GetInstantiatedObjPath(), kv(in.GetUniqueKeys()))
			}
		}
	case r.GetGetSupportedDmResp() != nil:
		for _, rr := range r.GetGetSupportedDmResp().GetReqObjResults() {
			if rr.GetErrCode() != 0 {
				add("%s: err %d", rr.GetReqObjPath(), rr.GetErrCode())
				continue
			}
			add("%s: %d objects", rr.GetReqObjPath(), len(rr.GetSupportedObjs()))
			for _, o := range rr.GetSupportedObjs() {
				var ps, cs, es []string
				for _, p := range o.GetSupportedParams() {
					ps = append(ps, p.GetParamName()+"("+strings.TrimPrefix(p.GetAccess().String(), "PARAM_")+")")
				}
				for _, c := range o.GetSupportedCommands() {
					cs = append(cs, c.GetCommandName())
				}
				for _, e := range o.GetSupportedEvents() {
					es = append(es, e.GetEventName())
				}
				add("  %s %s params=[%s] commands=[%s] events=[%s]", o.GetSupportedObjPath(), strings.TrimPrefix(o.GetAccess().String(), "OBJ_"),
					strings.Join(ps, " "), strings.Join(cs, " "), strings.Join(es, " "))
			}
		}
	case r.GetSetResp() != nil:
		for _, u := range r.GetSetResp().GetUpdatedObjResults() {
			st := u.GetOperStatus()
			if fl := st.GetOperFailure(); fl != nil {
				add("%s: failure %d", u.GetRequestedPath(), fl.GetErrCode())
				for _, inst := range fl.GetUpdatedInstFailures() {
					add("  %s %s", inst.GetAffectedPath(), setErrs(inst.GetParamErrs()))
				}
				continue
			}
			add("%s: success", u.GetRequestedPath())
			for _, inst := range st.GetOperSuccess().GetUpdatedInstResults() {
				add("  %s updated=%s errs=%s", inst.GetAffectedPath(), kv(inst.GetUpdatedParams()), setErrs(inst.GetParamErrs()))
			}
		}
	case r.GetAddResp() != nil:
		for _, c := range r.GetAddResp().GetCreatedObjResults() {
			st := c.GetOperStatus()
			if fl := st.GetOperFailure(); fl != nil {
				add("%s: failure %d", c.GetRequestedPath(), fl.GetErrCode())
				continue
			}
			ok := st.GetOperSuccess()
			var errs []string
			for _, pe := range ok.GetParamErrs() {
				errs = append(errs, fmt.Sprintf("%s:%d", pe.GetParam(), pe.GetErrCode()))
			}
			add("%s: created %s keys=%s errs=[%s]", c.GetRequestedPath(), ok.GetInstantiatedPath(), kv(ok.GetUniqueKeys()), strings.Join(errs, " "))
		}
	case r.GetDeleteResp() != nil:
		for _, d := range r.GetDeleteResp().GetDeletedObjResults() {
			st := d.GetOperStatus()
			if fl := st.GetOperFailure(); fl != nil {
				add("%s: failure %d", d.GetRequestedPath(), fl.GetErrCode())
				continue
			}
			add("%s: deleted [%s]", d.GetRequestedPath(), strings.Join(st.GetOperSuccess().GetAffectedPaths(), " "))
		}
	case r.GetOperateResp() != nil:
		for _, res := range r.GetOperateResp().GetOperationResults() {
			switch {
			case res.GetCmdFailure() != nil:
				add("%s: failure %d", res.GetExecutedCommand(), res.GetCmdFailure().GetErrCode())
			case res.GetReqObjPath() != "":
				add("%s: requested %s", res.GetExecutedCommand(), res.GetReqObjPath())
			default:
				add("%s: done %s", res.GetExecutedCommand(), kv(res.GetReqOutputArgs().GetOutputArgs()))
			}
		}
	default:
		add("%v", m)
	}
	return out
}

func setErrs(pe []*pb.SetResp_ParameterError) string {
	var errs []string
	for _, e := range pe {
		errs = append(errs, fmt.Sprintf("%s:%d", e.GetParam(), e.GetErrCode()))
	}
	return "[" + strings.Join(errs, " ") + "]"
}

func kv(m map[string]string) string {
	keys := slices.Sorted(maps.Keys(m))
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k + "=" + m[k])
	}
	b.WriteByte('}')
	return b.String()
}

// printNotify prints the notifications of fx, one line each.
func printNotify(fx Effects) []string {
	var out []string
	for _, n := range fx.Notify {
		nt := n.Msg.GetBody().GetRequest().GetNotify()
		var what string
		switch {
		case nt.GetValueChange() != nil:
			what = "ValueChange " + nt.GetValueChange().GetParamPath() + "=" + nt.GetValueChange().GetParamValue()
		case nt.GetObjCreation() != nil:
			what = "ObjectCreation " + nt.GetObjCreation().GetObjPath() + " " + kv(nt.GetObjCreation().GetUniqueKeys())
		case nt.GetObjDeletion() != nil:
			what = "ObjectDeletion " + nt.GetObjDeletion().GetObjPath()
		case nt.GetEvent() != nil:
			what = "Event " + nt.GetEvent().GetObjPath() + nt.GetEvent().GetEventName() + " " + kv(nt.GetEvent().GetParams())
		case nt.GetOperComplete() != nil:
			what = "OperationComplete " + nt.GetOperComplete().GetObjPath() + nt.GetOperComplete().GetCommandName()
		default:
			what = fmt.Sprint(nt)
		}
		out = append(out, "notify "+n.To+" "+what)
	}
	sort.Strings(out)
	return out
}
