// Package dashboard is the live view of a run or a fleet: what the devices
// are doing while they do it, served as a web page (Handler, Serve) that
// updates itself over server-sent events.
//
// A Live gathers what the page shows. The fleet feeds it as it goes: the
// Records its devices receive and send (Saw, or Record for raw bytes),
// their session events (Link), the lines of their event log (Event), the
// latencies of the requests that got an answer (Latency), and about once a
// second a Sample of the whole fleet's counts. A Live reads the devices'
// real state from the fleet index; what a controller concluded about a
// device is never in it. It starts no goroutine and reads no clock: every
// time comes from its caller. It is safe for concurrent use.
//
// What it keeps is bounded: Config.Events event lines and Config.Messages
// message headers per device (the oldest go first), Config.Points samples
// of the series (past that, every other one goes and the series keeps a
// coarser step), MaxDevices devices with a history (the rest are counted,
// not kept), MaxCodes error codes (the rest are summed as "other").
package dashboard

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"brickyard/scenarios/report"
	"brickyard/sim/fleet"
	"brickyard/sim/index"
	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

// Defaults and bounds of a Config.
const (
	DefaultEvents   = 16
	DefaultMessages = 8
	DefaultPoints   = 600
	MaxDevices      = 1 << 20 // devices with a history of their own
	MaxCodes        = 64      // error codes counted apart
	maxKept         = 1024    // Events and Messages at most
	listed          = 20      // failing and slowest devices listed
	msgIDBytes      = 40      // of a msg_id kept; longer ones end in "…"
	// recountPer: the tables are recounted from the index in every
	// 1 + devices/recountPer samples (each sample up to 2,000 devices,
	// every 6th at 10,000): reading every device costs some 2 µs each.
	recountPer = 2000
)

// Config is what a Live shows beside the devices.
type Config struct {
	Title    string       // what runs: "fleet against ws://…", "run default"
	Index    *index.Index // the devices' real state; required
	Start    time.Time    // the run's start, if known (Begin sets it later): times are shown as seconds from it
	Plan     string       // the campaign's waves and abort rule, in words; "" when there is none
	Events   int          // event lines kept per device (0: DefaultEvents)
	Messages int          // message headers kept per device (0: DefaultMessages)
	Points   int          // samples kept in the series (0: DefaultPoints)
}

// Sample is the fleet at one moment, as a run's progress gives it.
type Sample struct {
	Elapsed  time.Duration
	Devices  int            // in the fleet (0: as many as the index holds)
	Outcomes map[string]int // by outcome
	Phases   map[string]int // by what the devices are doing
	Conn     map[string]int // by connection state
	Waves    []Wave         // the campaign's waves; nil without a campaign
	Aborted  string         // why the campaign stopped early; "" when it did not
	Final    bool           // the run is over
}

// Wave is where one campaign wave stands.
type Wave struct {
	Name   string `json:"name"`
	Size   int    `json:"size"`
	Done   int    `json:"done"`
	Failed int    `json:"failed"`
	Opened bool   `json:"opened"`
	Closed bool   `json:"closed"`
	// Aborted: this wave's failure rate stopped the campaign.
	Aborted bool `json:"aborted,omitempty"`
}

// Live is the dashboard's state. The zero value is not usable; make one
// with New. Methods on a nil *Live do nothing, so that a fleet without a
// dashboard calls them at no cost.
type Live struct {
	cfg   Config
	start atomic.Int64 // the run's start in Unix nanoseconds

	devs      [shards]shard // endpoint ID → *history, sharded by the ID's hash
	tracked   atomic.Int64
	untracked atomic.Int64 // devices past MaxDevices, counted not kept
	last      atomic.Int64 // the latest device time seen, Unix ns

	msgs                   [2][slots]atomic.Uint64 // by direction (in, out) and slot
	malformed              atomic.Uint64
	ups, fails, lost, reup atomic.Uint64

	latMu sync.Mutex
	lat   map[string]*report.Histogram

	mu      sync.Mutex // guards what follows
	codes   map[uint32]int
	other   int // errors of codes past MaxCodes
	series  []Point
	step    int // a sample in every step goes into the series
	samples int
	now     Sample
	tables  tables
	changed chan struct{} // closed and replaced by every Sample
	version uint64
}

// Slots of the message counters: one per USP message type, two for
// Records without a Msg of their own.
const (
	slotSession    = int(pb.Header_DEREGISTER_RESP) + 1
	slotDisconnect = slotSession + 1
	slots          = slotDisconnect + 1
)

