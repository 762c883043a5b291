package device

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"brickyard/sim/model"
	"brickyard/usp"
	"brickyard/usp/dm"
	"brickyard/usp/path"
)

// A vendor data model (sim/model) on top of the default one: its objects,
// parameters, commands and events join the schema, shared by every device
// that presents it; each device stores nothing for them but the values
// controllers write and the rows of its factory instances. Values with
// placeholders, draws and counters are Templates and Getters computed
// from the device (its serial, Endpoint ID, seed, uptime).

// NewSchemaWith is NewSchema with a vendor model added. A vendor object
// may extend one of the default model (Device.DeviceInfo.), but a
// parameter, command or event the default model has is a conflict, and an
// error. Give the same model to the Config of every device built on the
// schema (Config.Model).
func NewSchemaWith(vm *model.Model) (*dm.Schema, error) {
	b := newBuilder()
	if vm != nil {
		if err := declareVendor(b, vm); err != nil {
			return nil, err
		}
	}
	s, err := b.Build()
	if err != nil && vm != nil {
		return nil, fmt.Errorf("vendor model %s: %w", vm.Name, err)
	}
	if err == nil && vm != nil {
		for _, o := range vm.Objects {
			if so := s.Object(o.Path); so == nil || so.IsTable() != strings.HasSuffix(o.Path, "{i}.") {
				return nil, fmt.Errorf("vendor model %s: %s: the default model has it as a table (%s{i}.): %w",
					vm.Name, o.Path, strings.TrimSuffix(o.Path, "{i}."), usp.InvalidConfiguration)
			}
		}
	}
	return s, err
}

// declareVendor adds vm's declarations to b.
func declareVendor(b *dm.Builder, vm *model.Model) error {
	if err := vm.Check(); err != nil {
		return err
	}
	for _, vo := range vm.Objects {
		o := b.Object(vo.Path)
		if strings.HasSuffix(vo.Path, "{i}.") {
			switch vo.Access {
			case "addDelete":
				o.Access(dm.AddDelete)
			case "addOnly":
				o.Access(dm.AddOnly)
			case "deleteOnly":
				o.Access(dm.DeleteOnly)
			}
			for _, k := range vo.Keys {
				o.Keys(k...)
			}
			if vo.MaxEntries > 0 {
				o.MaxEntries(vo.MaxEntries)
			}
			if vo.Persistent {
				o.Persistent()
			}
		}
		for _, vp := range vo.Params {
			declareVendorParam(o, vp)
		}
		for _, vc := range vo.Commands {
			c := o.Command(vc.Name)
			if vc.Async {
				c.Async(nil)
			} else {
				vc := vc
				c.Sync(func(ctx dm.Ctx, _ map[string]string) (map[string]string, error) {
					return vc.Outputs(devEnv{dev(ctx)}, ctx.Nums()), nil
				})
			}
			if len(vc.Mandatory) > 0 {
				c.Mandatory(vc.Mandatory...)
			}
			if len(vc.In) > 0 {
				c.In(vc.In...)
			}
			if len(vc.Out) > 0 {
				c.Out(vc.Out...)
			}
		}
		for _, ve := range vo.Events {
			o.Event(ve.Name, ve.Args...)
		}
	}
	return nil
}

var vendorTypes = map[string]path.Type{"string": path.String, "boolean": path.Boolean, "int": path.Int, "unsignedInt": path.UnsignedInt,
	"long": path.Long, "unsignedLong": path.UnsignedLong, "decimal": path.Decimal, "dateTime": path.DateTime,
	"hexBinary": path.HexBinary, "base64": path.Base64}

func declareVendorParam(o *dm.Object, vp *model.Param) {
	t := vendorTypes[vp.Type]
	if vp.List {
		t |= path.List
	}
	p := o.Param(vp.Name, t)
	switch vp.Access {
	case "readWrite":
		p.Writable()
	case "writeOnce":
		p.WriteOnce()
	case "writeOnly":
		p.WriteOnly()
	}
	if len(vp.Enum) > 0 {
		p.Enum(vp.Enum...)
	}
	switch {
	case vp.Min != nil && vp.Max != nil:
		p.Range(*vp.Min, *vp.Max)
	case vp.Min != nil:
		p.Min(*vp.Min)
	case vp.Max != nil:
		p.Range(math.MinInt64, *vp.Max)
	}
	if vp.MaxLen > 0 {
		p.MaxLen(vp.MaxLen)
	}
	if vp.Persistent {
		p.Persistent()
	}
	if vp.Secret {
		p.Secret()
	}
	if vp.IgnoreValueChange {
		p.IgnoreValueChange()
	}
	switch v, static := vp.Static(); {
	case vp.IsCounter():
		p.Getter(func(c dm.Ctx) string { return vp.Value(devEnv{dev(c)}, c.Nums(), dev(c).up(c.Now)) }).IgnoreValueChange()
	case static:
		if v != "" {
			p.Default(v)
		}
	default:
		p.Template(func(c dm.Ctx) string { return vp.Value(devEnv{dev(c)}, c.Nums(), dev(c).up(c.Now)) })
	}
}

// devEnv is what a vendor template reads of a device.
type devEnv struct{ d *Device }

func (e devEnv) Serial() string       { return e.d.cfg.SerialNumber }
func (e devEnv) EndpointID() string   { return e.d.cfg.EndpointID }
func (e devEnv) OUI() string          { return e.d.cfg.ManufacturerOUI() }
func (e devEnv) ModelName() string    { return e.d.cfg.ModelName() }
func (e devEnv) ProductClass() string { return e.d.cfg.ProductClass() }
func (e devEnv) MAC() string          { return e.d.macAddress() }
func (e devEnv) Seed() uint64         { return e.d.cfg.seedHash }

