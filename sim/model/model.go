// Package model is brickyard's vendor data-model file: the objects,
// parameters (types, access, defaults, per-device templates, seeded
// random values, counters), commands and events a product adds to the
// default TR-181 model of a brickyard device, so that a fleet presents
// that product's model. It parses the file (Parse), writes it (Marshal),
// and imports what a controller team has at hand: a GetSupportedDM and
// Get dump of a real device (ImportDump) and the Broadband Forum's TR-181
// XML data-model definition (ImportXML). docs/vendor-model.md describes
// the format.
//
// The package is pure: it reads bytes and returns values; sim/device
// declares a Model into a device schema, shared by every device.
package model

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"brickyard/usp/path"
)

// Model is a vendor data model: objects in declaration order.
type Model struct {
	Name    string
	Objects []*Object
}

// Object is one object of the model, at a Supported-DM path
// ("Device.WiFi.Radio.{i}."); a path ending in "{i}." is a table.
type Object struct {
	Path       string
	Access     string     // a table's: readOnly (default), addDelete, addOnly, deleteOnly
	Keys       [][]string // a table's unique key sets
	Instances  []uint32   // a table's factory rows (under every factory row of its parent)
	MaxEntries int
	Persistent bool // a table's rows survive a reboot (else the device makes them at every boot)
	Params     []*Param
	Commands   []*Command
	Events     []*Event
}

// Param is one parameter.
type Param struct {
	Name       string
	Type       string            // string, boolean, int, unsignedInt, long, unsignedLong, decimal, dateTime, hexBinary, base64
	List       bool              // a comma-separated list of Type
	Access     string            // readOnly (default), readWrite, writeOnce, writeOnly
	Default    string            // a template (see Compile)
	Values     map[uint32]string // per innermost instance number: templates overriding Default
	Random     []int64           // [lo, hi]: an integer drawn from the device's seed
	Choice     []string          // one of these, drawn from the device's seed
	Counter    []float64         // [lo, hi]: a per-second rate drawn from the seed; the value is rate·uptime
	Enum       []string
	Min, Max   *int64
	MaxLen     int
	Persistent bool
	Secret     bool
	// IgnoreValueChange: ValueChange subscriptions never fire for it
	// (VALUE_CHANGE_WILL_IGNORE); counters are so anyway.
	IgnoreValueChange bool

	def    Template
	values map[uint32]Template
	salt   uint64
}

// Command is one command ("Scan()").
type Command struct {
	Name      string
	Async     bool
	In        []string // input arguments (Supported-DM relative names)
	Mandatory []string // mandatory input arguments
	Out       []string
	Output    map[string]string // the output arguments' values: templates
	Duration  time.Duration     // async: how long until it completes
	output    map[string]Template
}

// Event is one event ("RadioReset!") with its argument names.
type Event struct {
	Name string
	Args []string
}

// Limits of a model, checked before anything is built.
const (
	MaxObjects   = 20000
	MaxParams    = 200000
	MaxInstances = 1024
	maxNameLen   = 256
)

// ErrModel is wrapped by every error of a model that does not hold
// together (Parse and the importers wrap it; Check returns it).
var ErrModel = errors.New("bad vendor data model")

var (
	types       = []string{"string", "boolean", "int", "unsignedInt", "long", "unsignedLong", "decimal", "dateTime", "hexBinary", "base64"}
	accesses    = []string{"", "readOnly", "readWrite", "writeOnce", "writeOnly"}
	tableAccess = []string{"", "readOnly", "addDelete", "addOnly", "deleteOnly"}
)

