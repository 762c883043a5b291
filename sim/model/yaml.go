package model

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// MaxFileSize bounds a model file (any format) in bytes.
const MaxFileSize = 64 << 20

// Parse reads a vendor data-model file (YAML, docs/vendor-model.md):
//
//	model: acme-gw-7
//	objects:
//	  Device.WiFi.Radio.{i}.:
//	    instances: 2
//	    keys: [Alias]
//	    params:
//	      Alias: {type: string, access: writeOnce, max_len: 64}
//	      Name: {type: string, default: "wlan{i}"}
//	      Channel: {type: unsignedInt, access: readWrite, random: [1, 11], range: [1, 165]}
//	    commands:
//	      Scan(): {async: true, out: [Result], duration: 5s, output: {Result: done}}
//	    events:
//	      RadioReset!: [Reason]
//
// Errors name the line and wrap ErrModel.
func Parse(data []byte) (*Model, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrModel, len(data), MaxFileSize)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrModel, err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%w: the file is not a mapping with model: and objects:", ErrModel)
	}
	m := &Model{}
	top := doc.Content[0]
	if err := keysOf(top, "model", "objects"); err != nil {
		return nil, err
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		switch k.Value {
		case "model":
			if err := v.Decode(&m.Name); err != nil {
				return nil, lineErr(v, "model: %v", err)
			}
		case "objects":
			if v.Kind != yaml.MappingNode {
				return nil, lineErr(v, "objects: want a mapping of object paths")
			}
			if len(v.Content)/2 > MaxObjects {
				return nil, lineErr(v, "%d objects, at most %d", len(v.Content)/2, MaxObjects)
			}
			for j := 0; j+1 < len(v.Content); j += 2 {
				o, err := parseObject(v.Content[j], v.Content[j+1])
				if err != nil {
					return nil, err
				}
				m.Objects = append(m.Objects, o)
			}
		}
	}
	if err := m.Check(); err != nil {
		return nil, err
	}
	return m, nil
}

func lineErr(n *yaml.Node, format string, args ...any) error {
	return fmt.Errorf("%w: line %d: %s", ErrModel, n.Line, fmt.Sprintf(format, args...))
}

// keysOf checks that mapping n has only the given keys.
func keysOf(n *yaml.Node, allowed ...string) error {
	if n.Kind != yaml.MappingNode {
		return lineErr(n, "want a mapping")
	}
	for i := 0; i < len(n.Content); i += 2 {
		if k := n.Content[i].Value; !slices.Contains(allowed, k) {
			return lineErr(n.Content[i], "unknown key %q (known: %s)", k, strings.Join(allowed, ", "))
		}
	}
	return nil
}

type objectDoc struct {
	Access     string    `yaml:"access"`
	Keys       yaml.Node `yaml:"keys"`
	Instances  yaml.Node `yaml:"instances"`
	MaxEntries int       `yaml:"max_entries"`
	Persistent bool      `yaml:"persistent"`
	Params     yaml.Node `yaml:"params"`
	Commands   yaml.Node `yaml:"commands"`
	Events     yaml.Node `yaml:"events"`
}

