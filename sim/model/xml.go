package model

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ImportXML makes a model of the Broadband Forum's data-model definition
// XML (cwmp-datamodel, the TR-181 files): the objects of its model
// elements, with their parameters (the syntax's type, list, size,
// ranges, enumerations and default), commands with their input and
// output arguments, events, unique keys and table access. Components
// defined in the file are expanded where a model or object names them
// (<component ref=… path=…>); an object with base= extends one defined
// before. Data types are the file's <dataType> definitions and TR-106's
// named types (Alias, IPAddress, MACAddress, StatsCounter64, …); any
// other is an error. Items of status deleted or obsoleted are skipped.
//
// Only the objects under one of the prefixes are imported (all when
// there is none): a fleet presents the part of TR-181 it names. Each
// table gets max(minEntries, instances) factory rows. base, as for
// ImportDump, leaves out what the default model has.
func ImportXML(data []byte, prefixes []string, instances int, base Base) (*Model, []string, error) {
	if len(data) > MaxFileSize {
		return nil, nil, fmt.Errorf("%w: %d bytes, at most %d", ErrModel, len(data), MaxFileSize)
	}
	if instances < 0 || instances > MaxInstances {
		return nil, nil, fmt.Errorf("%w: instances %d: want 0 to %d", ErrModel, instances, MaxInstances)
	}
	var doc xDoc
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	if err := dec.Decode(&doc); err != nil {
		return nil, nil, fmt.Errorf("%w: XML: %v", ErrModel, err)
	}
	if doc.XMLName.Local != "document" {
		return nil, nil, fmt.Errorf("%w: XML: the root element is <%s>, not a data-model <document>", ErrModel, doc.XMLName.Local)
	}
	if base == nil {
		base = func(string) bool { return false }
	}
	x := &xmlImport{doc: &doc, comps: map[string]*xComponent{}, types: map[string]*xDataType{}, objs: map[string]*xObject{}}
	for i := range doc.Components {
		x.comps[doc.Components[i].Name] = &doc.Components[i]
	}
	for i := range doc.DataTypes {
		x.types[doc.DataTypes[i].Name] = &doc.DataTypes[i]
	}
	if len(doc.Models) == 0 {
		return nil, nil, fmt.Errorf("%w: XML: no <model>", ErrModel)
	}
	for _, mdl := range doc.Models {
		if err := x.collect(mdl.Objects, mdl.Components, "", 0); err != nil {
			return nil, nil, err
		}
	}
	m := &Model{Name: doc.Models[len(doc.Models)-1].Name}
	for _, name := range x.order {
		xo := x.objs[name]
		if len(prefixes) > 0 && !slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(name, p) }) {
			continue
		}
		o, err := x.object(name, xo, instances, base)
		if err != nil {
			return nil, x.notes, err
		}
		if o != nil {
			m.Objects = append(m.Objects, o)
		}
	}
	if len(m.Objects) == 0 {
		return nil, x.notes, fmt.Errorf("%w: XML: no object under %s", ErrModel, strings.Join(prefixes, ", "))
	}
	if err := m.Check(); err != nil {
		return nil, x.notes, err
	}
	return m, x.notes, nil
}

type xDoc struct {
	XMLName    xml.Name
	DataTypes  []xDataType  `xml:"dataType"`
	Components []xComponent `xml:"component"`
	Models     []xModel     `xml:"model"`
}

type xModel struct {
	Name       string     `xml:"name,attr"`
	Objects    []*xObject `xml:"object"`
	Components []xRef     `xml:"component"`
}

type xComponent struct {
	Name       string     `xml:"name,attr"`
	Objects    []*xObject `xml:"object"`
	Params     []xParam   `xml:"parameter"`
	Commands   []xCommand `xml:"command"`
	Events     []xEvent   `xml:"event"`
	Components []xRef     `xml:"component"`
}

type xRef struct {
	Ref  string `xml:"ref,attr"`
	Path string `xml:"path,attr"`
}

