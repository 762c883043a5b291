package dm

import (
	"strings"

	"brickyard/usp/path"
)

// Declaration methods of Object, Param and Command. They may be called
// only while the schema is being built; after Builder.Build they change
// nothing (the shared Schema is immutable) and the misuse is recorded.

// Object declares a sub-object relative to o: di.Object("FirmwareImage.{i}.").
func (o *Object) Object(rel string) *Object {
	if o.b == nil {
		return o
	}
	if o.s == nil { // detached
		return o
	}
	return o.b.Object(o.path + rel)
}

// Access sets what Controllers may do with the table's rows.
func (o *Object) Access(a TableAccess) *Object {
	if o.check("Access") && o.requireTable("Access") {
		o.access = a
	}
	return o
}

// Keys declares one unique key set (call again for more). A key named
// "Alias" is the non-functional key: writeOnceReadOnly, auto-assigned
// "cpe-N" when a row is created without one.
func (o *Object) Keys(names ...string) *Object {
	if o.check("Keys") && o.requireTable("Keys") {
		o.keyNames = append(o.keyNames, names)
	}
	return o
}

// MaxEntries limits the table's rows (default Options.MaxInstances).
func (o *Object) MaxEntries(n int) *Object {
	if o.check("MaxEntries") && o.requireTable("MaxEntries") {
		o.maxEntries = n
	}
	return o
}

// Persistent makes the table's rows, with all their stored values, part of
// the Snapshot.
func (o *Object) Persistent() *Object {
	if o.check("Persistent") && o.requireTable("Persistent") {
		o.persist = true
	}
	return o
}

// OnRows registers a hook told about rows Controllers add or delete (a new
// Controller to connect to, a BootParameter). Rows the device adds or
// deletes itself are not reported.
func (o *Object) OnRows(fn RowHook) *Object {
	if o.check("OnRows") && o.requireTable("OnRows") {
		o.onRows = fn
	}
	return o
}

// PersistIf makes a row persistent when its boolean parameter param is
// true (the Subscription table's Persistent).
func (o *Object) PersistIf(param string) *Object {
	if o.check("PersistIf") && o.requireTable("PersistIf") {
		o.persistIf = param
	}
	return o
}

func (o *Object) check(what string) bool {
	if o.b == nil {
		return false
	}
	return o.b.usable(what + " on " + o.path)
}

func (o *Object) requireTable(what string) bool {
	if !o.table {
		o.b.errorf("%s on %s: not a table", what, o.path)
		return false
	}
	return true
}

// Param declares a parameter of type t (read-only, default "" or the
// type's zero: "false", "0", Unknown Time).
func (o *Object) Param(name string, t path.Type) *Param {
	p := &Param{obj: o, name: name, typ: t, def: zeroValue(t)}
	if !o.check("Param " + name) {
		return p
	}
	switch {
	case !validName(name):
		o.b.errorf("parameter %q of %s: invalid name", name, o.path)
	case o.paramBy[name] != nil || o.childBy[name] != nil:
		o.b.errorf("parameter %s%s declared twice", o.path, name)
	case !validType(t):
		o.b.errorf("parameter %s%s: invalid type %v", o.path, name, t)
	default:
		o.params = append(o.params, p)
		o.paramBy[name] = p
		if o.s != nil {
			o.s.params = append(o.s.params, p)
		}
	}
	return p
}

// String, Bool, Int, Uint, Long, ULong, Decimal, DateTime, HexBinary and
// Base64 declare a parameter of that type; List declares a
// comma-separated list of elem.
func (o *Object) String(name string) *Param    { return o.Param(name, path.String) }
func (o *Object) Bool(name string) *Param      { return o.Param(name, path.Boolean) }
func (o *Object) Int(name string) *Param       { return o.Param(name, path.Int) }
func (o *Object) Uint(name string) *Param      { return o.Param(name, path.UnsignedInt) }
func (o *Object) Long(name string) *Param      { return o.Param(name, path.Long) }
func (o *Object) ULong(name string) *Param     { return o.Param(name, path.UnsignedLong) }
func (o *Object) Decimal(name string) *Param   { return o.Param(name, path.Decimal) }
func (o *Object) DateTime(name string) *Param  { return o.Param(name, path.DateTime) }
func (o *Object) HexBinary(name string) *Param { return o.Param(name, path.HexBinary) }
func (o *Object) Base64(name string) *Param    { return o.Param(name, path.Base64) }
func (o *Object) List(name string, elem path.Type) *Param {
	return o.Param(name, elem|path.List)
}

