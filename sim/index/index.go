// Package index is the fleet index: one record per device, queryable by
// board, running version, update phase, connection state and outcome, and
// watchable, so that scenarios, progress displays and metrics follow the
// fleet without polling. It is an in-memory go-memdb database: writers are
// serialised, readers see consistent snapshots and never block writers.
package index

import (
	"fmt"
	"sort"

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

const table = "device"

var schema = &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
	table: {Name: table, Indexes: map[string]*memdb.IndexSchema{
		"id":      {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}},
		ByBoard:   {Name: ByBoard, Indexer: &memdb.StringFieldIndex{Field: "Board"}},
		ByVersion: {Name: ByVersion, Indexer: &memdb.StringFieldIndex{Field: "Version"}},
		ByPhase:   {Name: ByPhase, Indexer: &memdb.StringFieldIndex{Field: "Phase"}},
		ByConn:    {Name: ByConn, Indexer: &memdb.StringFieldIndex{Field: "Conn"}},
		ByOutcome: {Name: ByOutcome, Indexer: &memdb.StringFieldIndex{Field: "Outcome"}},
	}},
}}

// Index is the fleet index. It is safe for concurrent use.
type Index struct{ db *memdb.MemDB }

// New returns an empty index.
func New() (*Index, error) {
	db, err := memdb.NewMemDB(schema)
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	return &Index{db: db}, nil
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
	txn := x.db.Txn(true)
	defer txn.Abort()
	d := Device{ID: id}
	if raw, err := txn.First(table, "id", id); err == nil && raw != nil {
		d = *raw.(*Device)
	}
	fn(&d)
	d.ID = id
	setDefaults(&d)
	if err := txn.Insert(table, &d); err != nil {
		return fmt.Errorf("index: put %s: %w", id, err)
	}
	txn.Commit()
	return nil
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

// Get returns the record of id.
func (x *Index) Get(id string) (Device, bool) {
	raw, err := x.db.Txn(false).First(table, "id", id)
	if err != nil || raw == nil {
		return Device{}, false
	}
	return *raw.(*Device), true
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
	it, err := x.db.Txn(false).Get(table, field, value)
	if err != nil {
		return 0
	}
	n := 0
	for obj := it.Next(); obj != nil; obj = it.Next() {
		n++
	}
	return n
}

// Counts groups the devices by field: value → count.
func (x *Index) Counts(field string) map[string]int {
	out := map[string]int{}
	it, err := x.db.Txn(false).Get(table, field)
	if err != nil {
		return out
	}
	for obj := it.Next(); obj != nil; obj = it.Next() {
		out[fieldOf(obj.(*Device), field)]++
	}
	return out
}

// All returns every record, sorted by ID.
func (x *Index) All() []Device {
	it, err := x.db.Txn(false).Get(table, "id")
	if err != nil {
		return nil
	}
	var out []Device
	for obj := it.Next(); obj != nil; obj = it.Next() {
		out = append(out, *obj.(*Device))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Watch returns a channel closed at the next change to the set of devices
// whose field has value (a device entering, leaving or changing in it); an
// empty value watches the whole table.
func (x *Index) Watch(field, value string) <-chan struct{} {
	txn := x.db.Txn(false)
	var it memdb.ResultIterator
	var err error
	if value == "" {
		it, err = txn.Get(table, "id")
	} else {
		it, err = txn.Get(table, field, value)
	}
	if err != nil {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	return it.WatchCh()
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
	txn := x.db.Txn(true)
	defer txn.Abort()
	for _, d := range ds {
		if d.ID == "" {
			return fmt.Errorf("index: a device needs an ID")
		}
		setDefaults(&d)
		if err := txn.Insert(table, &d); err != nil {
			return fmt.Errorf("index: put %s: %w", d.ID, err)
		}
	}
	txn.Commit()
	return nil
}