// New makes a Live. It panics on a nil Index, as a programming error.
func New(cfg Config) *Live {
	if cfg.Index == nil {
		panic("dashboard: Config.Index is nil")
	}
	cfg.Events = bound(cfg.Events, DefaultEvents)
	cfg.Messages = bound(cfg.Messages, DefaultMessages)
	if cfg.Points <= 1 {
		cfg.Points = DefaultPoints
	}
	l := &Live{cfg: cfg, lat: map[string]*report.Histogram{}, codes: map[uint32]int{}, step: 1,
		changed: make(chan struct{})}
	if !cfg.Start.IsZero() {
		l.start.Store(cfg.Start.UnixNano())
	}
	return l
}

// Begin sets the run's start, from which times are shown: a runner calls
// it when it knows (the virtual clock's start, the wall clock's now).
func (l *Live) Begin(start time.Time) {
	if l == nil {
		return
	}
	l.start.Store(start.UnixNano())
}

func bound(n, def int) int {
	if n <= 0 {
		return def
	}
	return min(n, maxKept)
}

// history is what one device did lately: rings of its last event lines
// and message headers, and its update's start and end.
type history struct {
	mu       sync.Mutex
	events   []event
	ne       int // events seen; the ring holds the last len(events)
	msgs     []header
	nm       int
	in, out  uint64
	ups      uint32
	upd, end int64 // update start (first download since its last outcome) and end, Unix ns; 0: none
	result   string
	lastAt   int64 // the latest event's time
}

type event struct {
	at           int64
	kind, detail string
}

// header is one message's header, its msg_id kept inline (no allocation
// per Record).
type header struct {
	at    int64
	in    bool
	kind  usp.RecordKind
	body  usp.BodyKind
	typ   pb.Header_MsgType
	err   uint32
	n     uint8 // bytes of id used
	long  bool  // the msg_id was longer than id
	msgID [msgIDBytes]byte
}

// shards of the device histories: a Record's lookup takes one shard's
// read lock, so that the devices' goroutines on different cores rarely
// meet (a sync.Map's lookup cost three times as much under a Get flood).
const shards = 64

type shard struct {
	mu sync.RWMutex
	m  map[string]*history
}

// shardOf is the shard of an endpoint ID: FNV-1a of its last 8 bytes,
// where the IDs of a fleet differ.
func (l *Live) shardOf(id string) *shard {
	h := uint32(2166136261)
	for i := max(len(id)-8, 0); i < len(id); i++ {
		h = (h ^ uint32(id[i])) * 16777619
	}
	return &l.devs[h%shards]
}

// lookup is device id's history, if it has one.
func (l *Live) lookup(id string) (*history, bool) {
	sh := l.shardOf(id)
	sh.mu.RLock()
	h, ok := sh.m[id]
	sh.mu.RUnlock()
	return h, ok
}

