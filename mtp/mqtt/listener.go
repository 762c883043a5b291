package mqtt

import (
	"context"
	"errors"
	"fmt"
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
type Listener struct {
	s       *settings
	link    link
	topic   string // the controller's own topic
	backlog chan *ctrlConn

	closeOnce sync.Once
	closed    chan struct{}

	mu    sync.Mutex
	conns map[string]*ctrlConn // by agent endpoint ID; written by dispatch and Conn.Close

	records, sessions, malformed, foreign, dropped atomic.Uint64
}

var _ mtp.Listener = (*Listener)(nil)

// Stats counts what a Listener received.
type Stats struct {
	Records   uint64 // Records queued to a Conn
	Sessions  uint64 // Conns created (Accept's backlog included)
	Malformed uint64 // dropped: not a protobuf Record, no from_id, too large, wrong content type
	Foreign   uint64 // dropped: to_id is another endpoint
	Dropped   uint64 // dropped: a Conn's queue or Accept's backlog was full
}

// NewListener connects to the broker as the controller c.ControllerID and
// subscribes to its topic; it gives up after c.DialTimeout.
func NewListener(c Config) (mtp.Listener, error) {
	s, err := c.settings()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.DialTimeout)
	defer cancel()
	l := &Listener{s: s, topic: expand(s.ControllerTopic, s.ControllerID), backlog: make(chan *ctrlConn, s.Backlog),
		closed: make(chan struct{}), conns: map[string]*ctrlConn{}}
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
	return l, nil
}

// dispatch routes one PUBLISH received on the controller topic; it runs
// on the link's reader goroutine and never blocks.
func (l *Listener) dispatch(m message) {
	switch {
	case m.oversize || len(m.payload) > l.s.MaxRecordSize:
		l.count(&l.malformed, "malformed", "larger than MaxRecordSize")
		return
	case m.contentType != "" && m.contentType != contentType && m.contentType != contentTypeMIME:
		l.count(&l.malformed, "malformed", "content type "+m.contentType)
		return
	}
	rec := new(usprecord.Record)
	if err := proto.Unmarshal(m.payload, rec); err != nil || rec.GetFromId() == "" {
		l.count(&l.malformed, "malformed", "not a USP Record with a from_id")
		return
	}
	if rec.GetToId() != l.s.ControllerID {
		l.count(&l.foreign, "foreign", "to_id "+rec.GetToId())
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
		l.count(&l.dropped, "dropped", "queue of "+c.peer+" full")
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
// a new session. nil: Accept's backlog is full.
func (l *Listener) session(agentID string, connect bool) *ctrlConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.conns[agentID]
	if c != nil && !connect {
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
		l.count(&l.dropped, "dropped", "accept backlog full, session of "+agentID)
		return nil
	}
	l.conns[agentID] = c
	l.sessions.Add(1)
	return c
}

// forget removes c from the routing table, if it is still there.
func (l *Listener) forget(c *ctrlConn) {
	l.mu.Lock()
	if l.conns[c.peer] == c {
		delete(l.conns, c.peer)
	}
	l.mu.Unlock()
}

func (l *Listener) count(n *atomic.Uint64, kind, detail string) {
	if v := n.Add(1); powerOfTwo(v) {
		l.s.Logf("mqtt: controller %s dropped a record (%s: %s); %d %s so far", l.s.ControllerID, kind, detail, v, kind)
	}
}

// Accept implements mtp.Listener.
func (l *Listener) Accept(ctx context.Context) (mtp.Conn, error) {
	select {
	case <-l.closed:
		return nil, mtp.ErrClosed
	default:
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
func (l *Listener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	l.link.close()
	return nil
}

// Stats returns the counters so far.
func (l *Listener) Stats() Stats {
	return Stats{Records: l.records.Load(), Sessions: l.sessions.Load(), Malformed: l.malformed.Load(),
		Foreign: l.foreign.Load(), Dropped: l.dropped.Load()}
}

// Topic is the controller's own topic (without the "/#" of its filter).
func (l *Listener) Topic() string { return l.topic }

func (l *Listener) String() string {
	return fmt.Sprintf("mqtt listener %s on %s", l.s.ControllerID, l.topic)
}