// Command declares a command; name ends with "()". It is synchronous with
// no handler until Sync or Async is called.
func (o *Object) Command(name string) *Command {
	c := &Command{obj: o, name: name}
	if !o.check("Command " + name) {
		return c
	}
	base, ok := strings.CutSuffix(name, "()")
	switch {
	case !ok || !validName(base):
		o.b.errorf("command %q of %s: name must be Name()", name, o.path)
	case o.cmdBy[name] != nil:
		o.b.errorf("command %s%s declared twice", o.path, name)
	default:
		o.commands = append(o.commands, c)
		o.cmdBy[name] = c
	}
	return c
}

// Event declares an event with its argument names; name ends with "!".
func (o *Object) Event(name string, args ...string) *Event {
	e := &Event{obj: o, name: name, args: args}
	if !o.check("Event " + name) {
		return e
	}
	base, ok := strings.CutSuffix(name, "!")
	switch {
	case !ok || !validName(base):
		o.b.errorf("event %q of %s: name must be Name!", name, o.path)
	case o.eventBy[name] != nil:
		o.b.errorf("event %s%s declared twice", o.path, name)
	default:
		o.events = append(o.events, e)
		o.eventBy[name] = e
	}
	return e
}

func (p *Param) ok(what string) bool { return p.obj.check(what + " on parameter " + p.name) }

// Writable makes the parameter read-write for Controllers.
func (p *Param) Writable() *Param {
	if p.ok("Writable") {
		p.access = ReadWrite
	}
	return p
}

// WriteOnce makes the parameter writeOnceReadOnly: Add may set it, Set
// only while its value is empty.
func (p *Param) WriteOnce() *Param {
	if p.ok("WriteOnce") {
		p.access = WriteOnceReadOnly
	}
	return p
}

// WriteOnly makes the parameter write-only: Get never returns it.
func (p *Param) WriteOnly() *Param {
	if p.ok("WriteOnly") {
		p.access = WriteOnly
	}
	return p
}

// Default sets the value the parameter has when nothing is stored.
func (p *Param) Default(v string) *Param {
	if p.ok("Default") {
		p.def = v
	}
	return p
}

// Persistent makes the parameter's stored value part of the Snapshot.
// (Parameters of persistent table rows are always kept.)
func (p *Param) Persistent() *Param {
	if p.ok("Persistent") {
		p.persist = true
	}
	return p
}

// Secret makes Get return an empty string for the parameter (TR-181
// passwords) while Set still stores it.
func (p *Param) Secret() *Param {
	if p.ok("Secret") {
		p.secret = true
	}
	return p
}

// IgnoreValueChange marks the parameter VALUE_CHANGE_WILL_IGNORE: ValueChange
// subscriptions never fire for it (counters, UpTime).
func (p *Param) IgnoreValueChange() *Param {
	if p.ok("IgnoreValueChange") {
		p.noVC = true
	}
	return p
}

// Enum restricts a string (or each list item) to the given values.
func (p *Param) Enum(values ...string) *Param {
	if p.ok("Enum") {
		p.enum = values
	}
	return p
}

// Range restricts an integer parameter to [min, max].
func (p *Param) Range(min, max int64) *Param {
	if p.ok("Range") {
		p.hasMin, p.min, p.hasMax, p.max = true, min, true, max
	}
	return p
}

// Min restricts an integer parameter to values ≥ min.
func (p *Param) Min(min int64) *Param {
	if p.ok("Min") {
		p.hasMin, p.min = true, min
	}
	return p
}

// MaxLen limits a string-like value (each item of a list) to n bytes.
func (p *Param) MaxLen(n int) *Param {
	if p.ok("MaxLen") {
		p.maxLen = n
	}
	return p
}