type xObject struct {
	Name       string       `xml:"name,attr"`
	Base       string       `xml:"base,attr"`
	Access     string       `xml:"access,attr"`
	MinEntries string       `xml:"minEntries,attr"`
	MaxEntries string       `xml:"maxEntries,attr"`
	Status     string       `xml:"status,attr"`
	Params     []xParam     `xml:"parameter"`
	Commands   []xCommand   `xml:"command"`
	Events     []xEvent     `xml:"event"`
	UniqueKeys []xUniqueKey `xml:"uniqueKey"`
	Components []xRef       `xml:"component"`
}

type xUniqueKey struct {
	Params []struct {
		Ref string `xml:"ref,attr"`
	} `xml:"parameter"`
}

type xParam struct {
	Name      string  `xml:"name,attr"`
	Base      string  `xml:"base,attr"`
	Access    string  `xml:"access,attr"`
	Status    string  `xml:"status,attr"`
	Mandatory string  `xml:"mandatory,attr"`
	Syntax    xSyntax `xml:"syntax"`
}

type xCommand struct {
	Name   string `xml:"name,attr"`
	Async  string `xml:"async,attr"`
	Status string `xml:"status,attr"`
	Input  xArgs  `xml:"input"`
	Output xArgs  `xml:"output"`
}

type xArgs struct {
	Params  []xParam `xml:"parameter"`
	Objects []struct {
		Name   string   `xml:"name,attr"`
		Params []xParam `xml:"parameter"`
	} `xml:"object"`
}

type xEvent struct {
	Name   string   `xml:"name,attr"`
	Status string   `xml:"status,attr"`
	Params []xParam `xml:"parameter"`
	Objs   []struct {
		Name   string   `xml:"name,attr"`
		Params []xParam `xml:"parameter"`
	} `xml:"object"`
}

type xDataType struct {
	Name   string    `xml:"name,attr"`
	Base   string    `xml:"base,attr"`
	xTypes           // the syntax of a dataType is its children
	List   *struct{} `xml:"list"`
}

// xTypes are the type elements of a syntax.
type xTypes struct {
	String       *xFacets `xml:"string"`
	Boolean      *xFacets `xml:"boolean"`
	Int          *xFacets `xml:"int"`
	UnsignedInt  *xFacets `xml:"unsignedInt"`
	Long         *xFacets `xml:"long"`
	UnsignedLong *xFacets `xml:"unsignedLong"`
	Decimal      *xFacets `xml:"decimal"`
	DateTime     *xFacets `xml:"dateTime"`
	HexBinary    *xFacets `xml:"hexBinary"`
	Base64       *xFacets `xml:"base64"`
	DataType     *xFacets `xml:"dataType"`
}

type xSyntax struct {
	xTypes
	List    *struct{} `xml:"list"`
	Default *struct {
		Type  string `xml:"type,attr"`
		Value string `xml:"value,attr"`
	} `xml:"default"`
}

type xFacets struct {
	Ref   string `xml:"ref,attr"`
	Base  string `xml:"base,attr"` // a parameter's own type derived from a named one: <dataType base="TenthdB">
	Sizes []struct {
		MaxLength string `xml:"maxLength,attr"`
	} `xml:"size"`
	Ranges []struct {
		Min string `xml:"minInclusive,attr"`
		Max string `xml:"maxInclusive,attr"`
	} `xml:"range"`
	Enums []struct {
		Value string `xml:"value,attr"`
	} `xml:"enumeration"`
}

type xmlImport struct {
	doc   *xDoc
	comps map[string]*xComponent
	types map[string]*xDataType
	objs  map[string]*xObject // full path → merged object
	order []string
	notes []string
}

