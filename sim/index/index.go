// Package index is the fleet index: one record per device, queryable by
// board, running version, update phase, connection state and outcome, and
// watchable, so that scenarios, progress displays and metrics follow the
// fleet without polling. It is an in-memory go-memdb database: writers are
// serialised, readers see consistent snapshots and never block writers.
package index

import (
	"fmt"
	"sort"
	"sync/atomic"

	"github.com/hashicorp/go-memdb"
)

// Device is one device's record. Empty fields are stored as their default
// (see Put).
type Device struct {
	ID      string // endpoint ID; the key
	Board   string // board profile
	Wave    int    // campaign wave, 0 when none
	Version string // running firmware version
	Phase   string // what the device is doing: idle, downloading, installing, rebooting, trial, …
	Conn    string // connected, connecting, disconnected
	Outcome string // pending, updated, rolled_back, bricked, download_failed, unreachable
	Boots   uint32 // boots since the run started
}

// Fields that Count, Counts and Watch take.
const (
	ByBoard   = "board"
	ByVersion = "version"
	ByPhase   = "phase"
	ByConn    = "conn"
	ByOutcome = "outcome"
)

const (
	table  = "device"
	tallys = "tally"
)

// fields are the fields Count, Counts and Watch take, in a fixed order.
var fields = [...]string{ByBoard, ByVersion, ByPhase, ByConn, ByOutcome}

// The device table has one index, its ID: a go-memdb index costs every
// record a radix leaf, a node, two watch channels and a key, some 400
// bytes, and a fleet keeps 100,000 records. The queries by field are
// answered by the tally table instead: one record per field and value
// ("phase" "idle") holding how many devices have it. A write transaction
// that changes a device rewrites, in the same transaction, the tallies of
// every set the device leaves, enters or stays in (a watch on a set fires
// when a device enters, leaves or changes in it, as it would on an index
// of the device table), and deletes those that fall to zero.
var schema = &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
	table: {Name: table, Indexes: map[string]*memdb.IndexSchema{
		"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}},
	}},
	tallys: {Name: tallys, Indexes: map[string]*memdb.IndexSchema{
		"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Key"}},
	}},
}}

// tally is how many devices have Value in Field. Stored tallies are never
// modified: a change inserts a new one.
type tally struct {
	Key   string // Field "\x00" Value
	Field string
	Value string
	N     int
}

func tallyKey(field, value string) string { return field + "\x00" + value }

// record is a Device as the device table stores it: the strings most
// devices share (board, version, phase, connection state, outcome) as
// codes of the index's string table, which keeps a record at 48 bytes.
type record struct {
	ID    string
	Wave  int
	Boots uint32
	str   [5]uint32 // codes of Board, Version, Phase, Conn, Outcome (the order of fields)
}

// Index is the fleet index. It is safe for concurrent use.
type Index struct {
	db *memdb.MemDB
	// The string table: names[code] is the string of a code. Only write
	// transactions add to it (memdb runs one at a time), before they
	// commit; a reader loads it after reading its records, so it holds
	// their codes. Appending never changes an element a reader can see.
	names atomic.Pointer[[]string]
	codes map[string]uint32 // used by write transactions only
}

// code returns the code of s, adding it to the table (inside a write
// transaction).
func (x *Index) code(s string) uint32 {
	if c, ok := x.codes[s]; ok {
		return c
	}
	names := *x.names.Load()
	c := uint32(len(names))
	names = append(names, s)
	x.names.Store(&names)
	x.codes[s] = c
	return c
}

// device decodes r, with the string table names.
func (r *record) device(names []string) Device {
	return Device{ID: r.ID, Board: names[r.str[0]], Wave: r.Wave, Version: names[r.str[1]], Phase: names[r.str[2]],
		Conn: names[r.str[3]], Outcome: names[r.str[4]], Boots: r.Boots}
}

func (x *Index) table() []string { return *x.names.Load() }

// New returns an empty index.
func New() (*Index, error) {
	db, err := memdb.NewMemDB(schema)
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	x := &Index{db: db, codes: map[string]uint32{}}
	x.names.Store(&[]string{})
	return x, nil
}

// Put inserts or replaces d. Empty fields take defaults: Board and Version
// "unknown", Phase "idle", Conn "disconnected", Outcome "pending".
func (x *Index) Put(d Device) error {
	return x.Update(d.ID, func(old *Device) { *old = d })
}

// Update applies fn to the record of id (the zero Device with that ID when
// there is none) and stores the result, in one write transaction: updates
// from many goroutines are never lost.
func (x *Index) Update(id string, fn func(*Device)) error {
	if id == "" {
		return fmt.Errorf("index: a device needs an ID")
	}
	w := x.write()
	defer w.txn.Abort()
	d := Device{ID: id}
	if raw, err := w.txn.First(table, "id", id); err == nil && raw != nil {
		d = raw.(*record).device(x.table())
	}
	fn(&d)
	d.ID = id
	setDefaults(&d)
	if err := w.put(&d); err != nil {
		return err
	}
	return w.commit()
}

func setDefaults(d *Device) {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&d.Board, "unknown")
	def(&d.Version, "unknown")
	def(&d.Phase, "idle")
	def(&d.Conn, "disconnected")
	def(&d.Outcome, "pending")
}

// writer is a write transaction and the tally changes it has made so far.
type writer struct {
	x     *Index
	txn   *memdb.Txn
	delta map[[2]string]int // (field, value) → change of its count; touched sets have an entry
	order [][2]string       // the touched sets in the order first touched
}