// Check validates the model and compiles its templates: every path,
// name, type, access, range, key, template and count. Parse and the
// importers call it; call it again after changing a Model.
func (m *Model) Check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrModel, fmt.Sprintf(format, args...))
	}
	if len(m.Objects) > MaxObjects {
		return bad("%d objects, at most %d", len(m.Objects), MaxObjects)
	}
	seen := map[string]bool{}
	nparams := 0
	for _, o := range m.Objects {
		sp, err := path.ParseSupported(o.Path)
		switch {
		case err != nil:
			return bad("object %q: %v", o.Path, err)
		case sp.Kind() != path.Object || !strings.HasPrefix(o.Path, "Device."):
			return bad("object %q: want an object path under Device. (ending in \".\")", o.Path)
		case seen[o.Path]:
			return bad("object %s is declared twice", o.Path)
		}
		seen[o.Path] = true
		table := strings.HasSuffix(o.Path, "{i}.")
		if !table && (o.Access != "" || len(o.Keys) > 0 || len(o.Instances) > 0 || o.MaxEntries != 0 || o.Persistent) {
			return bad("object %s: access, keys, instances, max_entries and persistent are for tables (paths ending in {i}.)", o.Path)
		}
		if !slices.Contains(tableAccess, o.Access) {
			return bad("object %s: access %q: want readOnly, addDelete, addOnly or deleteOnly", o.Path, o.Access)
		}
		if len(o.Instances) > MaxInstances || o.MaxEntries < 0 || o.MaxEntries > MaxInstances {
			return bad("object %s: at most %d instances", o.Path, MaxInstances)
		}
		if o.MaxEntries > 0 && len(o.Instances) > o.MaxEntries {
			return bad("object %s: %d factory instances, max_entries %d", o.Path, len(o.Instances), o.MaxEntries)
		}
		insts := map[uint32]bool{}
		for _, n := range o.Instances {
			if n == 0 || insts[n] {
				return bad("object %s: instance numbers must be distinct and ≥ 1 (%d)", o.Path, n)
			}
			insts[n] = true
		}
		names := map[string]bool{}
		nparams += len(o.Params)
		if nparams > MaxParams {
			return bad("more than %d parameters", MaxParams)
		}
		for _, p := range o.Params {
			if err := p.check(o, names); err != nil {
				return bad("parameter %s%s: %v", o.Path, p.Name, err)
			}
		}
		for _, ks := range o.Keys {
			for _, k := range ks {
				p := o.param(k)
				if p == nil {
					return bad("object %s: key %s is not one of its parameters", o.Path, k)
				}
				if len(o.Instances) > 1 && k != "Alias" && len(ks) == 1 && !p.perInstance() {
					return bad("object %s: key %s has the same value in every factory instance (use {i} or values)", o.Path, k)
				}
			}
		}
		for _, c := range o.Commands {
			if err := c.check(names); err != nil {
				return bad("command %s%s: %v", o.Path, c.Name, err)
			}
		}
		for _, e := range o.Events {
			base, ok := strings.CutSuffix(e.Name, "!")
			if !ok || !validName(base) || names[e.Name] {
				return bad("event %s%q: want a new Name! ", o.Path, e.Name)
			}
			names[e.Name] = true
			for _, a := range e.Args {
				if !validArg(a) {
					return bad("event %s%s: argument %q", o.Path, e.Name, a)
				}
			}
		}
	}
	// A child object's name must not be a parameter of its parent.
	byPath := make(map[string]*Object, len(m.Objects))
	for _, o := range m.Objects {
		byPath[o.Path] = o
	}
	for _, o := range m.Objects {
		parent, name := splitObject(o.Path)
		if q := byPath[parent]; q != nil && q.param(name) != nil {
			return bad("object %s: %s is a parameter of %s", o.Path, name, parent)
		}
	}
	return nil
}