func parseObject(k, v *yaml.Node) (*Object, error) {
	o := &Object{Path: k.Value}
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		return o, nil
	}
	if err := keysOf(v, "access", "keys", "instances", "max_entries", "persistent", "params", "commands", "events"); err != nil {
		return nil, err
	}
	var d objectDoc
	if err := v.Decode(&d); err != nil {
		return nil, lineErr(v, "object %s: %v", o.Path, err)
	}
	o.Access, o.MaxEntries, o.Persistent = d.Access, d.MaxEntries, d.Persistent
	// keys: [A, B] (one set per name) or [[A, B], [C]].
	if d.Keys.Kind == yaml.SequenceNode {
		for _, it := range d.Keys.Content {
			var set []string
			if it.Kind == yaml.SequenceNode {
				if err := it.Decode(&set); err != nil {
					return nil, lineErr(it, "keys: %v", err)
				}
			} else {
				set = []string{it.Value}
			}
			o.Keys = append(o.Keys, set)
		}
	} else if d.Keys.Kind != 0 {
		return nil, lineErr(&d.Keys, "keys: want a list")
	}
	// instances: N (rows 1..N) or [numbers].
	switch d.Instances.Kind {
	case 0:
	case yaml.ScalarNode:
		var n int
		if err := d.Instances.Decode(&n); err != nil || n < 0 || n > MaxInstances {
			return nil, lineErr(&d.Instances, "instances: want 0 to %d, or a list of instance numbers", MaxInstances)
		}
		for i := 1; i <= n; i++ {
			o.Instances = append(o.Instances, uint32(i))
		}
	case yaml.SequenceNode:
		if len(d.Instances.Content) > MaxInstances {
			return nil, lineErr(&d.Instances, "instances: at most %d", MaxInstances)
		}
		if err := d.Instances.Decode(&o.Instances); err != nil {
			return nil, lineErr(&d.Instances, "instances: %v", err)
		}
	default:
		return nil, lineErr(&d.Instances, "instances: want a number or a list")
	}
	if d.Params.Kind != 0 {
		if d.Params.Kind != yaml.MappingNode {
			return nil, lineErr(&d.Params, "params: want a mapping of names")
		}
		for i := 0; i+1 < len(d.Params.Content); i += 2 {
			p, err := parseParam(d.Params.Content[i], d.Params.Content[i+1])
			if err != nil {
				return nil, err
			}
			o.Params = append(o.Params, p)
		}
	}
	if d.Commands.Kind != 0 {
		if d.Commands.Kind != yaml.MappingNode {
			return nil, lineErr(&d.Commands, "commands: want a mapping of names")
		}
		for i := 0; i+1 < len(d.Commands.Content); i += 2 {
			c, err := parseCommand(d.Commands.Content[i], d.Commands.Content[i+1])
			if err != nil {
				return nil, err
			}
			o.Commands = append(o.Commands, c)
		}
	}
	if d.Events.Kind != 0 {
		if d.Events.Kind != yaml.MappingNode {
			return nil, lineErr(&d.Events, "events: want a mapping of names to argument lists")
		}
		for i := 0; i+1 < len(d.Events.Content); i += 2 {
			e := &Event{Name: d.Events.Content[i].Value}
			if a := d.Events.Content[i+1]; !(a.Kind == yaml.ScalarNode && a.Tag == "!!null") {
				if err := a.Decode(&e.Args); err != nil {
					return nil, lineErr(a, "event %s: %v", e.Name, err)
				}
			}
			o.Events = append(o.Events, e)
		}
	}
	return o, nil
}

type paramDoc struct {
	Type       string            `yaml:"type"`
	List       bool              `yaml:"list"`
	Access     string            `yaml:"access"`
	Default    *string           `yaml:"default"`
	Values     map[uint32]string `yaml:"values"`
	Random     []int64           `yaml:"random"`
	Choice     []string          `yaml:"choice"`
	Counter    []float64         `yaml:"counter"`
	Enum       []string          `yaml:"enum"`
	Range      []int64           `yaml:"range"`
	Min        *int64            `yaml:"min"`
	Max        *int64            `yaml:"max"`
	MaxLen     int               `yaml:"max_len"`
	Persistent bool              `yaml:"persistent"`
	Secret     bool              `yaml:"secret"`
	IgnoreVC   bool              `yaml:"ignore_value_change"`
}

