package dm

import (
	"fmt"
	"strings"

	"brickyard/usp"
	"brickyard/usp/path"
)

// ACL control (TR-369 "Role Based ACL Control", TR-181
// Device.LocalAgent.ControllerTrust.): the permission strings and targets
// of a Role's Permission.{i} rows. This file holds the grammar; roles.go
// compiles a Controller's roles against the schema and access.go applies
// the result to each message.

// Perm is one permission string ("r-xn"): its letters as bits.
type Perm uint8

// The letters of a permission string, always in the order r w x n.
const (
	PermRead    Perm = 1 << iota // r
	PermWrite                    // w
	PermExecute                  // x
	PermNotify                   // n
)

// PermAll is "rwxn".
const PermAll = PermRead | PermWrite | PermExecute | PermNotify

// String writes the permission string, "r--n".
func (p Perm) String() string {
	b := []byte("----")
	for i, c := range "rwxn" {
		if p&(1<<i) != 0 {
			b[i] = byte(c)
		}
	}
	return string(b)
}

// ParsePerm reads a permission string: exactly four characters, each its
// letter or "-" in the order r, w, x, n ("rw-n"). Anything else —
// another length, a letter out of place, upper case — is an error
// wrapping usp.InvalidValue (7012), as a Set of a malformed string is
// answered.
func ParsePerm(s string) (Perm, error) {
	if len(s) != 4 {
		return 0, fmt.Errorf("permission %q: want 4 characters in the order rwxn (\"r--n\"): %w", trunc(s), usp.InvalidValue)
	}
	var p Perm
	for i, c := range []byte(s) {
		switch c {
		case "rwxn"[i]:
			p |= 1 << i
		case '-':
		default:
			return 0, fmt.Errorf("permission %q: character %d must be %q or '-': %w", s, i+1, "rwxn"[i], usp.InvalidValue)
		}
	}
	return p, nil
}

// Perms are the four permission strings of one Permission row, or what
// a Controller holds for one element: Param, Obj, InstantiatedObj,
// CommandEvent, each a Perm.
type Perms struct {
	Param, Obj, Inst, CmdEvent Perm
}

// pack stores Perms in 16 bits, one nibble each.
func (p Perms) pack() uint16 {
	return uint16(p.Param) | uint16(p.Obj)<<4 | uint16(p.Inst)<<8 | uint16(p.CmdEvent)<<12
}

func unpack(v uint16) Perms {
	return Perms{Param: Perm(v & 15), Obj: Perm(v >> 4 & 15), Inst: Perm(v >> 8 & 15), CmdEvent: Perm(v >> 12 & 15)}
}

// aclTarget is one path of a Permission row's Targets: an object path
// ("Device.LocalAgent.", "Device.WiFi.Radio.1.", "Device.WiFi.Radio.*.")
// covering everything below it, or the full path of a parameter, a
// command or an event ("Device.Reboot()").
type aclTarget struct {
	segs     []aclSeg
	kind     path.Kind
	leaf     string // the parameter, command or event name (commands with "()", events with "!")
	specific bool   // names an instance number
}

// aclSeg is a segment of a target: a name, or at a table's placeholder an
// instance number (num > 0) or "*" (num 0).
type aclSeg struct {
	name  string
	num   uint32
	isSel bool
}

// parseTargets reads a Targets value: a comma-separated list of paths
// with names, instance numbers and "*" only (no search expressions, no
// reference following, as obuspa). An empty item is skipped. A bad item
// is an error wrapping usp.InvalidValue (7012).
func parseTargets(v string) ([]aclTarget, error) {
	var out []aclTarget
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		t, err := parseTarget(item)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func parseTarget(s string) (aclTarget, error) {
	bad := func(why string) (aclTarget, error) {
		return aclTarget{}, fmt.Errorf("permission target %q: %s: %w", trunc(s), why, usp.InvalidValue)
	}
	p, err := path.Parse(s)
	if err != nil {
		return bad(err.Error())
	}
	t := aclTarget{kind: p.Kind()}
	n := p.Len()
	if t.kind != path.Object {
		n--
		t.leaf = p.Name()
		switch t.kind {
		case path.Command:
			t.leaf += "()"
		case path.Event:
			t.leaf += "!"
		}
	}
	for i := 0; i < n; i++ {
		seg := p.At(i)
		switch seg.Kind() {
		case path.SegName:
			t.segs = append(t.segs, aclSeg{name: seg.Name()})
		case path.SegInstance:
			if seg.Number() <= 0 {
				return bad("instance numbers start at 1")
			}
			t.segs = append(t.segs, aclSeg{num: uint32(seg.Number()), isSel: true})
			t.specific = true
		case path.SegWildcard:
			t.segs = append(t.segs, aclSeg{isSel: true})
		default:
			return bad("only names, instance numbers and * are allowed (no search expressions or reference following)")
		}
	}
	return t, nil
}

// element is a data-model element as permissions see it: the segments of
// its path (an object's segs, a table without its trailing placeholder
// for the table itself), and for a parameter, command or event its kind
// and name.
type element struct {
	segs []oseg
	kind path.Kind
	leaf string
}

// covers reports whether t covers element e. An object target covers
// everything at or below it; a leaf target only that leaf. An instance
// number in t must equal e's at that place in nums (the instance numbers
// along e's path, outermost first); with nums nil (any instance) a target
// naming an instance number covers only when anyNum is set: some
// instance of e is covered.
func (t *aclTarget) covers(e element, nums []uint32, anyNum bool) bool {
	if t.kind == path.Object {
		if len(t.segs) > len(e.segs) {
			return false
		}
	} else if t.kind != e.kind || t.leaf != e.leaf || len(t.segs) != len(e.segs) {
		return false
	}
	j := 0 // index into nums
	for i, ts := range t.segs {
		es := e.segs[i]
		if es.table != ts.isSel {
			return false
		}
		if !es.table {
			if es.name != ts.name {
				return false
			}
			continue
		}
		if ts.num != 0 && !anyNum {
			if j >= len(nums) || nums[j] != ts.num {
				return false
			}
		}
		j++
	}
	return true
}
