package mqtt

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"google.golang.org/protobuf/proto"

	"brickyard/mtp"
	"brickyard/usp/usprecord"
)

// Listener is the controller's side: one broker connection subscribed to
// "<controller topic>/#", demultiplexed into one Conn per agent by the
// from_id of the agents' Records. NewListener returns it as an
// mtp.Listener; assert to *Listener for Stats.
//
// The broker connection's reader goroutine runs dispatch; Accept, and the
// Conns' Recv and Send, run on the caller's goroutines. When the broker
// connection ends, Accept and every Conn report ErrBroken; make a new
// Listener to reconnect.
//
// The agents outlive a broker connection: when it ends other than by
// Close, the next Listener made in this process for the same broker
// address, controller ID and controller topic resumes a session with
// every agent whose session was live then (the package documentation,
// "After a broker outage", has the rule).
type Listener struct {
	s       *settings
	key     listenerKey
	link    link
	topic   string // the controller's own topic
	backlog chan *ctrlConn

	closeOnce sync.Once
	closed    chan struct{}

	mu     sync.Mutex
	conns  map[string]*ctrlConn // by agent endpoint ID; written by dispatch, Accept and Conn.Close
	resume []agentAddr          // agents of an earlier Listener that Accept has not resumed yet

	records, sessions, resumed, malformed, foreign, dropped atomic.Uint64
}

var _ mtp.Listener = (*Listener)(nil)

// Stats counts what a Listener received.
type Stats struct {
	Records   uint64 // Records queued to a Conn
	Sessions  uint64 // Conns created (Accept's backlog included)
	Resumed   uint64 // … of which resumed with agents an earlier Listener knew
	Malformed uint64 // dropped: not a protobuf Record, no from_id, too large, wrong content type
	Foreign   uint64 // dropped: to_id is another endpoint
	Dropped   uint64 // dropped: a Conn's queue or Accept's backlog was full
}

// NewListener connects to the broker as the controller c.ControllerID and
// subscribes to its topic; it gives up after c.DialTimeout. Once
// subscribed, it takes over the agents of earlier Listeners for the same
// broker and controller whose connection ended (see Listener).
func NewListener(c Config) (mtp.Listener, error) {
	s, err := c.settings()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.DialTimeout)
	defer cancel()
	l := &Listener{s: s, topic: expand(s.ControllerTopic, s.ControllerID), backlog: make(chan *ctrlConn, s.Backlog),
		closed: make(chan struct{}), conns: map[string]*ctrlConn{}}
	l.key = listenerKey{addr: s.addr, controllerID: s.ControllerID, topic: l.topic}
	clientID := expand(s.ClientID, s.ControllerID)
	if s.ClientID == "" && s.Version == V311 {
		clientID = s.ControllerID
	}
	nc, err := dialBroker(ctx, s)
	if err != nil {
		return nil, broken("dial "+s.addr, err)
	}
	lk, _, err := connect(ctx, s.Version, nc, linkParams{
		clientID: clientID, username: s.Username, password: s.Password, keepAlive: s.ka, qos: s.qos,
		endpointID: s.ControllerID, receiveMax: 1024, maxPacket: s.maxPacket(), onMessage: l.dispatch,
	})
	if err != nil {
		return nil, broken("connect to "+s.addr, err)
	}
	l.link = lk
	if err := lk.subscribe(ctx, []string{l.topic + "/#"}); err != nil {
		lk.close()
		return nil, broken("subscribe", err)
	}
	l.adopt()
	return l, nil
}

// agentAddr is what a controller knows of an agent's address: enough to
// send to it without a Record from it (see ctrlConn.dest).
type agentAddr struct {
	id         string
	replyTo    string
	subscribed string
	v5         bool
}

// listenerKey is one controller on one broker.
type listenerKey struct{ addr, controllerID, topic string }

// Handover carries a controller's agents from one Listener to the next
// across broker outages: a Listener made with it that loses its broker
// connection leaves the agents it had a live session with in it, and the
// next Listener made with the same Handover (for the same broker address,
// controller ID and controller topic) takes them over once it has
// subscribed. The caller owns it and passes it to each Listener it makes
// for one controller; it is safe for concurrent use. Without one
// (Config.Handover nil) a new Listener knows only the agents that speak
// to it.
type Handover struct {
	mu sync.Mutex
	m  map[listenerKey][]*Listener
}

