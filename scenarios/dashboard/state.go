package dashboard

import (
	"cmp"
	"slices"
	"time"

	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

// State is what the page shows, as /api/state and every server-sent event
// carry it (docs/dashboard.md has its fields).
type State struct {
	Title    string         `json:"title"`
	Plan     string         `json:"plan,omitempty"` // the campaign's waves and abort rule, in words
	Version  uint64         `json:"version"`        // Samples so far
	Elapsed  float64        `json:"elapsed_s"`
	Final    bool           `json:"final"`
	Devices  int            `json:"devices"`
	Outcomes map[string]int `json:"outcomes"`
	Phases   map[string]int `json:"phases"`
	Conn     map[string]int `json:"conn"`
	Series   []Point        `json:"series"`
	Boards   []Row          `json:"boards"`
	ByWave   []Row          `json:"by_wave,omitempty"` // outcomes by campaign wave
	Waves    []Wave         `json:"waves,omitempty"`   // where the campaign's waves stand
	Aborted  string         `json:"aborted,omitempty"`
	Links    Links          `json:"links"`
	Messages []Messages     `json:"messages"`
	Errors   []ErrorCount   `json:"errors"`
	Latency  []TypeLatency  `json:"latency"`
	Failing  []DeviceRow    `json:"failing"`
	Slowest  []SlowRow      `json:"slowest"`
	// Untracked devices have no history here: the fleet has more than
	// MaxDevices.
	Untracked int64 `json:"untracked,omitempty"`
}

// Point is one sample of the series: seconds from the start, and the
// fleet's counts then.
type Point struct {
	T        float64        `json:"t"`
	Outcomes map[string]int `json:"outcomes"`
	Conn     map[string]int `json:"conn"`
	Phases   map[string]int `json:"phases"`
	// Groups, at every fifth sample that recounted the index and at the
	// last, are the outcomes of the first MaxGroups boards and waves (by
	// name), for their own charts; the others are summed under "other".
	Groups []Row `json:"groups,omitempty"`
}

// Row is a group of devices (a board, a wave) by outcome.
type Row struct {
	Name     string         `json:"name"`
	Outcomes map[string]int `json:"outcomes"`
}

// Links counts the devices' sessions.
type Links struct {
	Up         uint64 `json:"up"`         // sessions opened
	Failed     uint64 `json:"failed"`     // attempts to open one that failed
	Lost       uint64 `json:"lost"`       // sessions the peer or the network ended
	Reconnects uint64 `json:"reconnects"` // sessions opened by a device that had one before
}

// Messages counts the Records of one message type the devices received
// and sent.
type Messages struct {
	Type     string `json:"type"`
	Received uint64 `json:"received"`
	Sent     uint64 `json:"sent"`
}

// ErrorCount is how many USP Errors of one code went either way; Code 0
// with Other is the sum of the codes past MaxCodes.
type ErrorCount struct {
	Code  uint32 `json:"code"`
	Other bool   `json:"other,omitempty"`
	N     int    `json:"n"`
}

// TypeLatency is the latency of one request type, request to answer.
type TypeLatency struct {
	Type  string  `json:"type"`
	Count int     `json:"count"`
	P50   float64 `json:"p50_s"`
	P90   float64 `json:"p90_s"`
	P99   float64 `json:"p99_s"`
	Max   float64 `json:"max_s"`
}

// DeviceRow is one device's record in the index: its real state.
type DeviceRow struct {
	ID      string `json:"id"`
	Board   string `json:"board"`
	Wave    int    `json:"wave,omitempty"`
	Version string `json:"version"`
	Phase   string `json:"phase"`
	Conn    string `json:"conn"`
	Outcome string `json:"outcome"`
	Boots   uint32 `json:"boots"`
}

// SlowRow is a device whose update took long: Seconds from its first
// download to its end (Result: updated, confirmed, rolled-back, bricked),
// or until the latest time seen while it is under way.
type SlowRow struct {
	ID      string  `json:"id"`
	Seconds float64 `json:"seconds"`
	Result  string  `json:"result"`
	Done    bool    `json:"done"`
}

// DeviceView is one device: its real state, what it did lately and the
// last messages it received and sent, oldest first.
type DeviceView struct {
	Device   DeviceRow `json:"device"`
	Received uint64    `json:"received"`
	Sent     uint64    `json:"sent"`
	Sessions uint32    `json:"sessions"`
	// EventsSeen and MessagesSeen count all of them; the lists keep the
	// last few.
	EventsSeen   int       `json:"events_seen"`
	Events       []Event   `json:"events"`
	MessagesSeen int       `json:"messages_seen"`
	MessageList  []Message `json:"messages"`
	Update       *SlowRow  `json:"update,omitempty"`
}

// Event is one line of a device's event log.
type Event struct {
	T      float64 `json:"t"` // seconds from the start
	Kind   string  `json:"kind"`
	Detail string  `json:"detail"`
}

// Message is one Record's header.
type Message struct {
	T      float64 `json:"t"`
	Dir    string  `json:"dir"`    // in (to the device), out
	Record string  `json:"record"` // msg, session, connect, disconnect
	Type   string  `json:"type,omitempty"`
	Body   string  `json:"body,omitempty"` // request, response, error
	MsgID  string  `json:"msg_id,omitempty"`
	Code   uint32  `json:"err_code,omitempty"`
}

// Snapshot is the state now.
func (l *Live) Snapshot() State {
	l.mu.Lock()
	s := State{Title: l.cfg.Title, Plan: l.cfg.Plan, Version: l.version, Elapsed: l.now.Elapsed.Seconds(),
		Final: l.now.Final, Devices: l.now.Devices, Outcomes: l.now.Outcomes, Phases: l.now.Phases, Conn: l.now.Conn,
		Series: slices.Clone(l.series), Boards: l.tables.boards, ByWave: l.tables.waves,
		Failing: l.tables.failing, Slowest: l.tables.slowest, Aborted: l.now.Aborted,
		Waves: l.now.Waves}
	for c, n := range l.codes {
		s.Errors = append(s.Errors, ErrorCount{Code: c, N: n})
	}
	if l.other > 0 {
		s.Errors = append(s.Errors, ErrorCount{Other: true, N: l.other})
	}
	l.mu.Unlock()
	slices.SortFunc(s.Errors, func(a, b ErrorCount) int { return cmp.Compare(a.Code, b.Code) })
	s.Errors = nonNil(s.Errors)
	s.Series, s.Boards, s.Failing, s.Slowest = nonNil(s.Series), nonNil(s.Boards), nonNil(s.Failing), nonNil(s.Slowest)
	s.Devices = max(l.cfg.Index.Len(), s.Devices)
	s.Links = Links{Up: l.ups.Load(), Failed: l.fails.Load(), Lost: l.lost.Load(), Reconnects: l.reup.Load()}
	for slot := range slots {
		in, out := l.msgs[0][slot].Load(), l.msgs[1][slot].Load()
		if in+out > 0 {
			s.Messages = append(s.Messages, Messages{Type: slotName(slot), Received: in, Sent: out})
		}
	}
	l.latMu.Lock()
	for _, typ := range sortedKeys(l.lat) {
		lt := l.lat[typ].Latency()
		s.Latency = append(s.Latency, TypeLatency{Type: typ, Count: lt.Count, P50: float64(lt.P50), P90: float64(lt.P90),
			P99: float64(lt.P99), Max: float64(lt.Max)})
	}
	l.latMu.Unlock()
	s.Untracked = l.untracked.Load()
	s.Messages, s.Latency = nonNil(s.Messages), nonNil(s.Latency)
	return s
}

// nonNil is s, or an empty slice for nil: the page reads [] rather than
// null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func slotName(slot int) string {
	switch slot {
	case slotSession:
		return "SessionContextRecord"
	case slotDisconnect:
		return "DisconnectRecord"
	}
	return usp.TypeName(pb.Header_MsgType(slot))
}