// vendorRows adds the factory instances of the vendor model's tables:
// the persistent ones out of the factory (persistent true), the others
// at every boot.
func (d *Device) vendorRows(now time.Time, persistent bool) {
	vm := d.cfg.Model
	if vm == nil {
		return
	}
	for _, o := range vm.Objects {
		if len(o.Instances) == 0 || o.Persistent != persistent {
			continue
		}
		for _, parent := range d.vendorParents(o.Path, now) {
			for _, n := range o.Instances {
				_, fx, _ := d.m.AddRow(parent, n, nil, now)
				d.apply(now, fx)
			}
		}
	}
}

// vendorParents lists the instantiated table paths (without instance) of
// the table at supported path p under every existing row of the tables
// above it: "Device.WiFi.Radio.{i}.AP.{i}." → "Device.WiFi.Radio.1.AP.",
// "Device.WiFi.Radio.2.AP.".
func (d *Device) vendorParents(p string, now time.Time) []string {
	table := strings.TrimSuffix(p, "{i}.")
	i := strings.Index(table, "{i}.")
	if i < 0 {
		return []string{table}
	}
	var out []string
	outer, _ := d.m.Instances(table[:i], now)
	for _, row := range outer {
		out = append(out, d.vendorParents(row+table[i+4:]+"{i}.", now)...)
	}
	return out
}

// vendorCommand is the vendor command a Job runs, if any.
func (d *Device) vendorCommand(j dm.Job) *model.Command {
	vm := d.cfg.Model
	if vm == nil {
		return nil
	}
	sp := supportedPath(j.Obj)
	for _, o := range vm.Objects {
		if o.Path != sp {
			continue
		}
		for _, c := range o.Commands {
			if c.Name == j.Name && c.Async {
				return c
			}
		}
	}
	return nil
}

// supportedPath turns instance numbers into {i}.
func supportedPath(p string) string {
	parts := strings.Split(p, ".")
	for i, s := range parts {
		if s != "" && strings.Trim(s, "0123456789") == "" {
			parts[i] = "{i}"
		}
	}
	return strings.Join(parts, ".")
}

// vendorJob is a vendor async command running until its timer.
type vendorJob struct {
	job   uint64
	nums  []uint32
	cmd   *model.Command
	timer TimerID
}

// timerVendor + n: a vendor command completes.
const timerVendor TimerID = 2 << 32

func (d *Device) startVendorJob(now time.Time, j dm.Job, c *model.Command) {
	vj := &vendorJob{job: j.ID, nums: slices.Clone(j.Nums), cmd: c, timer: timerVendor + TimerID(d.nextSeq())}
	x := d.busy()
	x.vendorJobs = append(x.vendorJobs, vj)
	d.setTimer(vj.timer, now.Add(c.Duration))
}

// vendorTimer completes the vendor command whose timer fired.
func (d *Device) vendorTimer(now time.Time, id TimerID) bool {
	if d.x == nil {
		return false
	}
	k := slices.IndexFunc(d.x.vendorJobs, func(v *vendorJob) bool { return v.timer == id })
	if k < 0 {
		return false
	}
	vj := d.x.vendorJobs[k]
	d.x.vendorJobs = slices.Delete(d.x.vendorJobs, k, k+1)
	fx, _ := d.m.Complete(vj.job, vj.cmd.Outputs(devEnv{d}, vj.nums), nil, now)
	d.apply(now, fx)
	return true
}

// cancelVendorJob ends a canceled vendor command with 7023.
func (d *Device) cancelVendorJob(now time.Time, j dm.Job) bool {
	if d.x == nil {
		return false
	}
	k := slices.IndexFunc(d.x.vendorJobs, func(v *vendorJob) bool { return v.job == j.ID })
	if k < 0 {
		return false
	}
	vj := d.x.vendorJobs[k]
	d.x.vendorJobs = slices.Delete(d.x.vendorJobs, k, k+1)
	d.setTimer(vj.timer, time.Time{})
	fx, _ := d.m.Complete(vj.job, nil, usp.Errorf(usp.CommandCanceled, "%s canceled", j.Name), now)
	d.apply(now, fx)
	return true
}

// checkModel checks that a schema carries the vendor model of a Config.
func checkModel(s *dm.Schema, vm *model.Model) error {
	if vm == nil {
		return nil
	}
	// The first object and the last parameter: cheap enough for every
	// device of a fleet, and a schema built without the model lacks them.
	if len(vm.Objects) == 0 {
		return nil
	}
	o := vm.Objects[0]
	last := vm.Objects[len(vm.Objects)-1]
	if s.Object(o.Path) == nil || (len(last.Params) > 0 && s.Param(last.Path+last.Params[len(last.Params)-1].Name) == nil) {
		return fmt.Errorf("device: the schema lacks vendor model %s (build it with NewSchemaWith)", vm.Name)
	}
	return nil
}

// Base is what the default model declares, for the importers of vendor
// models (model.ImportDump, model.ImportXML), which leave it out.
func Base() (model.Base, error) {
	s, err := NewSchema()
	if err != nil {
		return nil, err
	}
	return func(p string) bool {
		switch {
		case strings.HasSuffix(p, "."):
			return s.Object(p) != nil
		case strings.HasSuffix(p, "()"), strings.HasSuffix(p, "!"):
			i := strings.LastIndexByte(strings.TrimRight(p, "()!"), '.')
			o := s.Object(p[:i+1])
			return o != nil && (o.HasCommand(p[i+1:]) || o.HasEvent(p[i+1:]))
		}
		return s.Param(p) != nil
	}, nil
}
