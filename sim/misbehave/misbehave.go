// Package misbehave makes a device's Records wrong on the wire, the way
// real devices get them wrong, for a controller's robustness tests: its
// answers late, lost, doubled or with a msg_id no request had; its
// Notifies repeated; Records that are not protobuf, cut short, addressed
// to another endpoint or larger than any MTP takes. The fault plan picks
// the devices and the misbehaviours (sim/faults: answer-delay, answer-drop,
// answer-duplicate, msgid-wrong, msgid-reuse, notify-repeat, late-complete,
// record-malformed, record-truncated, record-wrong-to, record-oversized).
//
// A Device applies a device's misbehaviours to each Record its core sends,
// in the plan's order, each to the Records it concerns (answers: responses
// and Errors; Notify requests; any Record) with its chance, and says what
// it did, for the event log. It draws from its own seeded generator: the
// same seed and Records give the same result. It is pure: no goroutines,
// no clock, no I/O; one goroutine uses a Device at a time.
package misbehave

import (
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"brickyard/sim/faults"
	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
	rec "brickyard/usp/usprecord"
)

// DefaultTo is the to_id record-wrong-to writes when its rule names none.
const DefaultTo = "proto::brickyard-nobody"

// padField is the protobuf field number of record-oversized's padding: a
// field no version of the Record has, which a decoder keeps as unknown.
const padField = 2047

// maxDelay bounds a drawn latency (a log-normal tail is unbounded).
const maxDelay = 24 * time.Hour

// Device is one device's misbehaviour and what it remembers between
// Records (the previous answer's msg_id, for msgid-reuse).
type Device struct {
	bs     []faults.Behaviour
	rng    *rand.Rand
	last   string // the msg_id of the previous answer
	wrongs uint64 // msg_ids msgid-wrong made
}

// New is the misbehaviour bs of a device, drawing from seed. It returns
// nil for no misbehaviour: a nil *Device sends every Record as it is.
func New(bs []faults.Behaviour, seed uint64) *Device {
	if len(bs) == 0 {
		return nil
	}
	return &Device{bs: bs, rng: rand.New(rand.NewPCG(seed, 0x6d697362))}
}

// Out is one Record to send, After the moment the core made it; with
// Late, only once the device has rebooted and opened a session again
// (late-complete).
type Out struct {
	After time.Duration
	Data  []byte
	Late  bool
}

// Note is one misbehaviour done, for the event log: its kind and what
// it did ("msg_id=campaign-7 to=misbehave-1").
type Note struct {
	Kind   faults.Kind
	Detail string
}

// Send returns what the device sends in place of data, the Record its
// core made (none when it is dropped, several when it is repeated), and
// what it did. data is not modified; a Record Send does not change is
// returned as it is. Bytes that are not a Record get only the
// misbehaviours of any Record.
func (d *Device) Send(data []byte) ([]Out, []Note) {
	outs := []Out{{Data: data}}
	if d == nil {
		return outs, nil
	}
	g, err := usp.Peek(data)
	answer := err == nil && g.HasMsg && (g.Body == usp.BodyResponse || g.Body == usp.BodyError)
	notify := err == nil && g.HasMsg && g.Body == usp.BodyRequest && g.Type == pb.Header_NOTIFY
	complete := -1 // whether the Notify is an OperationComplete: read when a behaviour asks
	var notes []Note
	note := func(k faults.Kind, detail string) { notes = append(notes, Note{Kind: k, Detail: detail}) }
	msgID := ""
	if err == nil {
		msgID = string(g.MsgID)
	}
	for _, b := range d.bs {
		switch b.Kind {
		case faults.AnswerDelay, faults.AnswerDrop, faults.AnswerDuplicate, faults.MsgIDWrong, faults.MsgIDReuse:
			if !answer {
				continue
			}
		case faults.NotifyRepeat:
			if !notify {
				continue
			}
		case faults.LateComplete:
			if complete < 0 {
				complete = 0
				if notify && isOperComplete(data) {
					complete = 1
				}
			}
			if complete == 0 {
				continue
			}
		}
		var next []Out
		for _, o := range outs {
			if !d.chance(b.Chance) {
				next = append(next, o)
				continue
			}
			next = append(next, d.one(b, o, msgID, note)...)
		}
		outs = next
	}
	if answer {
		d.last = msgID
	}
	return outs, notes
}

func (d *Device) chance(p float64) bool { return p == 0 || p >= 1 || d.rng.Float64() < p }