func (o *Object) param(name string) *Param {
	for _, p := range o.Params {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// splitObject is an object's parent path and its own name:
// Device.WiFi.Radio.{i}. → Device.WiFi., Radio.
func splitObject(p string) (parent, name string) {
	s := strings.TrimSuffix(strings.TrimSuffix(p, "{i}."), ".")
	i := strings.LastIndexByte(s, '.')
	if i < 0 {
		return "", s
	}
	return s[:i+1], s[i+1:]
}

func (p *Param) perInstance() bool { return p.def.UsesInstance() || len(p.Values) > 0 }

func (p *Param) check(o *Object, names map[string]bool) error {
	switch {
	case !validName(p.Name):
		return errors.New("invalid name")
	case names[p.Name]:
		return errors.New("declared twice")
	case !slices.Contains(types, p.Type):
		return fmt.Errorf("type %q: want one of %s", p.Type, strings.Join(types, ", "))
	case !slices.Contains(accesses, p.Access):
		return fmt.Errorf("access %q: want readOnly, readWrite, writeOnce or writeOnly", p.Access)
	case p.MaxLen < 0 || p.MaxLen > 1<<20:
		return fmt.Errorf("max_len %d: want 0 to 1048576", p.MaxLen)
	case p.Min != nil && p.Max != nil && *p.Min > *p.Max:
		return fmt.Errorf("range [%d, %d] is empty", *p.Min, *p.Max)
	case len(p.Values) > MaxInstances:
		return fmt.Errorf("%d per-instance values, at most %d", len(p.Values), MaxInstances)
	}
	names[p.Name] = true
	p.salt = salt(o.Path + p.Name)
	kinds := 0
	for _, set := range []bool{len(p.Random) > 0, len(p.Choice) > 0, len(p.Counter) > 0} {
		if set {
			kinds++
		}
	}
	if kinds > 1 {
		return errors.New("random, choice and counter exclude each other")
	}
	integer := p.Type == "int" || p.Type == "unsignedInt" || p.Type == "long" || p.Type == "unsignedLong"
	if len(p.Random) > 0 && (len(p.Random) != 2 || p.Random[0] > p.Random[1] || !integer || p.List) {
		return errors.New("random: want [lo, hi], lo ≤ hi, on an integer parameter")
	}
	if len(p.Random) > 0 && (p.Type == "unsignedInt" || p.Type == "unsignedLong") && p.Random[0] < 0 {
		return errors.New("random: an unsigned parameter's range starts at 0 or more")
	}
	if len(p.Counter) > 0 {
		switch {
		case len(p.Counter) != 2 || (p.Type != "unsignedInt" && p.Type != "unsignedLong") || p.List:
			return errors.New("counter: want [lo, hi] rates per second on an unsignedInt or unsignedLong")
		case !finite(p.Counter[0]) || !finite(p.Counter[1]) || p.Counter[0] < 0 || p.Counter[0] > p.Counter[1] || p.Counter[1] > 1e12:
			return errors.New("counter: rates must be finite, 0 ≤ lo ≤ hi ≤ 1e12")
		case p.Access != "" && p.Access != "readOnly":
			return errors.New("counter: a counter is read-only")
		}
	}
	if len(p.Choice) > 1024 {
		return errors.New("choice: at most 1024 values")
	}
	var err error
	if p.def, err = Compile(p.Default); err != nil {
		return err
	}
	if z, ok := p.zero(integer); ok {
		p.def = Template{lit: z}
	}
	depth := strings.Count(o.Path, "{i}.")
	if err := p.checkValue(p.def, depth); err != nil {
		return fmt.Errorf("default: %v", err)
	}
	p.values = nil
	for n, v := range p.Values {
		if n == 0 {
			return errors.New("values: instance numbers start at 1")
		}
		t, err := Compile(v)
		if err != nil {
			return fmt.Errorf("values[%d]: %v", n, err)
		}
		if err := p.checkValue(t, depth); err != nil {
			return fmt.Errorf("values[%d]: %v", n, err)
		}
		if p.values == nil {
			p.values = map[uint32]Template{}
		}
		p.values[n] = t
	}
	if len(p.Values) > 0 && !strings.Contains(o.Path, "{i}.") {
		return errors.New("values: per-instance values are for parameters in a table")
	}
	for _, c := range p.Choice {
		if err := p.checkLiteral(c); err != nil {
			return fmt.Errorf("choice %q: %v", c, err)
		}
	}
	return nil
}

// zero is the value of an integer parameter without a default whose
// range leaves 0 out (TR-181 has many: Channel 1..255, AIFSN 2..15): the
// bound nearest 0, instead of the 0 the device would otherwise read,
// which its own range refuses.
func (p *Param) zero(integer bool) (string, bool) {
	if p.Default != "" || !integer || p.List {
		return "", false
	}
	switch {
	case p.Min != nil && *p.Min > 0:
		return strconv.FormatInt(*p.Min, 10), true
	case p.Max != nil && *p.Max < 0:
		return strconv.FormatInt(*p.Max, 10), true
	}
	return "", false
}

// checkValue checks a template against the parameter: a static value
// is checked as it is; one with placeholders may use only those that make
// a value of the type (an integer: {i} and {i:K}; hexBinary also {hex:N};
// a string or base64 any; a boolean or dateTime none), {i:K} only as deep
// as the object's depth tables go, and what it renders for a probe device
// must be a valid value. So a model that loads never makes a device read
// a value its own type refuses.
func (p *Param) checkValue(t Template, depth int) error {
	v, static := t.Static()
	if static {
		return p.checkLiteral(v)
	}
	var allowed []segKind
	switch p.Type {
	case "string", "base64":
		allowed = nil // any
	case "hexBinary":
		allowed = []segKind{sLit, sHex, sInst, sInstAt}
	case "int", "unsignedInt", "long", "unsignedLong", "decimal":
		allowed = []segKind{sLit, sInst, sInstAt}
	default:
		allowed = []segKind{sLit}
	}
	for _, sg := range t.segs {
		if allowed != nil && !slices.Contains(allowed, sg.kind) {
			return fmt.Errorf("%w: %s: a %s value cannot hold that placeholder", ErrTemplate, t.source(), p.Type)
		}
		switch {
		case sg.kind == sInst && depth == 0:
			return fmt.Errorf("%w: %s: {i} outside a table", ErrTemplate, t.source())
		case sg.kind == sInstAt && sg.n > depth:
			return fmt.Errorf("%w: %s: {i:%d} but the object is in %d tables", ErrTemplate, t.source(), sg.n, depth)
		}
	}
	nums := make([]uint32, depth)
	for i := range nums {
		nums[i] = uint32(i + 1)
	}
	if p.Type != "string" && p.Type != "base64" || len(p.Enum) > 0 {
		if err := p.checkLiteral(t.Render(probeEnv{}, nums, p.salt)); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrTemplate, t.source(), err)
		}
	}
	return nil
}