func parseParam(k, v *yaml.Node) (*Param, error) {
	p := &Param{Name: k.Value}
	if v.Kind == yaml.ScalarNode { // the type alone
		p.Type = v.Value
		return p, nil
	}
	if err := keysOf(v, "type", "list", "access", "default", "values", "random", "choice", "counter", "enum", "range", "min", "max", "max_len", "persistent", "secret", "ignore_value_change"); err != nil {
		return nil, err
	}
	var d paramDoc
	if err := v.Decode(&d); err != nil {
		return nil, lineErr(v, "parameter %s: %v", p.Name, err)
	}
	p.Type, p.List, p.Access, p.Values, p.Random, p.Choice, p.Counter = d.Type, d.List, d.Access, d.Values, d.Random, d.Choice, d.Counter
	p.Enum, p.Min, p.Max, p.MaxLen, p.Persistent, p.Secret, p.IgnoreValueChange = d.Enum, d.Min, d.Max, d.MaxLen, d.Persistent, d.Secret, d.IgnoreVC
	if d.Default != nil {
		p.Default = *d.Default
	}
	if len(d.Range) > 0 {
		if len(d.Range) != 2 || d.Min != nil || d.Max != nil {
			return nil, lineErr(v, "parameter %s: range: want [min, max] (and no min:/max:)", p.Name)
		}
		p.Min, p.Max = &d.Range[0], &d.Range[1]
	}
	return p, nil
}

type commandDoc struct {
	Async     bool              `yaml:"async"`
	In        []string          `yaml:"in"`
	Mandatory []string          `yaml:"mandatory"`
	Out       []string          `yaml:"out"`
	Output    map[string]string `yaml:"output"`
	Duration  time.Duration     `yaml:"duration"`
}

func parseCommand(k, v *yaml.Node) (*Command, error) {
	c := &Command{Name: k.Value}
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		return c, nil
	}
	if err := keysOf(v, "async", "in", "mandatory", "out", "output", "duration"); err != nil {
		return nil, err
	}
	var d commandDoc
	if err := v.Decode(&d); err != nil {
		return nil, lineErr(v, "command %s: %v", c.Name, err)
	}
	c.Async, c.In, c.Mandatory, c.Out, c.Output, c.Duration = d.Async, d.In, d.Mandatory, d.Out, d.Output, d.Duration
	return c, nil
}

// Marshal writes the model in the form Parse reads.
func (m *Model) Marshal() ([]byte, error) {
	root := &yaml.Node{Kind: yaml.MappingNode}
	add := func(n *yaml.Node, k string, v *yaml.Node) {
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, v)
	}
	str := func(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: s, Style: quoteIf(s)} }
	plain := func(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: s} }
	seq := func(ss []string) *yaml.Node {
		n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for _, s := range ss {
			n.Content = append(n.Content, str(s))
		}
		return n
	}
	if m.Name != "" {
		add(root, "model", str(m.Name))
	}
	objs := &yaml.Node{Kind: yaml.MappingNode}
	for _, o := range m.Objects {
		on := &yaml.Node{Kind: yaml.MappingNode}
		if o.Access != "" {
			add(on, "access", str(o.Access))
		}
		if len(o.Keys) > 0 {
			kn := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
			for _, k := range o.Keys {
				kn.Content = append(kn.Content, seq(k))
			}
			add(on, "keys", kn)
		}
		if len(o.Instances) > 0 {
			ss := make([]string, len(o.Instances))
			for i, n := range o.Instances {
				ss[i] = fmt.Sprint(n)
			}
			in := seq(ss)
			for _, c := range in.Content {
				c.Style = 0
			}
			add(on, "instances", in)
		}
		if o.MaxEntries > 0 {
			add(on, "max_entries", plain(fmt.Sprint(o.MaxEntries)))
		}
		if o.Persistent {
			add(on, "persistent", plain("true"))
		}
		if len(o.Params) > 0 {
			ps := &yaml.Node{Kind: yaml.MappingNode}
			for _, p := range o.Params {
				ps.Content = append(ps.Content, str(p.Name), p.node(str, seq))
			}
			add(on, "params", ps)
		}
		if len(o.Commands) > 0 {
			cs := &yaml.Node{Kind: yaml.MappingNode}
			for _, c := range o.Commands {
				cn := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
				if c.Async {
					add(cn, "async", plain("true"))
				}
				if len(c.In) > 0 {
					add(cn, "in", seq(c.In))
				}
				if len(c.Mandatory) > 0 {
					add(cn, "mandatory", seq(c.Mandatory))
				}
				if len(c.Out) > 0 {
					add(cn, "out", seq(c.Out))
				}
				if len(c.Output) > 0 {
					out := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
					for _, k := range sortedKeys(c.Output) {
						add(out, k, str(c.Output[k]))
					}
					add(cn, "output", out)
				}
				if c.Duration > 0 {
					add(cn, "duration", str(c.Duration.String()))
				}
				cs.Content = append(cs.Content, str(c.Name), cn)
			}
			add(on, "commands", cs)
		}
		if len(o.Events) > 0 {
			es := &yaml.Node{Kind: yaml.MappingNode}
			for _, e := range o.Events {
				es.Content = append(es.Content, str(e.Name), seq(e.Args))
			}
			add(on, "events", es)
		}
		objs.Content = append(objs.Content, str(o.Path), on)
	}
	add(root, "objects", objs)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}