// RefTo makes the parameter a strong reference to a row of the table at
// the Supported-DM path table: a written value must be empty or address
// exactly one existing row (by number or unique key); the row's path,
// without trailing dot and with its instance number, is stored.
func (p *Param) RefTo(table string) *Param {
	if p.ok("RefTo") {
		p.refPath = table
	}
	return p
}

// Getter binds the parameter's value to the device: fn computes it on
// every read and nothing is stored. A writable bound parameter needs a
// Setter to accept writes.
func (p *Param) Getter(fn Getter) *Param {
	if p.ok("Getter") {
		p.get = fn
	}
	return p
}

// Template gives the parameter a default computed per model instead of
// a fixed one: fn is called on reads while no value is stored (a
// device's serial number in a host name, a value drawn from the
// device's seed, a counter that moves with its clock). Unlike a Getter,
// a Template value can be overwritten: a write stores the value, and
// only then does the model hold anything for it. fn must not change the
// model and must return the same value for the same device and time.
func (p *Param) Template(fn Getter) *Param {
	if p.ok("Template") {
		p.tmpl = fn
	}
	return p
}

// Validator checks a value a Controller writes (Set or Add) before any
// change is applied; an error refuses it (e.g. BootFirmwareImage must
// reference an Available row: return a usp.InvalidValue error).
func (p *Param) Validator(fn Setter) *Param {
	if p.ok("Validator") {
		p.check = fn
	}
	return p
}

// Setter is called when a Controller's write is applied. With a Getter the
// device owns the value and the engine stores nothing; without, the engine
// stores the value and the Setter only observes it. If a later failure
// rolls the change back, the Setter is called again with the old value.
func (p *Param) Setter(fn Setter) *Param {
	if p.ok("Setter") {
		p.set = fn
	}
	return p
}

func (c *Command) ok(what string) bool { return c.obj.check(what + " on command " + c.name) }

// Sync makes the command synchronous, run by h.
func (c *Command) Sync(h Handler) *Command {
	if c.ok("Sync") {
		c.async, c.run = false, h
	}
	return c
}

// Async makes the command asynchronous. accept (may be nil) vets each
// invocation; accepted ones get a Request row and become a Job in the
// Effects; the device finishes them with Model.Complete.
func (c *Command) Async(accept Accept) *Command {
	if c.ok("Async") {
		c.async, c.accept = true, accept
	}
	return c
}

// In declares optional input arguments (Supported-DM relative names such
// as "TimeWindow.{i}.Mode").
func (c *Command) In(names ...string) *Command { return c.addIn(false, names) }

// Mandatory declares mandatory input arguments: omitting one fails the
// invocation with 7027 (R-OPR.5). A mandatory "Obj.{i}.Arg" needs at least
// one instance of Obj, and Arg in each instance given.
func (c *Command) Mandatory(names ...string) *Command { return c.addIn(true, names) }

func (c *Command) addIn(mandatory bool, names []string) *Command {
	if !c.ok("In") {
		return c
	}
	for _, n := range names {
		if c.findArg(n) != nil {
			c.obj.b.errorf("command %s%s: input %s declared twice", c.obj.path, c.name, n)
			continue
		}
		c.in = append(c.in, arg{name: n, mandatory: mandatory})
	}
	return c
}

// Default gives an optional input argument the value used when it is
// omitted (R-OPR.7).
func (c *Command) Default(name, value string) *Command {
	if !c.ok("Default") {
		return c
	}
	a := c.findArg(name)
	if a == nil {
		c.in = append(c.in, arg{name: name})
		a = &c.in[len(c.in)-1]
	}
	a.def, a.hasDef = value, true
	return c
}

// Out declares output argument names.
func (c *Command) Out(names ...string) *Command {
	if c.ok("Out") {
		c.out = append(c.out, names...)
	}
	return c
}

func (c *Command) findArg(name string) *arg {
	for i := range c.in {
		if c.in[i].name == name {
			return &c.in[i]
		}
	}
	return nil
}
