package agents

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"brickyard/mtp"
	"brickyard/scenarios/dashboard"
	"brickyard/scenarios/metrics"
	"brickyard/scenarios/report"
	"brickyard/sim/fleet"
	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
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
	live    *dashboard.Live  // nil: none

	// Counted without the lock, by direction and slot (count).
	msgs     [2][slots]atomic.Int64
	ctrs     [2][slots]atomic.Pointer[counterBox]
	in, out  atomic.Int64 // Records
	requests atomic.Int64 // requests received

	mu          sync.Mutex
	errs        map[string]int       // problems by kind
	lat         *report.LatencySplit // by request type and send time; from startAt
	pending     map[reqKey]time.Time
	ups         map[string]uint32 // sessions opened, by device
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
	return &traffic{ctrlID: ctrlID, timeout: timeout, log: log, m: m, errs: map[string]int{},
		pending: map[reqKey]time.Time{}, ups: map[string]uint32{}, warned: map[string]bool{},
		lat: report.NewLatencySplit(time.Now())} // Run sets the run's start (startAt)
}

// startAt sets the run's start, from which latencies over time count. Call
// it before the devices run.
func (t *traffic) startAt(start time.Time) {
	t.mu.Lock()
	t.lat = report.NewLatencySplit(start)
	t.mu.Unlock()
}