// one applies b to one Record on its way.
func (d *Device) one(b faults.Behaviour, o Out, msgID string, note func(faults.Kind, string)) []Out {
	switch b.Kind {
	case faults.AnswerDelay:
		late := d.latency(b)
		note(b.Kind, "msg_id="+msgID+" by="+late.String())
		o.After += late
		return []Out{o}
	case faults.AnswerDrop:
		note(b.Kind, "msg_id="+msgID)
		return nil
	case faults.AnswerDuplicate:
		note(b.Kind, "msg_id="+msgID)
		return []Out{o, o}
	case faults.LateComplete:
		note(b.Kind, "msg_id="+msgID+" held until the next boot")
		o.Late = true
		return []Out{o}
	case faults.NotifyRepeat:
		note(b.Kind, "msg_id="+msgID+" copies="+strconv.Itoa(b.Count))
		out := []Out{o}
		for range b.Count {
			out = append(out, o)
		}
		return out
	case faults.MsgIDWrong:
		d.wrongs++
		id := "misbehave-" + strconv.FormatUint(d.wrongs, 10)
		if data, ok := withMsgID(o.Data, id); ok {
			note(b.Kind, "msg_id="+msgID+" sent="+id)
			o.Data = data
		}
		return []Out{o}
	case faults.MsgIDReuse:
		if d.last == "" || d.last == msgID {
			return []Out{o} // no previous answer to take the msg_id of
		}
		if data, ok := withMsgID(o.Data, d.last); ok {
			note(b.Kind, "msg_id="+msgID+" sent="+d.last)
			o.Data = data
		}
		return []Out{o}
	case faults.RecordMalformed:
		note(b.Kind, "bytes="+strconv.Itoa(len(o.Data)))
		o.Data = malformed(o.Data)
		return []Out{o}
	case faults.RecordTruncated:
		cut := d.cut(o.Data)
		note(b.Kind, "bytes="+strconv.Itoa(len(o.Data))+" sent="+strconv.Itoa(cut))
		o.Data = o.Data[:cut:cut]
		return []Out{o}
	case faults.RecordWrongTo:
		to := b.To
		if to == "" {
			to = DefaultTo
		}
		if data, ok := withTo(o.Data, to); ok {
			note(b.Kind, "to="+to)
			o.Data = data
		}
		return []Out{o}
	case faults.RecordOversized:
		o.Data = pad(o.Data, b.Size)
		note(b.Kind, "bytes="+strconv.Itoa(len(o.Data)))
		return []Out{o}
	}
	return []Out{o}
}

// latency draws answer-delay's latency: from the tail with its share,
// else from the distribution.
func (d *Device) latency(b faults.Behaviour) time.Duration {
	if b.Tail > 0 && d.rng.Float64() < b.Tail {
		return b.TailDelay
	}
	switch b.Dist {
	case faults.DistUniform:
		return b.Delay + time.Duration(d.rng.Int64N(int64(b.MaxDelay-b.Delay)+1))
	case faults.DistLogNormal:
		x := float64(b.Delay) * math.Exp(b.Sigma*d.rng.NormFloat64())
		limit := float64(maxDelay)
		if b.MaxDelay > 0 {
			limit = float64(b.MaxDelay)
		}
		if !(x < limit) { // NaN, +Inf and the far tail
			x = limit
		}
		return time.Duration(x)
	}
	return b.Delay
}

// isOperComplete reports whether the Record data is a Notify of an
// OperationComplete.
func isOperComplete(data []byte) bool {
	var r rec.Record
	if proto.Unmarshal(data, &r) != nil {
		return false
	}
	var m pb.Msg
	if proto.Unmarshal(r.GetNoSessionContext().GetPayload(), &m) != nil {
		return false
	}
	return m.GetBody().GetRequest().GetNotify().GetOperComplete() != nil
}

// withMsgID is the Record data with its Msg's msg_id set to id; false
// when data is not a Record with a Msg of its own.
func withMsgID(data []byte, id string) ([]byte, bool) {
	var r rec.Record
	if proto.Unmarshal(data, &r) != nil {
		return nil, false
	}
	ns := r.GetNoSessionContext()
	if ns == nil {
		return nil, false
	}
	var m pb.Msg
	if proto.Unmarshal(ns.GetPayload(), &m) != nil || m.GetHeader() == nil {
		return nil, false
	}
	m.Header.MsgId = id
	payload, err := marshal(&m)
	if err != nil {
		return nil, false
	}
	ns.Payload = payload
	out, err := marshal(&r)
	return out, err == nil
}

// withTo is the Record data addressed to to.
func withTo(data []byte, to string) ([]byte, bool) {
	var r rec.Record
	if proto.Unmarshal(data, &r) != nil {
		return nil, false
	}
	r.ToId = to
	out, err := marshal(&r)
	return out, err == nil
}

func marshal(m proto.Message) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}

// malformed is data with its first byte made a tag of field 0 and wire
// type 7, which no protobuf decoder takes.
func malformed(data []byte) []byte {
	out := make([]byte, max(len(data), 1))
	copy(out, data)
	out[0] = 0x07
	return out
}

// cut is where record-truncated cuts data: inside the value of its last
// top-level field (a Record's Msg or session payload), so that the
// length the field announces runs past the end; inside data when it is
// not protobuf. data of one byte or none is cut to none.
func (d *Device) cut(data []byte) int {
	if len(data) < 2 {
		return 0
	}
	start, b := 0, data
	for len(b) > 0 {
		_, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			break
		}
		m := protowire.ConsumeFieldValue(0, typ, b[n:])
		if m < 0 {
			break
		}
		start = len(data) - len(b) + n // where the field's value begins
		b = b[n+m:]
	}
	if start < 1 || start >= len(data)-1 {
		start = 1
	}
	return start + d.rng.IntN(len(data)-start)
}

// pad is data with an unknown bytes field that makes it at least size
// bytes long (one byte longer at least).
func pad(data []byte, size int) []byte {
	head := protowire.SizeTag(padField)
	n := max(size-len(data)-head-protowire.SizeVarint(uint64(size)), 1)
	if total := len(data) + head + protowire.SizeVarint(uint64(n)) + n; total < size {
		n += size - total
	}
	out := make([]byte, 0, len(data)+n+8)
	out = append(out, data...)
	out = protowire.AppendTag(out, padField, protowire.BytesType)
	out = protowire.AppendVarint(out, uint64(n))
	return append(out, make([]byte, n)...)
}