// probeEnv is the device a template is tried on at load.
type probeEnv struct{}

func (probeEnv) Serial() string       { return "SIM000001" }
func (probeEnv) EndpointID() string   { return "os::00256D-SIM000001" }
func (probeEnv) OUI() string          { return "00256D" }
func (probeEnv) ModelName() string    { return "model" }
func (probeEnv) ProductClass() string { return "class" }
func (probeEnv) MAC() string          { return "02:00:00:00:00:01" }
func (probeEnv) Seed() uint64         { return 1 }

func (p *Param) checkLiteral(v string) error {
	if v == "" {
		return nil
	}
	items := []string{v}
	if p.List {
		items = strings.Split(v, ",")
	}
	for _, it := range items {
		if err := literalOK(p.Type, strings.TrimSpace(it)); err != nil {
			return err
		}
		if len(p.Enum) > 0 && !slices.Contains(p.Enum, strings.TrimSpace(it)) {
			return fmt.Errorf("%q is not one of %s", it, strings.Join(p.Enum, ", "))
		}
	}
	return nil
}

func literalOK(typ, v string) error {
	var err error
	switch typ {
	case "boolean":
		if v != "true" && v != "false" && v != "1" && v != "0" {
			err = errors.New("not a boolean")
		}
	case "int", "long":
		_, err = parseInt(v)
	case "unsignedInt", "unsignedLong":
		var n int64
		n, err = parseInt(v)
		if err == nil && n < 0 {
			err = errors.New("negative")
		}
	case "dateTime":
		_, err = time.Parse(time.RFC3339, v)
	case "decimal":
		var f float64
		_, err = fmt.Sscanf(v, "%g", &f)
		if err == nil && !finite(f) {
			err = errors.New("not finite")
		}
	}
	if err != nil {
		return fmt.Errorf("%q is not a valid %s", v, typ)
	}
	return nil
}