// NewHandover makes an empty Handover.
func NewHandover() *Handover { return &Handover{m: map[listenerKey][]*Listener{}} }

// adopt registers l, which has just subscribed, and takes over the agents
// of the Listeners for the same key whose broker connection has ended:
// Accept will hand out a session for each. Agents that sent a Record to l
// meanwhile have a session already; Accept skips them.
func (l *Listener) adopt() {
	h := l.s.Handover
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var keep []*Listener
	var adopted []agentAddr
	for _, p := range h.m[l.key] {
		if isDone(p.link.done()) {
			adopted = append(adopted, p.orphans()...)
		} else {
			keep = append(keep, p)
		}
	}
	h.m[l.key] = append(keep, l)
	if len(adopted) == 0 {
		return
	}
	// One session per agent, in a stable order; the first address seen
	// is the freshest (orphans lists live sessions first).
	slices.SortStableFunc(adopted, func(a, b agentAddr) int { return cmp.Compare(a.id, b.id) })
	adopted = slices.CompactFunc(adopted, func(a, b agentAddr) bool { return a.id == b.id })
	l.mu.Lock()
	l.resume = adopted
	l.mu.Unlock()
}

// orphans empties the routing table of a Listener whose broker connection
// ended and returns the agents it had: those with a live session when the
// connection ended (Conn.Close afterwards does not remove them), then
// those it had adopted and not resumed yet.
func (l *Listener) orphans() []agentAddr {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]agentAddr, 0, len(l.conns)+len(l.resume))
	for _, c := range l.conns {
		out = append(out, c.addr())
	}
	out = append(out, l.resume...)
	clear(l.conns)
	l.resume = nil
	return out
}

// retire removes l from its Handover: it was closed while its broker
// connection was up, so no later Listener resumes its agents.
func (l *Listener) retire() {
	h := l.s.Handover
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	ls := slices.DeleteFunc(h.m[l.key], func(p *Listener) bool { return p == l })
	if len(ls) == 0 {
		delete(h.m, l.key)
	} else {
		h.m[l.key] = ls
	}
}

// nextResumed makes the session of the next adopted agent that has none
// yet; nil when there is none left.
func (l *Listener) nextResumed() *ctrlConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.resume) > 0 {
		a := l.resume[0]
		l.resume = l.resume[1:]
		if len(l.resume) == 0 {
			l.resume = nil
		}
		if l.conns[a.id] != nil {
			continue // the agent spoke first: its own session stands
		}
		c := newCtrlConn(l, a.id)
		c.resume(a)
		l.conns[a.id] = c
		l.sessions.Add(1)
		l.resumed.Add(1)
		return c
	}
	return nil
}

