package campaign

import (
	"container/heap"
	"time"

	"brickyard/sim/fleet"
	pb "brickyard/usp/uspmsg"
)

// The controller's requests in flight.
//
// Every request waits for its response in pend (by msg_id) and in its
// device's list; its timeout waits in a heap. A request with no response
// within RequestTimeout is sent again under a new msg_id, at most Retries
// times, when its device is connected.
//
// A new session of a device (Connected) means the Records sent on the old
// one may have gone nowhere (a broker restart, a dropped connection): the
// device's pending reads (Get, and the setup Add, whose repeat the agent
// refuses harmlessly) go again at once; its pending operations (Download(),
// Activate(), Reboot(), the BootFirmwareImage Set) go again after
// reconnectGrace, unless a Boot! shows first that the device rebooted
// (then they belonged to the boot before and are dropped). These repeats
// do not use up Retries (maxLost bounds them).
//
// A Boot! reports the boot a session began with, so it says nothing of an
// operation sent on that same session: a device that comes back and is
// sent its Download() at once announces its earlier boot just after.
// Operations are therefore judged by a Boot! only when they went out on
// an earlier session.
//
// A repeated request's refusal decides nothing: its first attempt may
// have arrived and be under way (a Download() sent again answers "a
// download is already in progress"), so the device's own notifications
// and the wave's deadline decide.

// reconnectGrace is how long an operation waits after a new session
// before it goes again: a rebooted device's Boot! comes first.
const reconnectGrace = 5 * time.Second

// maxLost bounds the repeats of one request caused by new sessions.
const maxLost = 16

type pending struct {
	dev      int
	kind     string // what the request is for, see Receive
	msg      *pb.Msg
	first    time.Time // first send
	due      time.Time // when it times out (or goes again after a new session)
	attempts int       // sends counted against Retries
	lost     int       // sends again because a session was lost
	relost   bool      // due is a repeat after a lost session, not a timeout
	sess     int       // the device's session it last went out on
}

// idempotent reports whether sending the request twice does no harm.
func (p *pending) idempotent() bool {
	switch p.kind {
	case "get", "verify", "setup":
		return true
	}
	return false
}

// repeated reports whether the request went more than once.
func (p *pending) repeated() bool { return p.attempts > 1 || p.lost > 0 }

type timeout struct {
	due time.Time
	seq uint64
	id  string
}

// timeouts is a min-heap by (due, seq). Entries go stale when their
// request is answered or rescheduled; they are skipped when popped.
type timeouts []timeout

func (h timeouts) Len() int { return len(h) }
func (h timeouts) Less(i, j int) bool {
	if !h[i].due.Equal(h[j].due) {
		return h[i].due.Before(h[j].due)
	}
	return h[i].seq < h[j].seq
}
func (h timeouts) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timeouts) Push(x any)   { *h = append(*h, x.(timeout)) }
func (h *timeouts) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// track puts request id (pending p) in flight.
func (c *Campaign) track(id string, p *pending) {
	c.pend[id] = p
	d := &c.devs[p.dev]
	d.reqs = append(d.reqs, id)
	c.schedule(id, p)
}

// schedule (re)arms request id's timeout at p.due.
func (c *Campaign) schedule(id string, p *pending) {
	c.seq++
	heap.Push(&c.timers, timeout{due: p.due, seq: c.seq, id: id})
}

// untrack takes request id out of flight.
func (c *Campaign) untrack(id string) *pending {
	p := c.pend[id]
	if p == nil {
		return nil
	}
	delete(c.pend, id)
	d := &c.devs[p.dev]
	for i, x := range d.reqs {
		if x == id {
			d.reqs = append(d.reqs[:i], d.reqs[i+1:]...)
			break
		}
	}
	return p
}

// reconnected handles the device's new session: see the top of the file.
func (c *Campaign) reconnected(n int, now time.Time, out []fleet.Send) []fleet.Send {
	d := &c.devs[n]
	for _, id := range append([]string(nil), d.reqs...) {
		p := c.pend[id]
		if p == nil || p.lost >= maxLost {
			continue
		}
		if p.idempotent() {
			out = c.again(id, p, now, false, out)
			continue
		}
		if at := now.Add(reconnectGrace); at.Before(p.due) {
			p.due, p.relost = at, true
			c.schedule(id, p)
		}
	}
	return out
}

// rebooted drops the device's pending operations sent before its current
// session: they belonged to the boot before. Those sent on the current
// session went out after the boot the Boot! reports, and stay.
func (c *Campaign) rebooted(n int) {
	d := &c.devs[n]
	for _, id := range append([]string(nil), d.reqs...) {
		if p := c.pend[id]; p != nil && !p.idempotent() && p.sess < d.sessions {
			c.untrack(id)
		}
	}
}

// expire sends again, or gives up, every request whose timeout is due.
func (c *Campaign) expire(now time.Time, out []fleet.Send) []fleet.Send {
	for len(c.timers) > 0 && !c.timers[0].due.After(now) {
		e := heap.Pop(&c.timers).(timeout)
		p := c.pend[e.id]
		if p == nil || !p.due.Equal(e.due) {
			continue // answered, or rescheduled
		}
		if !c.devs[p.dev].online {
			p.due = now.Add(c.cfg.RequestTimeout) // goes again when it reconnects
			c.schedule(e.id, p)
			continue
		}
		out = c.again(e.id, p, now, !p.relost, out)
	}
	return out
}

// again sends pending request id again under a new msg_id; counted says
// whether the send counts against Retries (a timeout) or not (a lost
// session). It gives up once Retries are used up.
func (c *Campaign) again(id string, p *pending, now time.Time, counted bool, out []fleet.Send) []fleet.Send {
	c.untrack(id)
	if counted {
		if c.cfg.Retries < 0 || p.attempts > c.cfg.Retries {
			c.logf("%s: no response to %s %s after %d attempts", c.devs[p.dev].id, p.kind, id, p.attempts+p.lost)
			return out
		}
		p.attempts++
	} else {
		p.lost++
	}
	p.relost = false
	nid := c.nextID()
	p.msg.Header.MsgId = nid
	p.due = now.Add(c.cfg.RequestTimeout)
	p.sess = c.devs[p.dev].sessions
	if !p.idempotent() {
		c.devs[p.dev].opSess = p.sess
	}
	c.track(nid, p)
	return c.seal(p.dev, p.msg, out)
}

// nextTimeout is when the earliest live timeout is due (zero: none).
func (c *Campaign) nextTimeout() time.Time {
	for len(c.timers) > 0 {
		e := c.timers[0]
		if p := c.pend[e.id]; p != nil && p.due.Equal(e.due) {
			return e.due
		}
		heap.Pop(&c.timers)
	}
	return time.Time{}
}