func (t *traffic) observer() fleet.Observer {
	o := fleet.Observer{Record: t.record, Link: t.link}
	switch {
	case t.m != nil && t.live != nil:
		m, l := t.m, t.live
		o.Event = func(id, kind, detail string, at time.Time) {
			m.DeviceEvent(id, kind, detail, at)
			l.Event(id, kind, detail, at)
		}
	case t.m != nil:
		o.Event = t.m.DeviceEvent
	case t.live != nil:
		o.Event = t.live.Event
	}
	return o
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
	t.live.Link(id, ev, err, at)
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
		if t.m != nil {
			t.m.DialFailure()
		}
		if t.once("dial") {
			ws = append(ws, warning{"a device cannot open its session; devices retry with the TR-369 backoff (5-10 s, doubling)",
				[]zap.Field{zap.String("device", id), zap.Error(err), zap.String("hint", dialHint(err))}})
		}
	case fleet.LinkDown:
		if err != nil {
			t.lost++
			t.errs["session lost"]++
			if t.m != nil {
				t.m.SessionLost()
			}
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

// record reads one Record a device received or sent (usp.Peek: the wire
// bytes, not a decoding) and counts it. What every device does all the
// time (a request received, its answer sent) takes no lock: counters are
// atomic. The rest (errors, the devices' own requests and their answers,
// the first of each problem) is counted under t.mu.
func (t *traffic) record(id string, in bool, rec []byte, at time.Time) {
	d := dirSent
	if in {
		d = dirReceived
		t.in.Add(1)
	} else {
		t.out.Add(1)
	}
	g, err := usp.Peek(rec)
	if err != nil {
		t.locked(func(ws *[]warning) {
			t.errs[dirNames[d]+" malformed record"]++
			if in && t.once("malformed") {
				*ws = append(*ws, warning{"a device received bytes that are not a USP Record (or its Msg does not parse); it drops them",
					[]zap.Field{zap.String("device", id), zap.Error(err)}})
			}
		})
		return
	}
	t.live.Saw(id, in, g, at)
	if in {
		if string(g.To) != id || string(g.From) != t.ctrlID {
			if t.misaddressed(id, g) {
				return
			}
		}
		if g.Kind == usp.RecordDisconnect {
			t.count(d, slotDisconnect)
			t.locked(func(ws *[]warning) {
				if t.once("disconnect") {
					*ws = append(*ws, warning{"the controller sent a device a DisconnectRecord",
						[]zap.Field{zap.String("device", id), zap.Uint32("reason_code", g.ReasonCode), zap.ByteString("reason", g.Reason)}})
				}
			})
			return
		}
	}
	if !g.HasMsg {
		if g.Kind == usp.RecordSession {
			t.count(d, slotSession)
		}
		return
	}
	t.count(d, int(g.Type))
	switch {
	case in && g.Body == usp.BodyRequest:
		t.requests.Add(1)
	case in: // a response or an Error: to a device request?
		t.locked(func(ws *[]warning) { t.answered(id, g, at, ws) })
	case g.Body == usp.BodyRequest: // the device asks (Notify)
		if g.SendResp {
			t.locked(func(*[]warning) {
				k := reqKey{id, string(g.MsgID)}
				if _, ok := t.pending[k]; !ok && len(t.pending) < maxPending { // a retransmission keeps the first time
					t.pending[k] = at
				}
			})
		}
	case g.Body == usp.BodyError: // the device refuses
		t.locked(func(ws *[]warning) {
			t.problem("sent Error " + fmt.Sprint(g.ErrCode))
			if t.m != nil {
				t.m.Error(g.ErrCode)
			}
			if t.once("tx-error") {
				*ws = append(*ws, warning{"a device refused a controller request with an Error",
					[]zap.Field{zap.String("device", id), zap.ByteString("msg_id", g.MsgID), zap.Uint32("err_code", g.ErrCode), zap.ByteString("err_msg", g.ErrMsg)}})
			}
		})
	}
}

// locked runs f under t.mu and logs the warnings it gathers after.
func (t *traffic) locked(f func(ws *[]warning)) {
	var ws []warning
	t.mu.Lock()
	f(&ws)
	t.mu.Unlock()
	t.emit(ws)
}

// misaddressed counts a Record a device received that is not to it (it
// drops it: true) or not from --controller-id (it answers it).
func (t *traffic) misaddressed(id string, g usp.Glance) (dropped bool) {
	t.locked(func(ws *[]warning) {
		switch {
		case string(g.To) != id:
			dropped = true
			t.errs["received record for another endpoint"]++
			if t.once("to_id") {
				*ws = append(*ws, warning{"a device received a Record addressed to another endpoint; it drops it: the controller must use each agent's own endpoint ID as to_id",
					[]zap.Field{zap.String("device", id), zap.ByteString("to_id", g.To), zap.ByteString("from_id", g.From)}})
			}
		case string(g.From) != t.ctrlID:
			t.errs["received from another controller"]++
			if t.once("from_id") {
				*ws = append(*ws, warning{"a device received a Record from an endpoint other than --controller-id; it answers, but sends its notifications to --controller-id",
					[]zap.Field{zap.String("device", id), zap.ByteString("from_id", g.From), zap.String("controller_id", t.ctrlID)}})
			}
		}
	})
	return dropped
}

// answered counts a response or Error a device received: the latency of
// the device request it answers, the Error's code (t.mu held).
func (t *traffic) answered(id string, g usp.Glance, at time.Time, ws *[]warning) {
	if len(t.pending) > 0 {
		k := reqKey{id, string(g.MsgID)}
		if sent, ok := t.pending[k]; ok {
			delete(t.pending, k)
			d := at.Sub(sent)
			t.lat.Observe("Notify", sent, d) // the devices' requests are Notifies
			if t.m != nil {
				t.m.Latency(d)
			}
			t.live.Latency("Notify", d)
		}
	}
	if g.Body != usp.BodyError {
		return
	}
	t.problem("received Error " + fmt.Sprint(g.ErrCode))
	if t.m != nil {
		t.m.Error(g.ErrCode)
	}
	if t.once("rx-error") {
		*ws = append(*ws, warning{"the controller answered a device's request with an Error",
			[]zap.Field{zap.String("device", id), zap.ByteString("msg_id", g.MsgID), zap.Uint32("err_code", g.ErrCode), zap.ByteString("err_msg", g.ErrMsg)}})
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

// Directions and the counters' slots: one per USP message type, and two
// for Records that carry no Msg of their own.
const (
	dirReceived, dirSent = 0, 1

	slotSession    = int(pb.Header_DEREGISTER_RESP) + 1
	slotDisconnect = slotSession + 1
	slots          = slotDisconnect + 1
)

var (
	dirNames  = [2]string{metrics.Received, metrics.Sent}
	slotNames = func() (n [slots]string) {
		for i := range slotSession {
			n[i] = usp.TypeName(pb.Header_MsgType(i))
		}
		n[slotSession], n[slotDisconnect] = "SessionContextRecord", "DisconnectRecord"
		return n
	}()
)

// count counts one message of a slot in a direction.
func (t *traffic) count(dir, slot int) {
	t.msgs[dir][slot].Add(1)
	if t.m == nil {
		return
	}
	c := t.ctrs[dir][slot].Load()
	if c == nil {
		c = &counterBox{t.m.MessageCounter(dirNames[dir], slotNames[slot])}
		t.ctrs[dir][slot].Store(c)
	}
	c.Inc()
}

// counterBox holds a metrics counter for an atomic pointer.
type counterBox struct{ metrics.Counter }

// messages is the message counts as "received Get", "sent GetResp".
func (t *traffic) messages() map[string]int {
	out := map[string]int{}
	for d := range t.msgs {
		for s := range t.msgs[d] {
			if n := t.msgs[d][s].Load(); n > 0 {
				out[dirNames[d]+" "+slotNames[s]] = int(n)
			}
		}
	}
	return out
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
		if t.in.Load() == 0 {
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
	return trafficStats{int(t.in.Load()), int(t.out.Load()), int(t.requests.Load()), t.reconnects, t.dialFails, t.lost, t.noResponse, len(t.pending)}
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