func isDone(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// dispatch routes one PUBLISH received on the controller topic; it runs
// on the link's reader goroutine and never blocks.
func (l *Listener) dispatch(m message) {
	switch {
	case m.oversize || len(m.payload) > l.s.MaxRecordSize:
		l.count(&l.malformed, mtp.DropTooLarge, "larger than MaxRecordSize")
		return
	case m.contentType != "" && m.contentType != contentType && m.contentType != contentTypeMIME:
		l.count(&l.malformed, mtp.DropMalformed, "content type "+m.contentType)
		return
	}
	rec := new(usprecord.Record)
	if err := proto.Unmarshal(m.payload, rec); err != nil || rec.GetFromId() == "" {
		l.count(&l.malformed, mtp.DropMalformed, "not a USP Record with a from_id")
		return
	}
	if rec.GetToId() != l.s.ControllerID {
		l.count(&l.foreign, mtp.DropForeign, "to_id "+rec.GetToId())
		return
	}
	var hint replyHint
	if validTopic(m.responseTopic) {
		hint = replyHint{topic: m.responseTopic, known: true, v5: true}
	} else if _, rt, ok := splitReplyTo(m.topic); ok {
		hint = replyHint{topic: rt, known: true}
	}
	if mc := rec.GetMqttConnect(); mc != nil {
		hint.known, hint.v5 = true, mc.GetVersion() == usprecord.MQTTConnectRecord_V5
		if validTopic(mc.GetSubscribedTopic()) {
			hint.subscribed = mc.GetSubscribedTopic()
		}
	}
	c := l.session(rec.GetFromId(), rec.GetMqttConnect() != nil)
	if c == nil {
		return
	}
	c.update(hint)
	if !c.enqueue(m.payload) {
		l.count(&l.dropped, mtp.DropQueueFull, "queue of "+c.peer+" full")
		return
	}
	l.records.Add(1)
	if rec.GetDisconnect() != nil {
		c.end(errors.New("the agent sent a disconnect record"))
		l.forget(c)
	}
}

// session returns the agent's Conn, making one (and queueing it for
// Accept) at its first Record or at an mqtt_connect Record, which starts
// a new session, unless the Conn is a resumed one that nothing has gone
// through yet (see Listener). nil: Accept's backlog is full.
func (l *Listener) session(agentID string, connect bool) *ctrlConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.conns[agentID]
	if c != nil && (!connect || c.takeConnect()) {
		return c
	}
	if c != nil {
		c.end(errors.New("the agent started a new session"))
		delete(l.conns, agentID)
	}
	c = newCtrlConn(l, agentID)
	select {
	case l.backlog <- c:
	default:
		l.count(&l.dropped, mtp.DropQueueFull, "accept backlog full, session of "+agentID)
		return nil
	}
	l.conns[agentID] = c
	l.sessions.Add(1)
	return c
}

// forget removes c from the routing table, if it is still there and the
// broker connection is up: a session that ended with the connection stays,
// for the next Listener to resume.
func (l *Listener) forget(c *ctrlConn) {
	l.mu.Lock()
	if l.conns[c.peer] == c && !isDone(l.link.done()) {
		delete(l.conns, c.peer)
	}
	l.mu.Unlock()
}

func (l *Listener) count(n *atomic.Uint64, c mtp.DropCause, detail string) {
	l.s.Drops.Add(c, l.s.ControllerID, detail)
	if v := n.Add(1); powerOfTwo(v) {
		l.s.Logf("mqtt: controller %s dropped a record (%s: %s); %d so far", l.s.ControllerID, c, detail, v)
	}
}

// Accept implements mtp.Listener. Sessions that agents opened come first,
// then the sessions resumed with the agents of an earlier Listener (see
// Listener), then Accept waits.
func (l *Listener) Accept(ctx context.Context) (mtp.Conn, error) {
	select {
	case <-l.closed:
		return nil, mtp.ErrClosed
	default:
	}
	select {
	case c := <-l.backlog:
		return c, nil
	default:
	}
	if !isDone(l.link.done()) {
		if c := l.nextResumed(); c != nil {
			return c, nil
		}
	}
	select {
	case c := <-l.backlog:
		return c, nil
	case <-l.closed:
		return nil, mtp.ErrClosed
	case <-l.link.done():
		return nil, broken("controller's broker session ended", l.link.cause())
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close implements mtp.Listener: DISCONNECT, wait for the broker
// connection's goroutines; every Conn given out then reports ErrBroken.
// Closing a Listener whose broker connection is up forgets its agents;
// closing one whose connection had ended leaves them to the next Listener
// for the same broker and controller.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() {
		if !isDone(l.link.done()) {
			l.retire()
		}
		close(l.closed)
	})
	l.link.close()
	return nil
}

// Stats returns the counters so far.
func (l *Listener) Stats() Stats {
	return Stats{Records: l.records.Load(), Sessions: l.sessions.Load(), Resumed: l.resumed.Load(),
		Malformed: l.malformed.Load(), Foreign: l.foreign.Load(), Dropped: l.dropped.Load()}
}

// Topic is the controller's own topic (without the "/#" of its filter).
func (l *Listener) Topic() string { return l.topic }

func (l *Listener) String() string {
	return fmt.Sprintf("mqtt listener %s on %s", l.s.ControllerID, l.topic)
}
