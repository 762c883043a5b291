package model

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// A template is a value with placeholders, made per device:
//
//	{serial}    the device's serial number       {serial:N} its last N characters
//	{eid}       its Endpoint ID                  {oui}      its ManufacturerOUI
//	{model}     its ModelName                    {class}    its ProductClass
//	{mac}       its Ethernet MAC address         {hex:N}    N hex digits drawn from its seed
//	{i}         the innermost instance number    {i:K}      the K-th instance number from the outside (1-based)
//	{{ and }}   a literal brace
//
// Anything else between braces, a brace left open, or a count out of
// 1..64 is an error when the model is loaded.

// Env is what a template reads of the device it is rendered for.
type Env interface {
	Serial() string
	EndpointID() string
	OUI() string
	ModelName() string
	ProductClass() string
	MAC() string
	Seed() uint64
}

// Template is a compiled template. The zero Template renders "".
type Template struct {
	segs []seg
	lit  string // the whole value when it has no placeholder
}

// source is the template as written, for errors.
func (t Template) source() string {
	if t.segs == nil {
		return strconv.Quote(t.lit)
	}
	var b strings.Builder
	for _, s := range t.segs {
		switch s.kind {
		case sLit:
			b.WriteString(escape(s.lit))
		case sSerial:
			b.WriteString("{serial}")
		case sSerialTail:
			fmt.Fprintf(&b, "{serial:%d}", s.n)
		case sEID:
			b.WriteString("{eid}")
		case sOUI:
			b.WriteString("{oui}")
		case sModel:
			b.WriteString("{model}")
		case sClass:
			b.WriteString("{class}")
		case sMAC:
			b.WriteString("{mac}")
		case sHex:
			fmt.Fprintf(&b, "{hex:%d}", s.n)
		case sInst:
			b.WriteString("{i}")
		case sInstAt:
			fmt.Fprintf(&b, "{i:%d}", s.n)
		}
	}
	return strconv.Quote(b.String())
}

type segKind uint8

const (
	sLit segKind = iota
	sSerial
	sSerialTail
	sEID
	sOUI
	sModel
	sClass
	sMAC
	sHex
	sInst
	sInstAt
)

type seg struct {
	kind segKind
	n    int
	lit  string
}

// ErrTemplate is wrapped by every template error.
var ErrTemplate = errors.New("bad template")

// MaxTemplateLen bounds a template's length in bytes.
const MaxTemplateLen = 4096

// Compile parses a template.
func Compile(s string) (Template, error) {
	if len(s) > MaxTemplateLen {
		return Template{}, fmt.Errorf("%w: %d bytes, at most %d", ErrTemplate, len(s), MaxTemplateLen)
	}
	if !strings.ContainsAny(s, "{}") {
		return Template{lit: s}, nil
	}
	var t Template
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.segs = append(t.segs, seg{kind: sLit, lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '{' && i+1 < len(s) && s[i+1] == '{':
			lit.WriteByte('{')
			i++
		case c == '}' && i+1 < len(s) && s[i+1] == '}':
			lit.WriteByte('}')
			i++
		case c == '}':
			return Template{}, fmt.Errorf("%w %q: a lone } (write }} for a brace)", ErrTemplate, s)
		case c == '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return Template{}, fmt.Errorf("%w %q: { is not closed", ErrTemplate, s)
			}
			sg, err := placeholder(s[i+1 : i+end])
			if err != nil {
				return Template{}, fmt.Errorf("%w %q: %v", ErrTemplate, s, err)
			}
			flush()
			t.segs = append(t.segs, sg)
			i += end
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	if len(t.segs) == 1 && t.segs[0].kind == sLit {
		return Template{lit: t.segs[0].lit}, nil
	}
	return t, nil
}

func placeholder(p string) (seg, error) {
	name, arg, hasArg := strings.Cut(p, ":")
	n := 0
	if hasArg {
		v, err := strconv.Atoi(arg)
		if err != nil || v < 1 || v > 64 {
			return seg{}, fmt.Errorf("{%s}: the count must be 1 to 64", p)
		}
		n = v
	}
	simple := map[string]segKind{"eid": sEID, "oui": sOUI, "model": sModel, "class": sClass, "mac": sMAC}
	switch {
	case name == "serial" && !hasArg:
		return seg{kind: sSerial}, nil
	case name == "serial":
		return seg{kind: sSerialTail, n: n}, nil
	case name == "hex" && hasArg:
		return seg{kind: sHex, n: n}, nil
	case name == "i" && !hasArg:
		return seg{kind: sInst}, nil
	case name == "i":
		return seg{kind: sInstAt, n: n}, nil
	case !hasArg && simple[name] != 0:
		return seg{kind: simple[name]}, nil
	}
	return seg{}, fmt.Errorf("unknown placeholder {%s} (known: serial, serial:N, eid, oui, model, class, mac, hex:N, i, i:K)", p)
}

// Static reports whether the template has no placeholder, and its value.
func (t Template) Static() (string, bool) { return t.lit, t.segs == nil }

// UsesInstance reports whether the template names an instance number.
func (t Template) UsesInstance() bool {
	for _, s := range t.segs {
		if s.kind == sInst || s.kind == sInstAt {
			return true
		}
	}
	return false
}

// Render makes the template's value for a device; nums are the instance
// numbers along the object's path, outermost first; salt varies {hex:N}
// between parameters.
func (t Template) Render(env Env, nums []uint32, salt uint64) string {
	if t.segs == nil {
		return t.lit
	}
	var b strings.Builder
	for _, s := range t.segs {
		switch s.kind {
		case sLit:
			b.WriteString(s.lit)
		case sSerial:
			b.WriteString(env.Serial())
		case sSerialTail:
			v := env.Serial()
			b.WriteString(v[max(0, len(v)-s.n):])
		case sEID:
			b.WriteString(env.EndpointID())
		case sOUI:
			b.WriteString(env.OUI())
		case sModel:
			b.WriteString(env.ModelName())
		case sClass:
			b.WriteString(env.ProductClass())
		case sMAC:
			b.WriteString(env.MAC())
		case sHex:
			h := mix(env.Seed() ^ salt)
			for i := 0; i < s.n; i++ {
				if i%16 == 0 && i > 0 {
					h = mix(h)
				}
				b.WriteByte("0123456789ABCDEF"[(h>>(4*(i%16)))&0xf])
			}
		case sInst:
			if len(nums) > 0 {
				b.WriteString(strconv.FormatUint(uint64(nums[len(nums)-1]), 10))
			}
		case sInstAt:
			if s.n <= len(nums) {
				b.WriteString(strconv.FormatUint(uint64(nums[s.n-1]), 10))
			}
		}
	}
	return b.String()
}

// mix is SplitMix64's finalizer.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// escape makes a literal value a template that renders it.
func escape(v string) string {
	if !strings.ContainsAny(v, "{}") {
		return v
	}
	return strings.NewReplacer("{", "{{", "}", "}}").Replace(v)
}
