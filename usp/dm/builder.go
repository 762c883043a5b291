package dm

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"brickyard/usp"
	"brickyard/usp/path"
)

// Builder declares a Schema. Paths are Supported-DM paths; a trailing
// "{i}." makes a table. Objects on the way are created as single-instance
// objects (or tables, where "{i}" follows them) when first named:
//
//	b := dm.NewBuilder(dm.Options{URI: "urn:broadband-forum-org:tr-181-2-19-0"})
//	di := b.Object("Device.DeviceInfo.")
//	di.String("Manufacturer").Default("ACME")
//	di.String("SoftwareVersion").Getter(func(c dm.Ctx) string { return c.Env.(*Dev).Version() })
//	di.String("BootFirmwareImage").Writable().Persistent().RefTo("Device.DeviceInfo.FirmwareImage.{i}.")
//	fw := di.Object("FirmwareImage.{i}.").Keys("Alias")
//	fw.String("Alias").WriteOnce().MaxLen(64)
//	fw.String("Status").Default("NoImage").Enum("NoImage", "Active", "Downloading", "Available")
//	fw.Command("Download()").Async(nil).Mandatory("URL").In("AutoActivate").Default("AutoActivate", "false")
//	b.Object("Device.").Command("Reboot()").Sync(reboot)
//	b.Object("Device.").Event("Boot!", "CommandKey", "Cause", "FirmwareUpdated", "ParameterMap")
//	b.Subscriptions("Device.LocalAgent.Subscription.{i}.")
//	b.Requests("Device.LocalAgent.Request.{i}.")
//	schema, err := b.Build()
//
// Mistakes (a bad path, a key naming no parameter, a type clash) are
// collected and returned by Build, so declarations chain without checks.
type Builder struct {
	s       *Schema
	errs    []error
	pending []func() // checks that need the whole schema, run by Build
}

// NewBuilder starts a schema with the given options.
func NewBuilder(opts Options) *Builder {
	return &Builder{s: &Schema{opts: opts.withDefaults()}}
}

func (b *Builder) errorf(format string, args ...any) {
	b.errs = append(b.errs, fmt.Errorf("dm schema: %s: %w", fmt.Sprintf(format, args...), usp.InvalidConfiguration))
}

// detached is returned on a bad declaration so that chained calls do not
// crash; it is not part of the schema, and Build fails anyway.
func (b *Builder) detached() *Object {
	return &Object{b: b, childBy: map[string]*Object{}, paramBy: map[string]*Param{},
		cmdBy: map[string]*Command{}, eventBy: map[string]*Event{}}
}

func (b *Builder) usable(what string) bool {
	if b.s.frozen {
		b.errorf("%s after Build", what)
		return false
	}
	return true
}

// Object declares (or returns the already declared) object at p, a
// Supported-DM object path such as "Device.DeviceInfo." or
// "Device.DeviceInfo.FirmwareImage.{i}.". A table's access defaults to
// ReadOnlyTable.
func (b *Builder) Object(p string) *Object {
	if !b.usable("Object " + p) {
		return b.detached()
	}
	sp, err := path.ParseSupported(p)
	if err != nil || sp.Kind() != path.Object {
		b.errorf("object path %q: %v", p, errOr(err, "not an object path"))
		return b.detached()
	}
	segs := sp.Segments()
	if segs[0].Kind() != path.SegName {
		b.errorf("object path %q must start with a name", p)
		return b.detached()
	}
	if b.s.root == nil {
		b.s.root = b.newObject(nil, segs[0].Name(), false)
	} else if segs[0].Name() != b.s.root.name {
		b.errorf("object path %q: the root is %s.", p, b.s.root.name)
		return b.detached()
	}
	o := b.s.root
	for i := 1; i < len(segs); i++ {
		if segs[i].Kind() != path.SegName {
			b.errorf("object path %q: {i} must follow a name", p)
			return b.detached()
		}
		name := segs[i].Name()
		table := i+1 < len(segs) && segs[i+1].Kind() == path.SegPlaceholder
		c := o.childBy[name]
		switch {
		case c == nil:
			if o.paramBy[name] != nil {
				b.errorf("object path %q: %s is a parameter of %s", p, name, o.path)
				return b.detached()
			}
			c = b.newObject(o, name, table)
		case c.table != table && (table || i+1 < len(segs)):
			b.errorf("object path %q: %s declared as table=%v before", p, c.path, c.table)
			return b.detached()
		}
		o = c
		if c.table && i+1 < len(segs) && segs[i+1].Kind() == path.SegPlaceholder {
			i++
		}
	}
	return o
}