func (x *Index) write() *writer {
	return &writer{x: x, txn: x.db.Txn(true), delta: map[[2]string]int{}}
}

func (w *writer) touch(field, value string, d int) {
	k := [2]string{field, value}
	if _, ok := w.delta[k]; !ok {
		w.order = append(w.order, k)
	}
	w.delta[k] += d
}

// put stores d (defaults set) and notes the sets it leaves and enters.
func (w *writer) put(d *Device) error {
	if raw, err := w.txn.First(table, "id", d.ID); err == nil && raw != nil {
		names := w.x.table()
		for i, f := range fields {
			w.touch(f, names[raw.(*record).str[i]], -1)
		}
	}
	r := &record{ID: d.ID, Wave: d.Wave, Boots: d.Boots}
	for i, f := range fields {
		v := fieldOf(d, f)
		w.touch(f, v, +1)
		r.str[i] = w.x.code(v)
	}
	if err := w.txn.Insert(table, r); err != nil {
		return fmt.Errorf("index: put %s: %w", d.ID, err)
	}
	return nil
}

// commit writes the tallies of the touched sets and commits.
func (w *writer) commit() error {
	for _, k := range w.order {
		key := tallyKey(k[0], k[1])
		n := w.delta[k]
		raw, err := w.txn.First(tallys, "id", key)
		if err != nil {
			return fmt.Errorf("index: %w", err)
		}
		if raw != nil {
			n += raw.(*tally).N
		}
		if n <= 0 {
			if raw != nil {
				if err := w.txn.Delete(tallys, raw); err != nil {
					return fmt.Errorf("index: %w", err)
				}
			}
			continue
		}
		if err := w.txn.Insert(tallys, &tally{Key: key, Field: k[0], Value: k[1], N: n}); err != nil {
			return fmt.Errorf("index: %w", err)
		}
	}
	w.txn.Commit()
	return nil
}

// Get returns the record of id.
func (x *Index) Get(id string) (Device, bool) {
	raw, err := x.db.Txn(false).First(table, "id", id)
	if err != nil || raw == nil {
		return Device{}, false
	}
	return raw.(*record).device(x.table()), true
}

// Len is the number of devices.
func (x *Index) Len() int {
	it, err := x.db.Txn(false).Get(table, "id")
	if err != nil {
		return 0
	}
	n := 0
	for obj := it.Next(); obj != nil; obj = it.Next() {
		n++
	}
	return n
}

// Count is the number of devices whose field has value.
func (x *Index) Count(field, value string) int {
	txn := x.db.Txn(false)
	switch {
	case field == "id":
		if raw, err := txn.First(table, "id", value); err == nil && raw != nil {
			return 1
		}
		return 0
	case !isField(field):
		return 0
	}
	raw, err := txn.First(tallys, "id", tallyKey(field, value))
	if err != nil || raw == nil {
		return 0
	}
	return raw.(*tally).N
}

// Counts groups the devices by field: value → count.
func (x *Index) Counts(field string) map[string]int {
	out := map[string]int{}
	txn := x.db.Txn(false)
	switch {
	case field == "id":
		if n := x.Len(); n > 0 {
			out[""] = n
		}
		return out
	case !isField(field):
		return out
	}
	it, err := txn.Get(tallys, "id_prefix", field+"\x00")
	if err != nil {
		return out
	}
	for obj := it.Next(); obj != nil; obj = it.Next() {
		t := obj.(*tally)
		out[t.Value] = t.N
	}
	return out
}

// All returns every record, sorted by ID.
func (x *Index) All() []Device {
	it, err := x.db.Txn(false).Get(table, "id")
	if err != nil {
		return nil
	}
	var rs []*record
	for obj := it.Next(); obj != nil; obj = it.Next() {
		rs = append(rs, obj.(*record))
	}
	names := x.table()
	var out []Device
	for _, r := range rs {
		out = append(out, r.device(names))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Watch returns a channel closed at the next change to the set of devices
// whose field has value (a device entering, leaving or changing in it); an
// empty value watches the whole table. A watch on a set no device is in
// may also be closed by a change to another set: look again.
func (x *Index) Watch(field, value string) <-chan struct{} {
	txn := x.db.Txn(false)
	var ch <-chan struct{}
	var err error
	switch {
	case value == "":
		var it memdb.ResultIterator
		if it, err = txn.Get(table, "id"); err == nil {
			ch = it.WatchCh()
		}
	case field == "id":
		ch, _, err = txn.FirstWatch(table, "id", value)
	case isField(field):
		ch, _, err = txn.FirstWatch(tallys, "id", tallyKey(field, value))
	default:
		err = fmt.Errorf("index: no field %q", field)
	}
	if err != nil || ch == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return ch
}

func isField(f string) bool {
	for _, x := range fields {
		if x == f {
			return true
		}
	}
	return false
}

func fieldOf(d *Device, field string) string {
	switch field {
	case ByBoard:
		return d.Board
	case ByVersion:
		return d.Version
	case ByPhase:
		return d.Phase
	case ByConn:
		return d.Conn
	case ByOutcome:
		return d.Outcome
	}
	return ""
}

// PutAll stores every record in one write transaction: the way a
// virtual-time runner flushes a batch of changes.
func (x *Index) PutAll(ds []Device) error {
	w := x.write()
	defer w.txn.Abort()
	for _, d := range ds {
		if d.ID == "" {
			return fmt.Errorf("index: a device needs an ID")
		}
		setDefaults(&d)
		if err := w.put(&d); err != nil {
			return err
		}
	}
	return w.commit()
}