// Device is device id as it stands; false when the index has no such
// device.
func (l *Live) Device(id string) (DeviceView, bool) {
	d, ok := l.cfg.Index.Get(id)
	if !ok {
		return DeviceView{}, false
	}
	v := DeviceView{Device: rowOf(d), Events: []Event{}, MessageList: []Message{}}
	h, ok := l.lookup(id)
	if !ok {
		return v, true
	}
	h.mu.Lock()
	v.Received, v.Sent, v.Sessions, v.EventsSeen, v.MessagesSeen = h.in, h.out, h.ups, h.ne, h.nm
	for i := max(h.ne-len(h.events), 0); i < h.ne; i++ {
		e := h.events[i%len(h.events)]
		v.Events = append(v.Events, Event{T: l.secs(e.at), Kind: e.kind, Detail: e.detail})
	}
	for i := max(h.nm-len(h.msgs), 0); i < h.nm; i++ {
		v.MessageList = append(v.MessageList, l.message(&h.msgs[i%len(h.msgs)]))
	}
	h.mu.Unlock()
	if r, ok := l.update(id, h, l.last.Load()); ok {
		v.Update = &r
	}
	return v, true
}

// secs is the Unix-ns time ns as seconds from the start (or as Unix
// seconds without a start).
func (l *Live) secs(ns int64) float64 { return time.Duration(ns - l.start.Load()).Seconds() }

var (
	recordNames = [...]string{usp.RecordNone: "none", usp.RecordNoSession: "msg", usp.RecordSession: "session",
		usp.RecordConnect: "connect", usp.RecordDisconnect: "disconnect"}
	bodyNames = [...]string{usp.BodyNone: "", usp.BodyRequest: "request", usp.BodyResponse: "response", usp.BodyError: "error"}
)

func (l *Live) message(h *header) Message {
	m := Message{T: l.secs(h.at), Dir: "out", MsgID: string(h.msgID[:h.n]), Code: h.err}
	if h.in {
		m.Dir = "in"
	}
	if int(h.kind) < len(recordNames) {
		m.Record = recordNames[h.kind]
	}
	if h.kind == usp.RecordNoSession {
		m.Type = usp.TypeName(h.typ)
		if int(h.body) < len(bodyNames) {
			m.Body = bodyNames[h.body]
		}
	}
	if h.long {
		m.MsgID += "…"
	}
	return m
}
