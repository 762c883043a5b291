package dm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"brickyard/usp"
	"brickyard/usp/path"
	pb "brickyard/usp/uspmsg"
)

// Snapshot format, version 1. Everything is varint-framed (Go's
// encoding/binary Uvarint/Varint); a string is its byte length then its
// bytes. Names are relative and the reader skips what its schema does not
// know, so a snapshot survives a schema that gained or lost elements.
//
//	snapshot := "BYDM" 0x01 uvarint(notifySeq) row(root) uvarint(n) pending*n
//	row      := uvarint(n) (string(param) string(value))*n      stored values
//	            uvarint(n) (string(table) uvarint(next))*n       instance counters
//	            uvarint(n) (string(table) uvarint(num) row)*n    child rows
//	pending  := string(to) string(controller) string(subscription row path)
//	            varint(expires, Unix ns) string(Notify Msg, protobuf)
//
// param and table names are relative to the row's own table (the root
// row: to the root object): "DeviceInfo.BootFirmwareImage",
// "LocalAgent.Subscription"; "Alias" in a Subscription row.
//
// What is kept ("on flash"): values of parameters declared Persistent;
// rows of tables declared Persistent, or whose PersistIf parameter is true
// (a Subscription with Persistent=true), with all their stored values and
// their persistent sub-rows; every instance counter of the kept rows, so
// numbers are never reused; the msg_id counter; and the Notify messages
// still awaiting a NotifyResp for a kept subscription with a non-zero
// NotifExpiration. Not kept: other rows (the Request table's in
// particular), computed values, asynchronous jobs, retry counts.

const snapMagic = "BYDM\x01"

// Snapshot returns the model's persistent state as compact bytes, for the
// device to keep on its emulated flash and give back to Restore at boot.
func (m *Model) Snapshot() []byte {
	b := []byte(snapMagic)
	b = binary.AppendUvarint(b, m.seq)
	b = m.snapRow(b, m.root)
	var keep []*pending
	for _, p := range m.pend {
		if p.sub != nil && !p.expires.IsZero() && m.alive(p.sub) && m.rowKept(p.sub) {
			keep = append(keep, p)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(keep)))
	for _, p := range keep {
		b = appendString(b, p.to)
		b = appendString(b, p.ctrl)
		b = appendString(b, objPath(p.sub.obj, p.sub))
		b = binary.AppendVarint(b, p.expires.UnixNano())
		b = appendString(b, p.raw)
	}
	return b
}

// rowKept reports whether r and all rows above it are persistent.
func (m *Model) rowKept(r *row) bool {
	for ; r != nil && r.parent != nil; r = r.parent {
		if !m.rowPersistent(r) {
			return false
		}
	}
	return true
}

func (m *Model) rowPersistent(r *row) bool {
	t := r.obj
	return t.persist || (t.persistVia != nil && m.read(t.persistVia, r, time.Time{}) == "true")
}

func (m *Model) snapRow(b []byte, r *row) []byte {
	all := r != m.root
	n := 0
	for vs := r.vals; vs != ""; {
		var id uint16
		id, _, vs = nextVal(vs)
		if all || m.s.params[id].persist {
			n++
		}
	}
	b = binary.AppendUvarint(b, uint64(n))
	for vs := r.vals; vs != ""; {
		var id uint16
		var v string
		id, v, vs = nextVal(vs)
		if p := m.s.params[id]; all || p.persist {
			b = appendString(b, relName(r.obj, p))
			b = appendString(b, v)
		}
	}
	var next []uint32
	if r.tabs != nil {
		next = r.tabs.next
	}
	n = 0
	for _, v := range next {
		if v > 0 {
			n++
		}
	}
	b = binary.AppendUvarint(b, uint64(n))
	for i, v := range next {
		if v > 0 {
			b = appendString(b, relObj(r.obj, r.obj.subTables[i]))
			b = binary.AppendUvarint(b, uint64(v))
		}
	}
	var kids []*row
	for _, k := range r.kids() {
		if m.rowPersistent(k) {
			kids = append(kids, k)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(kids)))
	for _, k := range kids {
		b = appendString(b, relObj(r.obj, k.obj))
		b = binary.AppendUvarint(b, uint64(k.num))
		b = m.snapRow(b, k)
	}
	return b
}