func (b *Builder) newObject(parent *Object, name string, table bool) *Object {
	o := &Object{s: b.s, b: b, name: name, parent: parent, table: table,
		childBy: map[string]*Object{}, paramBy: map[string]*Param{},
		cmdBy: map[string]*Command{}, eventBy: map[string]*Event{}}
	if parent != nil {
		o.depth = parent.depth + 1
		o.segs = append(append([]oseg(nil), parent.segs...), oseg{name: name})
		o.ntables = parent.ntables
		parent.children = append(parent.children, o)
		parent.childBy[name] = o
	} else {
		o.depth = 1
		o.segs = []oseg{{name: name}}
	}
	if table {
		o.segs = append(o.segs, oseg{table: true})
		o.ntables++
	}
	var sb strings.Builder
	for _, s := range o.segs {
		if s.table {
			sb.WriteString("{i}.")
		} else {
			sb.WriteString(s.name)
			sb.WriteByte('.')
		}
	}
	o.path = sb.String()
	b.s.objects = append(b.s.objects, o)
	return o
}

func errOr(err error, s string) any {
	if err != nil {
		return err
	}
	return s
}

// Build checks the declarations, resolves keys and references and
// returns the immutable Schema. The Builder must not be used afterwards.
func (b *Builder) Build() (*Schema, error) {
	s := b.s
	if s.frozen {
		return nil, fmt.Errorf("dm schema: Build called twice: %w", usp.InvalidConfiguration)
	}
	if s.root == nil {
		b.errorf("no objects declared")
		return nil, errors.Join(b.errs...)
	}
	if len(s.params) > 1<<16-1 || len(s.objects) > 1<<16-1 {
		b.errorf("more than 65535 objects or parameters")
	}
	for i, o := range s.objects {
		o.id = uint16(i)
		b.finishObject(o)
		for _, c := range o.commands {
			c.id = uint16(s.ncmds)
			s.ncmds++
		}
		for _, e := range o.events {
			e.id = uint16(s.nevents)
			s.nevents++
		}
	}
	for i, p := range s.params {
		p.id = uint16(i)
		b.finishParam(p)
	}
	for _, f := range b.pending {
		f()
	}
	if len(b.errs) > 0 {
		return nil, errors.Join(b.errs...)
	}
	s.frozen = true
	return s, nil
}

func (b *Builder) finishObject(o *Object) {
	switch {
	case o.table || o.parent == nil:
		o.owner = o
	default:
		o.owner = o.parent.owner
	}
	if o.table {
		// A table's rows are kids of the rows of its parent's owner.
		own := o.parent.owner
		o.slot = len(own.subTables)
		own.subTables = append(own.subTables, o)
	}
	for _, names := range o.keyNames {
		var set []*Param
		for _, n := range names {
			p := o.paramBy[n]
			if p == nil {
				b.errorf("table %s: key %s is not a parameter of it", o.path, n)
				continue
			}
			set = append(set, p)
			if n == "Alias" {
				o.alias = p
				if p.access == ReadOnly {
					p.access = WriteOnceReadOnly
				}
				if p.maxLen == 0 {
					p.maxLen = 64
				}
			}
		}
		o.keys = append(o.keys, set)
	}
	if o.persistIf != "" {
		p := o.paramBy[o.persistIf]
		if p == nil || p.typ != path.Boolean {
			b.errorf("table %s: PersistIf %s is not a boolean parameter", o.path, o.persistIf)
		}
		o.persistVia = p
	}
	// The parameters in name order: a Get's result_params, encoded
	// deterministically, list them so (usp.ResolvedParams).
	o.byName = slices.Clone(o.params)
	slices.SortFunc(o.byName, func(a, b *Param) int { return strings.Compare(a.name, b.name) })
	// <Table>NumberOfEntries counters.
	for _, c := range o.children {
		if !c.table {
			continue
		}
		if p := o.paramBy[c.name+"NumberOfEntries"]; p != nil {
			p.count = c
			p.typ = path.UnsignedInt
			p.access = ReadOnly
		}
	}
}

func (b *Builder) finishParam(p *Param) {
	if p.refPath != "" {
		t := b.s.Object(p.refPath)
		if t == nil || !t.table {
			b.errorf("parameter %s: RefTo %s is not a table", p.Path(), p.refPath)
		}
		p.ref = t
	}
	if p.def != "" && p.count == nil && p.get == nil && p.tmpl == nil {
		if _, err := p.canon(p.def, 1<<30); err != nil {
			b.errorf("parameter %s: default %q: %v", p.Path(), p.def, err)
		}
	}
}

func validName(s string) bool {
	if s == "" {
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

func validType(t path.Type) bool {
	e := t.Elem()
	return e >= path.String && e <= path.Base64
}
