// Package trace writes the USP traffic of chosen devices as JSON Lines:
// every Record a traced device received or sent, decoded, with the USP
// Message inside as protobuf JSON (docs/trace.md). It is what a
// controller team reads when one device misbehaved: the exact requests
// and answers, in order, with their times.
//
// A Writer is bounded: past its byte limit it writes nothing more and
// counts what it left out, so tracing a share of a large fleet cannot
// fill a disk. Untraced devices cost one map lookup or one hash.
package trace

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	pb "brickyard/usp/uspmsg"
	"brickyard/usp/usprecord"
)

// DefaultMax is the default bound of a trace file: 64 MiB.
const DefaultMax = 64 << 20

// TimeFormat is a Line's time: fixed width, so that lines sort as text.
const TimeFormat = "2006-01-02T15:04:05.000000000Z"

// StampWidth is how many bytes of a line's start hold its time
// (`{"at":"` and the time): what a merge of trace files orders by.
const StampWidth = len(`{"at":"`) + len(TimeFormat)

// Line is one traced Record: a line of the file.
type Line struct {
	At     string `json:"at"`     // RFC 3339 in UTC with 9 decimals: fixed width, so lines sort by it
	Device string `json:"device"` // the traced device's endpoint ID
	Dir    string `json:"dir"`    // "in" (to the device) or "out" (from it)
	Bytes  int    `json:"bytes"`  // the Record's size on the wire
	// The Record: its kind (no_session_context, session_context,
	// websocket_connect, mqtt_connect, stomp_connect, uds_connect,
	// disconnect), its addresses, and for a session context its
	// sequence numbers.
	Record   string `json:"record,omitempty"`
	From     string `json:"from,omitempty"`
	To       string `json:"to,omitempty"`
	Session  uint64 `json:"session_id,omitempty"`
	Sequence uint64 `json:"sequence_id,omitempty"`
	// The Message, when the Record carries a whole one: its header, and
	// all of it as protobuf JSON.
	MsgID string          `json:"msg_id,omitempty"`
	Type  string          `json:"type,omitempty"`
	Msg   json.RawMessage `json:"msg,omitempty"`
	// Error says why the Record or its Message could not be decoded
	// (the line keeps what could be).
	Error string `json:"error,omitempty"`
}

// Stats is what a Writer wrote and left out.
type Stats struct {
	Lines   int64 // lines written
	Bytes   int64 // bytes written
	Dropped int64 // lines left out: past the bound, or after a write error
}

// Writer writes the lines of the devices its Selector picks. Record may
// be called from any goroutine.
type Writer struct {
	sel Selector
	max int64

	mu  sync.Mutex
	w   io.Writer
	st  Stats
	err error // the first write error: nothing is written after it
}

// New returns a Writer of the devices sel picks to w, writing at most max
// bytes (0: DefaultMax).
func New(w io.Writer, sel Selector, max int64) (*Writer, error) {
	if w == nil {
		return nil, errors.New("trace: no writer")
	}
	if max < 0 {
		return nil, fmt.Errorf("trace: a bound of %d bytes", max)
	}
	if max == 0 {
		max = DefaultMax
	}
	return &Writer{sel: sel, max: max, w: w}, nil
}

// Traced reports whether the Writer traces device id.
func (t *Writer) Traced(id string) bool { return t.sel.Picks(id) }

// Record traces one Record device id received (in) or sent at at. It
// neither keeps nor changes rec.
func (t *Writer) Record(id string, in bool, rec []byte, at time.Time) {
	if !t.sel.Picks(id) {
		return
	}
	b, err := json.Marshal(Decode(id, in, rec, at))
	if err != nil { // a Line always encodes; keep the fact if not
		b, _ = json.Marshal(Line{At: at.UTC().Format(TimeFormat), Device: id, Error: err.Error()})
	}
	b = append(b, '\n')
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil || t.st.Bytes+int64(len(b)) > t.max {
		t.st.Dropped++
		return
	}
	n, err := t.w.Write(b)
	t.st.Bytes += int64(n)
	if err != nil {
		t.err = fmt.Errorf("trace: %w", err)
		t.st.Dropped++
		return
	}
	t.st.Lines++
}

// Stats returns what was written and left out, and the first write error.
func (t *Writer) Stats() (Stats, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.st, t.err
}

// Decode makes the Line of one Record.
func Decode(id string, in bool, rec []byte, at time.Time) Line {
	l := Line{At: at.UTC().Format(TimeFormat), Device: id, Dir: "out", Bytes: len(rec)}
	if in {
		l.Dir = "in"
	}
	var r usprecord.Record
	if err := proto.Unmarshal(rec, &r); err != nil {
		l.Error = "not a USP Record: " + err.Error()
		return l
	}
	l.From, l.To = r.GetFromId(), r.GetToId()
	var payload []byte
	switch rt := r.GetRecordType().(type) {
	case *usprecord.Record_NoSessionContext:
		l.Record, payload = "no_session_context", rt.NoSessionContext.GetPayload()
	case *usprecord.Record_SessionContext:
		sc := rt.SessionContext
		l.Record, l.Session, l.Sequence = "session_context", sc.GetSessionId(), sc.GetSequenceId()
		switch ps := sc.GetPayload(); {
		case len(ps) == 1 && sc.GetPayloadSarState() == usprecord.SessionContextRecord_NONE:
			payload = ps[0]
		case len(ps) > 0:
			l.Error = fmt.Sprintf("a segmented payload (%d parts, %s): the Message spans Records", len(ps), sc.GetPayloadSarState())
			return l
		}
	case *usprecord.Record_WebsocketConnect:
		l.Record = "websocket_connect"
	case *usprecord.Record_MqttConnect:
		l.Record = "mqtt_connect"
	case *usprecord.Record_StompConnect:
		l.Record = "stomp_connect"
	case *usprecord.Record_UdsConnect:
		l.Record = "uds_connect"
	case *usprecord.Record_Disconnect:
		l.Record = "disconnect"
	default:
		l.Error = "a Record of no known type"
		return l
	}
	if payload == nil {
		return l
	}
	var m pb.Msg
	if err := proto.Unmarshal(payload, &m); err != nil {
		l.Error = "the payload is not a USP Message: " + err.Error()
		return l
	}
	l.MsgID, l.Type = m.GetHeader().GetMsgId(), m.GetHeader().GetMsgType().String()
	js, err := protojson.Marshal(&m)
	if err != nil {
		l.Error = "the Message as JSON: " + err.Error()
		return l
	}
	l.Msg = js
	return l
}