// collect gathers the objects of a model or component, at prefix.
func (x *xmlImport) collect(objs []*xObject, refs []xRef, prefix string, depth int) error {
	if depth > 16 {
		return fmt.Errorf("%w: XML: components nest deeper than 16 (a loop?)", ErrModel)
	}
	for _, o := range objs {
		if o.Status == "deleted" || o.Status == "obsoleted" {
			continue
		}
		name := o.Name
		if name == "" {
			name = o.Base
		}
		if name == "" {
			return fmt.Errorf("%w: XML: an <object> without name or base", ErrModel)
		}
		full := prefix + name
		// Components named inside the object add their parameters.
		merged := *o
		for _, r := range o.Components {
			c := x.comps[r.Ref]
			if c == nil {
				return fmt.Errorf("%w: XML: object %s names component %q, which the file does not define", ErrModel, full, r.Ref)
			}
			merged.Params = append(merged.Params, c.Params...)
			merged.Commands = append(merged.Commands, c.Commands...)
			merged.Events = append(merged.Events, c.Events...)
			if err := x.collect(c.Objects, c.Components, full, depth+1); err != nil {
				return err
			}
		}
		if prev := x.objs[full]; prev != nil {
			if o.Base == "" {
				return fmt.Errorf("%w: XML: object %s is defined twice", ErrModel, full)
			}
			prev.Params = append(prev.Params, merged.Params...)
			prev.Commands = append(prev.Commands, merged.Commands...)
			prev.Events = append(prev.Events, merged.Events...)
			prev.UniqueKeys = append(prev.UniqueKeys, merged.UniqueKeys...)
			continue
		}
		if o.Base != "" && o.Name == "" {
			x.notes = append(x.notes, fmt.Sprintf("object %s extends an object this file does not define: taken as new", full))
		}
		x.objs[full] = &merged
		x.order = append(x.order, full)
	}
	for _, r := range refs {
		c := x.comps[r.Ref]
		if c == nil {
			return fmt.Errorf("%w: XML: component %q is not defined in the file", ErrModel, r.Ref)
		}
		if err := x.collect(c.Objects, c.Components, prefix+r.Path, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// object converts one collected object.
func (x *xmlImport) object(path string, xo *xObject, instances int, base Base) (*Object, error) {
	inBase := base(path)
	o := &Object{Path: path}
	table := strings.HasSuffix(path, "{i}.")
	if table && !inBase {
		switch xo.Access {
		case "readWrite":
			o.Access = "addDelete"
		}
		for _, k := range xo.UniqueKeys {
			var set []string
			for _, p := range k.Params {
				set = append(set, p.Ref)
			}
			if len(set) > 0 {
				o.Keys = append(o.Keys, set)
			}
		}
		n := instances
		if v, err := strconv.Atoi(xo.MinEntries); err == nil && v > n {
			n = v
		}
		if v, err := strconv.Atoi(xo.MaxEntries); err == nil && v > 0 {
			n = min(n, v)
			o.MaxEntries = min(v, MaxInstances)
		}
		for i := 1; i <= min(n, MaxInstances); i++ {
			o.Instances = append(o.Instances, uint32(i))
		}
	}
	seen := map[string]bool{}
	for _, xp := range xo.Params {
		if xp.Status == "deleted" || xp.Status == "obsoleted" || seen[xp.Name] {
			continue
		}
		name := xp.Name
		if name == "" {
			name = xp.Base
		}
		seen[name] = true
		if base(path + name) {
			continue
		}
		p, err := x.param(path, name, xp)
		if err != nil {
			return nil, err
		}
		o.Params = append(o.Params, p)
	}
	for _, xc := range xo.Commands {
		if xc.Status == "deleted" || xc.Status == "obsoleted" || base(path+xc.Name) {
			continue
		}
		c := &Command{Name: xc.Name, Async: xc.Async == "true"}
		args := func(a xArgs, mandatoryToo bool) (in, mand []string) {
			add := func(name, m string) {
				if mandatoryToo && m == "true" {
					mand = append(mand, name)
				} else {
					in = append(in, name)
				}
			}
			for _, p := range a.Params {
				add(p.Name, p.Mandatory)
			}
			for _, ob := range a.Objects {
				for _, p := range ob.Params {
					add(ob.Name+p.Name, p.Mandatory)
				}
			}
			return in, mand
		}
		c.In, c.Mandatory = args(xc.Input, true)
		c.Out, _ = args(xc.Output, false)
		o.Commands = append(o.Commands, c)
	}
	for _, xe := range xo.Events {
		if xe.Status == "deleted" || xe.Status == "obsoleted" || base(path+xe.Name) {
			continue
		}
		e := &Event{Name: xe.Name}
		for _, p := range xe.Params {
			e.Args = append(e.Args, p.Name)
		}
		for _, ob := range xe.Objs {
			for _, p := range ob.Params {
				e.Args = append(e.Args, ob.Name+p.Name)
			}
		}
		o.Events = append(o.Events, e)
	}
	// Keys naming a parameter left out (the default model's) are dropped.
	o.Keys = slices.DeleteFunc(o.Keys, func(ks []string) bool {
		for _, k := range ks {
			if o.param(k) == nil {
				return true
			}
		}
		return false
	})
	// Keys with the same default in every factory row cannot hold.
	for i := 0; i < len(o.Keys); {
		ks := o.Keys[i]
		if len(o.Instances) > 1 && len(ks) == 1 && ks[0] != "Alias" {
			if p := o.param(ks[0]); p != nil && !strings.Contains(p.Default, "{i") && len(p.Values) == 0 {
				last := int64(slices.Max(o.Instances))
				integer := p.Type == "int" || p.Type == "unsignedInt" || p.Type == "long" || p.Type == "unsignedLong"
				switch {
				case len(p.Enum) >= len(o.Instances) && !p.List:
					// One value of the enumeration per factory row.
					p.Values = map[uint32]string{}
					for j, n := range o.Instances {
						p.Values[n] = escape(p.Enum[j])
					}
				case p.Type == "string" && len(p.Enum) == 0 && !p.List:
					if p.Default == "" {
						p.Default = "{i}"
					} else {
						p.Default += "-{i}"
					}
				case integer && !p.List && p.Default == "" && (p.Min == nil || *p.Min <= 1) && (p.Max == nil || *p.Max >= last):
					p.Default = "{i}"
				default:
					o.Keys = slices.Delete(o.Keys, i, i+1)
					x.notes = append(x.notes, fmt.Sprintf("%s: unique key %s left out: one value for %d factory rows", path, ks[0], len(o.Instances)))
					continue
				}
			}
		}
		i++
	}
	if inBase && len(o.Params) == 0 && len(o.Commands) == 0 && len(o.Events) == 0 {
		return nil, nil
	}
	return o, nil
}

// builtin are TR-106's named data types: base type, list, max length.
var builtin = map[string]struct {
	typ    string
	list   bool
	maxLen int
}{
	"Alias": {"string", false, 64}, "Dbm1000": {"int", false, 0}, "DiagnosticsState": {"string", false, 0},
	"IEEE_EUI64": {"string", false, 23}, "IPAddress": {"string", false, 45}, "IPPrefix": {"string", false, 49},
	"IPv4Address": {"string", false, 15}, "IPv4Prefix": {"string", false, 18}, "IPv6Address": {"string", false, 45},
	"IPv6Prefix": {"string", false, 49}, "JSONObject": {"string", false, 0}, "MACAddress": {"string", false, 17},
	"StatsCounter32": {"unsignedInt", false, 0}, "StatsCounter64": {"unsignedLong", false, 0}, "URI": {"string", false, 2048},
	"URL": {"string", false, 2048}, "UUID": {"string", false, 36}, "ZigBeeNetworkAddress": {"string", false, 4},
	"Order": {"unsignedInt", false, 0}, "PSDBreakPointIndexAndLevel": {"unsignedInt", true, 0}, "PSMBreakPointIndexAndLevel": {"unsignedInt", true, 0},
	"SELTPAttenuationCharacteristicsIndexAndTFlog": {"unsignedInt", true, 0}, "Dbm1000List": {"int", true, 0},
}

// param converts one parameter's syntax.
func (x *xmlImport) param(obj, name string, xp xParam) (*Param, error) {
	p := &Param{Name: name}
	switch xp.Access {
	case "readWrite":
		p.Access = "readWrite"
	case "writeOnceReadOnly":
		p.Access = "writeOnce"
	}
	s := xp.Syntax
	p.List = s.List != nil
	if err := x.typeOf(p, s.xTypes, 0); err != nil {
		return nil, fmt.Errorf("%w: XML: parameter %s%s: %v", ErrModel, obj, name, err)
	}
	if name == "Alias" && p.Access == "" {
		p.Access = "writeOnce"
	}
	if d := s.Default; d != nil && (d.Type == "object" || d.Type == "factory" || d.Type == "") {
		v := d.Value
		if p.List {
			v = strings.Trim(v, "[]")
		}
		if err := p.checkLiteral(v); err == nil {
			p.Default = escape(v)
		} else {
			x.notes = append(x.notes, fmt.Sprintf("%s%s: default %q left out: %v", obj, name, d.Value, err))
		}
	}
	return p, nil
}

// typeOf fills p's type and facets from a syntax's type element.
func (x *xmlImport) typeOf(p *Param, t xTypes, depth int) error {
	if depth > 8 {
		return fmt.Errorf("data types nest deeper than 8")
	}
	type cand struct {
		name string
		f    *xFacets
	}
	for _, c := range []cand{{"string", t.String}, {"boolean", t.Boolean}, {"int", t.Int}, {"unsignedInt", t.UnsignedInt},
		{"long", t.Long}, {"unsignedLong", t.UnsignedLong}, {"decimal", t.Decimal}, {"dateTime", t.DateTime},
		{"hexBinary", t.HexBinary}, {"base64", t.Base64}} {
		if c.f == nil {
			continue
		}
		p.Type = c.name
		x.facets(p, c.f)
		return nil
	}
	if t.DataType != nil {
		ref := t.DataType.Ref
		if ref == "" {
			ref = t.DataType.Base
		}
		if dt := x.types[ref]; dt != nil {
			if dt.List != nil {
				p.List = true
			}
			err := x.typeOf(p, dt.xTypes, depth+1)
			if err != nil && dt.Base != "" {
				err = x.typeOf(p, xTypes{DataType: &xFacets{Ref: dt.Base}}, depth+1)
			}
			if err == nil {
				x.facets(p, t.DataType)
			}
			return err
		}
		if b, ok := builtin[ref]; ok {
			p.Type = b.typ
			p.List = p.List || b.list
			if b.maxLen > 0 && p.MaxLen == 0 {
				p.MaxLen = b.maxLen
			}
			x.facets(p, t.DataType)
			return nil
		}
		return fmt.Errorf("data type %q: not defined in the file and not a TR-106 type brickyard knows", ref)
	}
	return fmt.Errorf("no type in its syntax")
}

func (x *xmlImport) facets(p *Param, f *xFacets) {
	for _, s := range f.Sizes {
		if n, err := strconv.Atoi(s.MaxLength); err == nil && n > 0 && (p.MaxLen == 0 || n < p.MaxLen) {
			p.MaxLen = min(n, 1<<20)
		}
	}
	// Several ranges (VNI: -1, or 0..16777215): their span, which holds
	// every value any of them allows; a range open at one end opens the span.
	var lo, hi *int64
	openLo, openHi := false, false
	for _, r := range f.Ranges {
		if v, err := strconv.ParseInt(r.Min, 10, 64); err == nil {
			if lo == nil || v < *lo {
				lo = &v
			}
		} else {
			openLo = true
		}
		if v, err := strconv.ParseInt(r.Max, 10, 64); err == nil {
			if hi == nil || v > *hi {
				hi = &v
			}
		} else {
			openHi = true
		}
	}
	if len(f.Ranges) > 0 {
		p.Min, p.Max = lo, hi
		if openLo {
			p.Min = nil
		}
		if openHi {
			p.Max = nil
		}
	}
	for _, e := range f.Enums {
		p.Enum = append(p.Enum, e.Value)
	}
}