func parseInt(v string) (int64, error) {
	var n int64
	_, err := fmt.Sscan(v, &n)
	if err == nil && fmt.Sprint(n) != strings.TrimPrefix(v, "+") {
		return 0, errors.New("not canonical")
	}
	return n, err
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func (c *Command) check(names map[string]bool) error {
	base, ok := strings.CutSuffix(c.Name, "()")
	switch {
	case !ok || !validName(base):
		return errors.New("want Name()")
	case names[c.Name]:
		return errors.New("declared twice")
	case c.Duration < 0 || c.Duration > 24*time.Hour:
		return fmt.Errorf("duration %v: want 0 to 24h", c.Duration)
	case !c.Async && c.Duration != 0:
		return errors.New("duration is for async commands")
	}
	names[c.Name] = true
	all := map[string]bool{}
	for _, a := range append(slices.Clone(c.In), c.Mandatory...) {
		if !validArg(a) || all[a] {
			return fmt.Errorf("input %q: invalid or twice", a)
		}
		all[a] = true
	}
	c.output = map[string]Template{}
	for k, v := range c.Output {
		if !slices.Contains(c.Out, k) {
			return fmt.Errorf("output %s is not among out", k)
		}
		t, err := Compile(v)
		if err != nil {
			return fmt.Errorf("output %s: %v", k, err)
		}
		c.output[k] = t
	}
	for _, a := range c.Out {
		if !validArg(a) {
			return fmt.Errorf("output %q: invalid", a)
		}
	}
	return nil
}

// Outputs renders a command's output arguments.
func (c *Command) Outputs(env Env, nums []uint32) map[string]string {
	out := map[string]string{}
	for k, t := range c.output {
		out[k] = t.Render(env, nums, 0)
	}
	return out
}

func validName(s string) bool {
	if s == "" || len(s) > maxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z'):
		case i > 0 && (('0' <= c && c <= '9') || c == '-'):
		default:
			return false
		}
	}
	return true
}

// validArg accepts an argument name, relative and possibly through
// objects and tables: "Result", "TimeWindow.{i}.Start".
func validArg(s string) bool {
	if s == "" || len(s) > maxNameLen {
		return false
	}
	for _, part := range strings.Split(s, ".") {
		if part != "{i}" && !validName(part) {
			return false
		}
	}
	return true
}

// Count is the model's number of objects and parameters.
func (m *Model) Count() (objects, params int) {
	for _, o := range m.Objects {
		params += len(o.Params)
	}
	return len(m.Objects), params
}

// Load reads a model file of any of the three forms, told apart by their
// first character: a GetSupportedDM + Get dump ('{' or '[', ImportDump),
// a TR-181 XML definition ('<', ImportXML of every object, one factory
// row per table), or the vendor model YAML (Parse). base leaves out what
// the default model has (dump and XML).
func Load(data []byte, base Base) (*Model, []string, error) {
	t := strings.TrimLeft(string(data[:min(len(data), 4096)]), " \t\r\n\ufeff")
	switch {
	case strings.HasPrefix(t, "{"), strings.HasPrefix(t, "["):
		return ImportDump(data, base)
	case strings.HasPrefix(t, "<"):
		return ImportXML(data, nil, 1, base)
	}
	m, err := Parse(data)
	return m, nil, err
}