// hist is device id's history, made on first use; nil past MaxDevices.
func (l *Live) hist(id string) *history {
	sh := l.shardOf(id)
	sh.mu.RLock()
	h := sh.m[id]
	sh.mu.RUnlock()
	if h != nil {
		return h
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if h := sh.m[id]; h != nil {
		return h
	}
	if l.tracked.Load() >= MaxDevices {
		l.untracked.Add(1)
		return nil
	}
	if sh.m == nil {
		sh.m = map[string]*history{}
	}
	h = &history{}
	sh.m[strings.Clone(id)] = h
	l.tracked.Add(1)
	return h
}

// each calls fn with every device's history, shard by shard (a shard's
// read lock held).
func (l *Live) each(fn func(id string, h *history)) {
	for i := range l.devs {
		sh := &l.devs[i]
		sh.mu.RLock()
		for id, h := range sh.m {
			fn(id, h)
		}
		sh.mu.RUnlock()
	}
}

func (l *Live) seen(at int64) {
	for {
		old := l.last.Load()
		if at <= old || l.last.CompareAndSwap(old, at) {
			return
		}
	}
}

// Record is Saw of the Record rec, read with usp.Peek. Bytes that are not
// a Record are counted as malformed.
func (l *Live) Record(id string, in bool, rec []byte, at time.Time) {
	if l == nil {
		return
	}
	g, err := usp.Peek(rec)
	if err != nil {
		l.malformed.Add(1)
		return
	}
	l.Saw(id, in, g, at)
}

// Saw counts one Record device id received (in) or sent, as usp.Peek read
// it, and keeps its header in the device's history.
func (l *Live) Saw(id string, in bool, g usp.Glance, at time.Time) {
	if l == nil {
		return
	}
	d := 1
	if in {
		d = 0
	}
	slot := -1
	switch {
	case g.HasMsg && int(g.Type) < slotSession:
		slot = int(g.Type)
	case g.Kind == usp.RecordSession:
		slot = slotSession
	case g.Kind == usp.RecordDisconnect:
		slot = slotDisconnect
	}
	if slot >= 0 {
		l.msgs[d][slot].Add(1)
	}
	if g.Body == usp.BodyError {
		l.mu.Lock()
		l.code(g.ErrCode)
		l.mu.Unlock()
	}
	ns := at.UnixNano()
	l.seen(ns)
	h := l.hist(id)
	if h == nil {
		return
	}
	hd := header{at: ns, in: in, kind: g.Kind, body: g.Body, typ: g.Type, err: g.ErrCode}
	hd.n = uint8(copy(hd.msgID[:], g.MsgID))
	hd.long = len(g.MsgID) > msgIDBytes
	h.mu.Lock()
	if in {
		h.in++
	} else {
		h.out++
	}
	if h.msgs == nil {
		h.msgs = make([]header, l.cfg.Messages)
	}
	h.msgs[h.nm%len(h.msgs)] = hd
	h.nm++
	h.mu.Unlock()
}

// code counts one Error of code (l.mu held).
func (l *Live) code(c uint32) {
	if _, ok := l.codes[c]; !ok && len(l.codes) >= MaxCodes {
		l.other++
		return
	}
	l.codes[c]++
}

// Link counts a device's session event, as fleet.Observer has it: up
// (reconnects are the ups of a device after its first), failed to open,
// lost (ended by the peer or the network: err set) or closed by the
// device (err nil).
func (l *Live) Link(id string, ev fleet.LinkEvent, err error, at time.Time) {
	if l == nil {
		return
	}
	l.seen(at.UnixNano())
	switch ev {
	case fleet.LinkUp:
		l.ups.Add(1)
		if h := l.hist(id); h != nil {
			h.mu.Lock()
			h.ups++
			again := h.ups > 1
			h.mu.Unlock()
			if again {
				l.reup.Add(1)
			}
		}
	case fleet.LinkFail:
		l.fails.Add(1)
	case fleet.LinkDown:
		if err != nil {
			l.lost.Add(1)
		}
	}
}

// Event keeps one line of device id's event log (kind "power-cut",
// detail "phase=install …", at the device's time) in its timeline. An
// update runs from its first download-start to updated, confirmed,
// rolled-back or bricked.
func (l *Live) Event(id, kind, detail string, at time.Time) {
	if l == nil {
		return
	}
	ns := at.UnixNano()
	l.seen(ns)
	h := l.hist(id)
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.events == nil {
		h.events = make([]event, l.cfg.Events)
	}
	h.events[h.ne%len(h.events)] = event{at: ns, kind: kind, detail: detail}
	h.ne++
	h.lastAt = max(h.lastAt, ns)
	switch kind {
	case "download-start":
		if h.upd == 0 || h.end != 0 {
			h.upd, h.end, h.result = ns, 0, ""
		}
	case "updated", "confirmed", "rolled-back", "bricked":
		if h.upd != 0 {
			h.end, h.result = max(ns, h.upd), kind
		}
	}
}

// Latency counts one request of type typ that took d, request to answer.
func (l *Live) Latency(typ string, d time.Duration) {
	if l == nil {
		return
	}
	l.latMu.Lock()
	h := l.lat[typ]
	if h == nil {
		if len(l.lat) >= MaxCodes {
			typ = "other"
			h = l.lat[typ]
		}
		if h == nil {
			h = &report.Histogram{}
			l.lat[typ] = h
		}
	}
	h.Observe(d)
	l.latMu.Unlock()
}

// Sample takes the fleet as it stands: s's counts join the series, the
// tables by board and wave and the lists of failing and slowest devices
// are recounted from the index (past 2,000 devices, in every
// 1 + devices/2,000 samples only, and at the final one), and the page's
// streams are told.
func (l *Live) Sample(s Sample) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.now = s
	every := 1 + l.cfg.Index.Len()/recountPer
	recounted := l.samples%every == 0 || s.Final
	if recounted {
		l.tables = l.recount()
	}
	if l.samples%l.step == 0 || s.Final {
		p := Point{T: s.Elapsed.Seconds(), Outcomes: s.Outcomes, Conn: s.Conn, Phases: s.Phases}
		if recounted && ((l.samples/every)%groupEvery == 0 || s.Final) {
			p.Groups = groups(l.tables)
		}
		if n := len(l.series); n > 0 && l.series[n-1].T >= p.T { // the final sample of the last moment
			l.series[n-1] = p
		} else {
			l.series = append(l.series, p)
		}
		if len(l.series) >= l.cfg.Points {
			l.series = halve(l.series)
			l.step *= 2
		}
	}
	l.samples++
	l.version++
	close(l.changed)
	l.changed = make(chan struct{})
}

// halve keeps every other point of s, and the last.
func halve(s []Point) []Point {
	out := s[:0]
	last := s[len(s)-1]
	for i := 0; i < len(s); i += 2 {
		out = append(out, s[i])
	}
	if out[len(out)-1].T != last.T {
		out = append(out, last)
	}
	return out
}

