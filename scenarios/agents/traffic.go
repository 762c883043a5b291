package agents

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"brickyard/mtp"
	"brickyard/scenarios/metrics"
	"brickyard/scenarios/report"
	"brickyard/sim/fleet"
	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
	"brickyard/usp/usprecord"
)

// maxPending bounds the device requests waiting for the controller's
// answer that traffic remembers (for latencies and "no response").
const maxPending = 200_000

// traffic is what the devices saw of the controller, fed by the fleet's
// Observer from every device goroutine: messages by direction and type,
// the controller's response latency to the devices' requests (Notify with
// send_resp), sessions, reconnects, and the first failure of each kind,
// which it logs once so that a wrong endpoint ID, topic or address shows
// at once.
type traffic struct {
	ctrlID  string
	timeout time.Duration
	log     *zap.Logger
	m       *metrics.Metrics // nil: none

	mu          sync.Mutex
	msgs        map[string]int // "received Get", "sent GetResp"
	errs        map[string]int // problems by kind
	hist        report.Histogram
	pending     map[reqKey]time.Time
	ups         map[string]uint32 // sessions opened, by device
	in, out     int               // Records
	requests    int               // requests received
	reconnects  int
	dialFails   int
	lost        int // sessions the peer or network ended
	noResponse  int
	firstUp     time.Time
	warned      map[string]bool
	silenceSeen bool
}

type reqKey struct{ dev, msgID string }

func newTraffic(ctrlID string, timeout time.Duration, log *zap.Logger, m *metrics.Metrics) *traffic {
	return &traffic{ctrlID: ctrlID, timeout: timeout, log: log, m: m, msgs: map[string]int{}, errs: map[string]int{},
		pending: map[reqKey]time.Time{}, ups: map[string]uint32{}, warned: map[string]bool{}}
}

func (t *traffic) observer() fleet.Observer {
	return fleet.Observer{Record: t.record, Link: t.link}
}

// once reports whether kind is seen for the first time (t.mu held).
func (t *traffic) once(kind string) bool {
	if t.warned[kind] {
		return false
	}
	t.warned[kind] = true
	return true
}

// warning is a log line to write once t.mu is released.
type warning struct {
	msg    string
	fields []zap.Field
}

func (t *traffic) emit(ws []warning) {
	for _, w := range ws {
		t.log.Warn(w.msg, w.fields...)
	}
}

func (t *traffic) link(id string, ev fleet.LinkEvent, err error, at time.Time) {
	var ws []warning
	t.mu.Lock()
	switch ev {
	case fleet.LinkUp:
		t.ups[id]++
		if t.ups[id] > 1 {
			t.reconnects++
			if t.m != nil {
				t.m.Reconnect()
			}
		}
		if t.firstUp.IsZero() {
			t.firstUp = at
			t.log.Info("first session up", zap.String("device", id))
		}
	case fleet.LinkFail:
		t.dialFails++
		t.errs["dial failed"]++
		if t.once("dial") {
			ws = append(ws, warning{"a device cannot open its session; devices retry with the TR-369 backoff (5-10 s, doubling)",
				[]zap.Field{zap.String("device", id), zap.Error(err), zap.String("hint", dialHint(err))}})
		}
	case fleet.LinkDown:
		if err != nil {
			t.lost++
			t.errs["session lost"]++
			if t.once("lost") {
				ws = append(ws, warning{"the controller or the network ended a device's session; it reconnects after the retry wait",
					[]zap.Field{zap.String("device", id), zap.Error(err)}})
			}
		}
	}
	t.mu.Unlock()
	t.emit(ws)
}

// dialHint says what a dial error usually means.
func dialHint(err error) string {
	s := err.Error()
	switch {
	case strings.Contains(s, "connection refused"):
		return "nothing listens at that address: is the controller or broker up, and the port right?"
	case strings.Contains(s, "bad handshake") || strings.Contains(s, "404") || strings.Contains(s, "400"):
		return "the server refused the WebSocket upgrade: check the path of --ws-url"
	case strings.Contains(s, "certificate") || strings.Contains(s, "x509") || strings.Contains(s, "tls"):
		return "TLS failed: check --tls-ca, --tls-server-name and the client certificate"
	case strings.Contains(s, "not authori") || strings.Contains(s, "auth") || strings.Contains(s, "login"):
		return "the broker refused the credentials: check --username and --password"
	case errors.Is(err, mtp.ErrBroken):
		return "the session broke while it opened"
	}
	return "check the address and the controller's logs"
}

