package dm

import (
	"math"
	"slices"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"

	pb "brickyard/usp/uspmsg"
)

// pending is a Notify sent with send_resp=true, waiting for its NotifyResp.
// It keeps the Msg encoded (a few dozen bytes instead of a tree of
// messages): a device holds it for as long as its controller does not
// answer, and a retry decodes it again.
type pending struct {
	raw     string // the Notify Msg, protobuf (deterministic)
	id      string // its msg_id
	to      string
	ctrl    string
	sub     *row      // the subscription row (nil for SendNotify)
	attempt int       // retries sent so far
	next    time.Time // when to send the next retry
	expires time.Time // NotifExpiration deadline; zero = never
}

// Notify retries (R-NOT.1–4). A Notify with send_resp=true is retried
// until a NotifyResp (or Error) with its msg_id arrives from its
// recipient, or its subscription's NotifExpiration has passed since it
// was first sent (0: until delivered or reboot). Retry n waits a random
// time in [m·(k/1000)^(n−1), m·(k/1000)^n] seconds, the 10th range
// repeating from then on, with m and k the recipient Controller's
// USPNotifRetryMinimumWaitInterval and USPNotifRetryIntervalMultiplier
// (5 and 2000 when absent). Every retry is the same Msg, same msg_id.
// Counters start at zero for each notification and after Restore.

// newPending is a pending notification of msg.
func newPending(msg *pb.Msg) *pending {
	raw, _ := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
	return &pending{raw: string(raw), id: msg.GetHeader().GetMsgId()}
}

// message decodes p's Msg.
func (p *pending) message() *pb.Msg {
	msg := &pb.Msg{}
	_ = proto.Unmarshal([]byte(p.raw), msg) // it was encoded from a valid Msg
	return msg
}

// hold starts retrying p.
func (m *Model) hold(p *pending, now time.Time) {
	if len(m.pend) >= m.s.opts.MaxPending {
		m.pend = slices.Delete(m.pend, 0, 1) // the oldest stops being retried
	}
	p.next = now.Add(m.retryWait(p.ctrl, 1, now))
	m.pend = append(m.pend, p)
}

// retryWait draws the wait before retry n (≥ 1) to Controller ctrl.
func (m *Model) retryWait(ctrl string, n int, now time.Time) time.Duration {
	minWait, mul := 5.0, 2000.0
	if c := m.s.ctrl; c != nil {
		if r := m.controllerRow(ctrl, now); r != nil {
			if c.minWait != nil {
				if v, err := strconv.ParseUint(m.read(c.minWait, r, now), 10, 32); err == nil {
					minWait = float64(max(v, 1)) // TR-181: 1..65535; 0 would spin
				}
			}
			if c.mul != nil {
				if v, err := strconv.ParseUint(m.read(c.mul, r, now), 10, 32); err == nil {
					mul = float64(v)
				}
			}
		}
	}
	n = min(max(n, 1), 10)
	k := max(mul, 1000) / 1000
	lo := minWait * math.Pow(k, float64(n-1))
	hi := lo * k
	d := lo
	if m.rnd != nil {
		d = lo + m.rnd.Float64()*(hi-lo)
	}
	return time.Duration(min(d, 1e9) * float64(time.Second))
}

// delivered ends the retries of the Notify with msg_id id, answered by
// the Controller from (R-MSG.9: an answer from anyone else is ignored).
func (m *Model) delivered(id string, from Origin) {
	m.pend = slices.DeleteFunc(m.pend, func(p *pending) bool {
		return p.id == id && (from.EndpointID == "" || from.EndpointID == p.to)
	})
	if len(m.pend) == 0 {
		m.pend = nil // an idle device holds no array
	}
}

// Tick advances the model to now: it sends the Notify retries that are
// due, stops retrying those past their NotifExpiration, and deletes the
// subscriptions whose TimeToLive has run out (with ObjectDeletion
// notifications). Call it at (or after) the Wake time of the last Effects.
func (m *Model) Tick(now time.Time) Effects {
	m.begin()
	m.expireSubscriptions(now)
	keep := m.pend[:0]
	for _, p := range m.pend {
		if !p.expires.IsZero() && !now.Before(p.expires) {
			continue
		}
		if !now.Before(p.next) {
			m.effects().Notify = append(m.effects().Notify, Notification{To: p.to, Controller: p.ctrl, Msg: p.message(), Retry: true})
			p.attempt++
			p.next = now.Add(m.retryWait(p.ctrl, p.attempt+1, now))
		}
		keep = append(keep, p)
	}
	clear(m.pend[len(keep):])
	m.pend = keep
	return m.end()
}

// nextWake is the earliest time Tick has work: a retry, a NotifExpiration
// or a TimeToLive deadline.
func (m *Model) nextWake() time.Time {
	var w time.Time
	earlier := func(t time.Time) {
		if !t.IsZero() && (w.IsZero() || t.Before(w)) {
			w = t
		}
	}
	for _, p := range m.pend {
		earlier(p.next)
		earlier(p.expires)
	}
	if m.s.subs != nil {
		for _, s := range m.subscriptions(time.Time{}) {
			earlier(s.deadline)
		}
	}
	return w
}

// Pending is the number of notifications waiting for a NotifyResp.
func (m *Model) Pending() int { return len(m.pend) }

// Wake is the earliest time Tick has work (zero: none), as Effects.Wake
// reports it; useful after Restore.
func (m *Model) Wake() time.Time { return m.nextWake() }