func (p *Param) node(str func(string) *yaml.Node, seq func([]string) *yaml.Node) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
	add := func(k string, v *yaml.Node) { n.Content = append(n.Content, str(k), v) }
	num := func(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: s} }
	add("type", str(p.Type))
	if p.List {
		add("list", num("true"))
	}
	if p.Access != "" && p.Access != "readOnly" {
		add("access", str(p.Access))
	}
	if p.Default != "" {
		add("default", &yaml.Node{Kind: yaml.ScalarNode, Value: p.Default, Style: yaml.DoubleQuotedStyle})
	}
	if len(p.Values) > 0 {
		vs := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
		keys := make([]uint32, 0, len(p.Values))
		for k := range p.Values {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			vs.Content = append(vs.Content, num(fmt.Sprint(k)), &yaml.Node{Kind: yaml.ScalarNode, Value: p.Values[k], Style: yaml.DoubleQuotedStyle})
		}
		add("values", vs)
	}
	if len(p.Random) == 2 {
		add("random", &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle, Content: []*yaml.Node{num(fmt.Sprint(p.Random[0])), num(fmt.Sprint(p.Random[1]))}})
	}
	if len(p.Choice) > 0 {
		add("choice", seq(p.Choice))
	}
	if len(p.Counter) == 2 {
		add("counter", &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle, Content: []*yaml.Node{num(fmt.Sprint(p.Counter[0])), num(fmt.Sprint(p.Counter[1]))}})
	}
	if len(p.Enum) > 0 {
		add("enum", seq(p.Enum))
	}
	if p.Min != nil {
		add("min", num(fmt.Sprint(*p.Min)))
	}
	if p.Max != nil {
		add("max", num(fmt.Sprint(*p.Max)))
	}
	if p.MaxLen > 0 {
		add("max_len", num(fmt.Sprint(p.MaxLen)))
	}
	if p.Persistent {
		add("persistent", num("true"))
	}
	if p.Secret {
		add("secret", num("true"))
	}
	if p.IgnoreValueChange && !p.IsCounter() {
		add("ignore_value_change", num("true"))
	}
	return n
}

// quoteIf double-quotes a string YAML would read as something else.
func quoteIf(s string) yaml.Style {
	var v any
	if err := yaml.Unmarshal([]byte(s), &v); err != nil || v == nil {
		return yaml.DoubleQuotedStyle
	}
	if got, ok := v.(string); !ok || got != s {
		return yaml.DoubleQuotedStyle
	}
	if strings.ContainsAny(s, "{}[],:#&*!|>'\"%@`") {
		return yaml.DoubleQuotedStyle
	}
	return 0
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