// relObj is the path of table t relative to the object o whose rows hold
// t's rows: "DeviceInfo.FirmwareImage".
func relObj(o, t *Object) string {
	var parts []string
	for x := t; x != nil && x != o; x = x.parent {
		parts = append(parts, x.name)
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, ".")
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Restore replaces the model's state with a Snapshot, as at boot: rows and
// values not in it are gone (non-persistent subscriptions, Request rows),
// no job runs, and the kept notifications are due again at now with
// their retry counts reset (R-NOT.4). Subscriptions whose TimeToLive has
// passed are deleted by the next Tick. On a malformed snapshot Restore
// changes nothing and returns an error wrapping usp.InvalidArguments.
func (m *Model) Restore(data []byte, now time.Time) error {
	d := &decoder{b: data}
	if !strings.HasPrefix(string(data), snapMagic) {
		return fmt.Errorf("dm: not a version-1 snapshot: %w", usp.InvalidArguments)
	}
	d.b = d.b[len(snapMagic):]
	seq := d.uvarint()
	root := &row{obj: m.s.root}
	m.loadRow(d, root, 0)
	n := d.uvarint()
	type pend struct {
		to, ctrl, sub string
		exp           int64
		msg           []byte
	}
	var ps []pend
	for i := uint64(0); i < n && d.err == nil; i++ {
		ps = append(ps, pend{to: d.str(), ctrl: d.str(), sub: d.str(), exp: d.varint(), msg: []byte(d.str())})
	}
	if d.err != nil {
		m.wrote, m.wrote2 = nil, false
		return fmt.Errorf("dm: snapshot: %w: %w", d.err, usp.InvalidArguments)
	}
	m.root, m.seq, m.jobs, m.pend, m.subsOK = root, seq, nil, nil, false
	if m.wrote != nil {
		m.internRows()
	}
	m.fx = nil
	for _, p := range ps {
		msg := &pb.Msg{}
		exp := time.Unix(0, p.exp)
		if proto.Unmarshal(p.msg, msg) != nil || !now.Before(exp) {
			continue
		}
		pp, err := path.Parse(p.sub)
		if err != nil {
			continue
		}
		ts, _, err := m.resolve(pp, pp.Len(), now)
		if err != nil || len(ts) != 1 || ts[0].table {
			continue
		}
		m.pend = append(m.pend, &pending{raw: string(p.msg), id: msg.GetHeader().GetMsgId(), to: p.to, ctrl: p.ctrl, sub: ts[0].r, next: now, expires: exp})
	}
	return nil
}

// loadRow reads a row's contents into r, skipping unknown or invalid
// entries.
func (m *Model) loadRow(d *decoder, r *row, depth int) {
	if depth > 16 {
		d.err = errors.New("rows nested too deep")
		return
	}
	for n := d.uvarint(); n > 0 && d.err == nil; n-- {
		name, v := d.str(), d.str()
		p := r.obj.paramRel(name)
		if p == nil || p.get != nil || p.count != nil || (r.parent == nil && !p.persist) {
			continue
		}
		if c, err := p.canon(v, 1<<30); err == nil {
			m.put(r, p, c)
		}
	}
	for n := d.uvarint(); n > 0 && d.err == nil; n-- {
		name, next := d.str(), d.uvarint()
		if t := subTable(r.obj, name); t != nil && next <= 1<<32 {
			m.bumpNext(t, r, uint32(next-min(next, 1)))
		}
	}
	for n := d.uvarint(); n > 0 && d.err == nil; n-- {
		name, num := d.str(), d.uvarint()
		t := subTable(r.obj, name)
		if t == nil || num == 0 || num > 1<<32-1 || m.findRow(t, r, uint32(num)) != nil {
			m.loadRow(d, &row{obj: m.s.root}, depth+1) // skip its contents
			continue
		}
		m.loadRow(d, m.insertRow(t, r, uint32(num)), depth+1)
	}
}

// subTable finds the table named rel (relative) among o's sub-tables.
func subTable(o *Object, rel string) *Object {
	for _, t := range o.subTables {
		if relObj(o, t) == rel {
			return t
		}
	}
	return nil
}

type decoder struct {
	b   []byte
	err error
}

var errShort = errors.New("truncated")

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.err = errShort
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