// Changed is closed by the next Sample; Version counts the Samples so far.
func (l *Live) Changed() (<-chan struct{}, uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed, l.version
}

// tables are the counts the index gives only device by device.
type tables struct {
	boards, waves []Row
	failing       []DeviceRow
	slowest       []SlowRow
}

// failing reports whether a device's outcome says its update did not go
// as planned: anything but pending and updated (rolled_back, bricked,
// download_failed, install_failed, unreachable, aborted, lost, …).
func failing(outcome string) bool {
	return outcome != "pending" && outcome != "updated" && outcome != ""
}

// recount reads every device of the index (l.mu held).
func (l *Live) recount() tables {
	var t tables
	boards, waves := map[string]map[string]int{}, map[int]map[string]int{}
	for _, d := range l.cfg.Index.All() {
		addTo(boards, d.Board, d.Outcome)
		addTo(waves, d.Wave, d.Outcome)
		if failing(d.Outcome) && len(t.failing) < listed {
			t.failing = append(t.failing, rowOf(d))
		}
	}
	for _, b := range sortedKeys(boards) {
		t.boards = append(t.boards, Row{Name: b, Outcomes: boards[b]})
	}
	if len(waves) > 1 || waves[0] == nil {
		for _, w := range sortedKeys(waves) {
			name := "none"
			if w > 0 {
				name = "wave " + strconv.Itoa(w)
			}
			t.waves = append(t.waves, Row{Name: name, Outcomes: waves[w]})
		}
	}
	t.slowest = l.slowest()
	return t
}

// MaxGroups bounds the boards and the waves a point holds apart.
const MaxGroups = 8

// groupEvery: a point holds the groups at every groupEvery-th recount
// (and the last), which keeps a page's update small.
const groupEvery = 5

// groups are t's boards and waves for a point: "board NAME" and "wave N"
// rows, at most MaxGroups of each, the rest summed as "board other" and
// "wave other".
func groups(t tables) []Row {
	var out []Row
	for _, g := range []struct {
		prefix string
		rows   []Row
	}{{"board ", t.boards}, {"", t.waves}} {
		var other map[string]int
		for i, r := range g.rows {
			if i < MaxGroups {
				out = append(out, Row{Name: g.prefix + r.Name, Outcomes: r.Outcomes})
				continue
			}
			if other == nil {
				other = map[string]int{}
			}
			for k, n := range r.Outcomes {
				other[k] += n
			}
		}
		if other != nil {
			name := "wave other"
			if g.prefix != "" {
				name = g.prefix + "other"
			}
			out = append(out, Row{Name: name, Outcomes: other})
		}
	}
	return out
}

func addTo[K comparable](m map[K]map[string]int, k K, outcome string) {
	if m[k] == nil {
		m[k] = map[string]int{}
	}
	m[k][outcome]++
}

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	ks := make([]K, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// slowest are the devices whose update took, or takes, longest.
func (l *Live) slowest() []SlowRow {
	now := l.last.Load()
	var out []SlowRow
	l.each(func(id string, h *history) {
		if r, ok := l.update(id, h, now); ok {
			out = append(out, r)
			if len(out) > 4*listed {
				out = topSlow(out)
			}
		}
	})
	return topSlow(out)
}

// update is device id's update, if it began one: from its first
// download to its end (an updated, confirmed, rolled-back or bricked
// event); to its last event when the index gives it another outcome
// without one (install_failed: the device is back on its old image); and
// while it is under way, to now, the latest time any device reported.
func (l *Live) update(id string, h *history, now int64) (SlowRow, bool) {
	h.mu.Lock()
	upd, end, result, lastAt := h.upd, h.end, h.result, h.lastAt
	h.mu.Unlock()
	if upd == 0 {
		return SlowRow{}, false
	}
	r := SlowRow{ID: id, Result: result, Done: end != 0}
	if end == 0 {
		end, r.Result = max(now, upd), "under way"
		if d, ok := l.cfg.Index.Get(id); ok && failing(d.Outcome) {
			end, r.Result, r.Done = max(lastAt, upd), d.Outcome, true
		}
	}
	r.Seconds = time.Duration(end - upd).Seconds()
	return r, true
}

func topSlow(rs []SlowRow) []SlowRow {
	slices.SortFunc(rs, func(a, b SlowRow) int {
		return cmp.Or(cmp.Compare(b.Seconds, a.Seconds), cmp.Compare(a.ID, b.ID))
	})
	return rs[:min(len(rs), listed)]
}

func rowOf(d index.Device) DeviceRow {
	return DeviceRow{ID: d.ID, Board: d.Board, Wave: d.Wave, Version: d.Version, Phase: d.Phase, Conn: d.Conn,
		Outcome: d.Outcome, Boots: d.Boots}
}