// record decodes one Record a device received or sent and counts it.
func (t *traffic) record(id string, in bool, rec []byte, at time.Time) {
	dir := metrics.Sent
	if in {
		dir = metrics.Received
	}
	var r usprecord.Record
	var msg *pb.Msg
	bad := proto.Unmarshal(rec, &r)
	if bad == nil {
		if nsc := r.GetNoSessionContext(); nsc != nil {
			msg = &pb.Msg{}
			if err := proto.Unmarshal(nsc.GetPayload(), msg); err != nil {
				bad, msg = err, nil
			}
		}
	}
	var ws []warning
	t.mu.Lock()
	defer func() { t.mu.Unlock(); t.emit(ws) }()
	if in {
		t.in++
	} else {
		t.out++
	}
	if bad != nil {
		t.errs[dir+" malformed record"]++
		if in && t.once("malformed") {
			ws = append(ws, warning{"a device received bytes that are not a USP Record (or its Msg does not parse); it drops them",
				[]zap.Field{zap.String("device", id), zap.Error(bad)}})
		}
		return
	}
	if in {
		switch {
		case r.GetToId() != id:
			t.errs["received record for another endpoint"]++
			if t.once("to_id") {
				ws = append(ws, warning{"a device received a Record addressed to another endpoint; it drops it: the controller must use each agent's own endpoint ID as to_id",
					[]zap.Field{zap.String("device", id), zap.String("to_id", r.GetToId()), zap.String("from_id", r.GetFromId())}})
			}
			return
		case r.GetFromId() != t.ctrlID:
			t.errs["received from another controller"]++
			if t.once("from_id") {
				ws = append(ws, warning{"a device received a Record from an endpoint other than --controller-id; it answers, but sends its notifications to --controller-id",
					[]zap.Field{zap.String("device", id), zap.String("from_id", r.GetFromId()), zap.String("controller_id", t.ctrlID)}})
			}
		}
		if d := r.GetDisconnect(); d != nil {
			t.count(dir, "DisconnectRecord")
			if t.once("disconnect") {
				ws = append(ws, warning{"the controller sent a device a DisconnectRecord",
					[]zap.Field{zap.String("device", id), zap.Uint32("reason_code", d.GetReasonCode()), zap.String("reason", d.GetReason())}})
			}
			return
		}
	}
	if msg == nil {
		if r.GetSessionContext() != nil {
			t.count(dir, "SessionContextRecord")
		}
		return
	}
	typ := usp.TypeOf(msg)
	name := usp.TypeName(typ)
	t.count(dir, name)
	msgID := msg.GetHeader().GetMsgId()
	switch {
	case in && usp.IsRequest(msg):
		t.requests++
	case in: // a response or an Error: to a device request?
		k := reqKey{id, msgID}
		if sent, ok := t.pending[k]; ok {
			delete(t.pending, k)
			d := at.Sub(sent)
			t.hist.Observe(d)
			if t.m != nil {
				t.m.Latency(d)
			}
		}
		if e := msg.GetBody().GetError(); e != nil {
			t.problem("received Error " + fmt.Sprint(e.GetErrCode()))
			if t.m != nil {
				t.m.Error(e.GetErrCode())
			}
			if t.once("rx-error") {
				ws = append(ws, warning{"the controller answered a device's request with an Error",
					[]zap.Field{zap.String("device", id), zap.String("msg_id", msgID), zap.Uint32("err_code", e.GetErrCode()), zap.String("err_msg", e.GetErrMsg())}})
			}
		}
	case usp.IsRequest(msg): // the device asks (Notify)
		if msg.GetBody().GetRequest().GetNotify().GetSendResp() && len(t.pending) < maxPending {
			k := reqKey{id, msgID}
			if _, ok := t.pending[k]; !ok { // a retransmission keeps the first time
				t.pending[k] = at
			}
		}
	default: // the device answers
		if e := msg.GetBody().GetError(); e != nil {
			t.problem("sent Error " + fmt.Sprint(e.GetErrCode()))
			if t.m != nil {
				t.m.Error(e.GetErrCode())
			}
			if t.once("tx-error") {
				ws = append(ws, warning{"a device refused a controller request with an Error",
					[]zap.Field{zap.String("device", id), zap.String("msg_id", msgID), zap.Uint32("err_code", e.GetErrCode()), zap.String("err_msg", e.GetErrMsg())}})
			}
		}
	}
}

// maxProblemKinds bounds the kinds of problems counted: error codes come
// from the controller, which may send any.
const maxProblemKinds = 128

// problem counts one problem of a kind (t.mu held).
func (t *traffic) problem(kind string) {
	if _, ok := t.errs[kind]; !ok && len(t.errs) >= maxProblemKinds {
		kind = "other"
	}
	t.errs[kind]++
}

func (t *traffic) count(dir, name string) {
	t.msgs[dir+" "+name]++
	if t.m != nil {
		t.m.Message(dir, name)
	}
}

// sweep reports device requests unanswered for longer than the timeout,
// and a controller that has said nothing at all that long after the first
// session came up.
func (t *traffic) sweep(now time.Time) {
	var ws []warning
	t.mu.Lock()
	for k, sent := range t.pending {
		if now.Sub(sent) < t.timeout {
			continue
		}
		delete(t.pending, k)
		t.noResponse++
		t.errs["no response"]++
		if t.once("no-response") {
			ws = append(ws, warning{"the controller did not answer a device's Notify: is --controller-id its endpoint ID, and (MQTT, STOMP) does it listen on --controller-topic / --controller-dest?",
				[]zap.Field{zap.String("device", k.dev), zap.String("msg_id", k.msgID), zap.String("waited", sinceStr(now.Sub(sent))), zap.String("controller_id", t.ctrlID)}})
		}
	}
	if !t.silenceSeen && !t.firstUp.IsZero() && now.Sub(t.firstUp) >= t.timeout {
		t.silenceSeen = true
		if t.in == 0 {
			ws = append(ws, warning{"devices have been connected this long and none has received a Record from the controller: does it address them by their endpoint IDs (--ids), and (MQTT, STOMP) publish to --agent-topic / --agent-dest?",
				[]zap.Field{zap.String("since_first_session", sinceStr(now.Sub(t.firstUp)))}})
		}
	}
	t.mu.Unlock()
	t.emit(ws)
}

// trafficStats is a snapshot of the counters.
type trafficStats struct {
	in, out, requests, reconnects, dialFails, lost, noResponse, pending int
}

func (t *traffic) stats() trafficStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return trafficStats{t.in, t.out, t.requests, t.reconnects, t.dialFails, t.lost, t.noResponse, len(t.pending)}
}

// everUp reports whether device id ever had a session.
func (t *traffic) everUp(id string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ups[id] > 0
}

// sinceStr is a duration for messages: whole seconds above a second.
func sinceStr(d time.Duration) string {
	if d >= time.Second {
		return d.Truncate(time.Second).String()
	}
	return d.Truncate(time.Millisecond).String()
}
