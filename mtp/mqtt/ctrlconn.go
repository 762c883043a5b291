package mqtt

import (
	"context"
	"sync"

	"brickyard/mtp"
)

// replyHint is what one received PUBLISH tells about the agent's address.
type replyHint struct {
	topic      string // Response Topic or 3.1.1 reply-to; empty: none named
	subscribed string // mqtt_connect subscribed_topic
	known      bool   // the agent's version is known from this PUBLISH
	v5         bool
}

// ctrlConn is the controller's session with one agent. It owns no
// goroutine: the Listener's dispatch fills its queue, and it publishes
// through the Listener's broker connection.
type ctrlConn struct {
	l    *Listener
	peer string
	in   chan []byte

	mu         sync.Mutex
	replyTo    string // the reply topic of the agent's last Record
	subscribed string // from its mqtt_connect Record
	v5         bool   // the agent speaks MQTT 5
	resumed    bool   // opened by the Listener for an agent an earlier one knew
	used       bool   // a Record was routed to it, or Send was called

	endOnce sync.Once
	ended   chan struct{}
	endErr  error // set before ended is closed

	closeOnce sync.Once
	closed    chan struct{}
}

var _ mtp.Conn = (*ctrlConn)(nil)

func newCtrlConn(l *Listener, agentID string) *ctrlConn {
	return &ctrlConn{l: l, peer: agentID, in: make(chan []byte, l.s.QueueLen), v5: l.s.Version == V5,
		ended: make(chan struct{}), closed: make(chan struct{})}
}

// update takes what a Record routed to c tells of the agent's address.
func (c *ctrlConn) update(h replyHint) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.used = true
	if h.topic != "" {
		c.replyTo = h.topic
	}
	if h.subscribed != "" {
		c.subscribed = h.subscribed
	}
	if h.known {
		c.v5 = h.v5
	}
}

// addr is what the session knows of the agent's address.
func (c *ctrlConn) addr() agentAddr {
	c.mu.Lock()
	defer c.mu.Unlock()
	return agentAddr{id: c.peer, replyTo: c.replyTo, subscribed: c.subscribed, v5: c.v5}
}

// resume makes c a resumed session, with the address an earlier one knew.
func (c *ctrlConn) resume(a agentAddr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.replyTo, c.subscribed, c.v5 = a.replyTo, a.subscribed, a.v5
	c.resumed = true
}

// takeConnect says whether the agent's mqtt_connect Record goes to c
// rather than starting a new session: c was resumed and nothing has gone
// through it yet, so nothing was lost before the agent connected. c is
// used from then on.
func (c *ctrlConn) takeConnect() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	take := c.resumed && !c.used
	c.used = true
	return take
}

// markUsed records that a Record went through c (see takeConnect).
func (c *ctrlConn) markUsed() {
	c.mu.Lock()
	c.used = true
	c.mu.Unlock()
}

func (c *ctrlConn) enqueue(rec []byte) bool {
	select {
	case c.in <- rec:
		return true
	default:
		return false
	}
}

// end ends the session (the agent started another, or said goodbye).
func (c *ctrlConn) end(err error) {
	c.endOnce.Do(func() {
		c.endErr = err
		close(c.ended)
	})
}

// Recv implements mtp.Conn.
func (c *ctrlConn) Recv(ctx context.Context) ([]byte, error) {
	select {
	case <-c.closed:
		return nil, mtp.ErrClosed
	default:
	}
	select {
	case rec := <-c.in:
		return rec, nil
	case <-c.closed:
		return nil, mtp.ErrClosed
	case <-c.ended:
	case <-c.l.closed:
	case <-c.l.link.done():
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select { // what arrived before the end is still read
	case rec := <-c.in:
		return rec, nil
	default:
	}
	return nil, c.brokenErr()
}

// brokenErr says why a session that is over ended; nil while it is not.
func (c *ctrlConn) brokenErr() error {
	select {
	case <-c.ended:
		return broken("session with "+c.peer, c.endErr)
	case <-c.l.closed:
		return broken("session with "+c.peer+": listener closed", nil)
	case <-c.l.link.done():
		return broken("session with "+c.peer+": controller's broker session ended", c.l.link.cause())
	default:
		return nil
	}
}

// dest is where a Record for the agent goes, and whether it speaks MQTT 5:
// its last reply topic, else its mqtt_connect topic, else AgentTopic.
func (c *ctrlConn) dest() (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.replyTo != "":
		return c.replyTo, c.v5
	case c.subscribed != "":
		return c.subscribed, c.v5
	}
	return expand(c.l.s.AgentTopic, c.peer), c.v5
}

// Send implements mtp.Conn. To a 3.1.1 agent the topic carries the
// controller's reply-to suffix; to an MQTT 5 agent the exact topic, with
// the controller topic as Response Topic when the Listener speaks MQTT 5.
func (c *ctrlConn) Send(ctx context.Context, rec []byte) error {
	select {
	case <-c.closed:
		return mtp.ErrClosed
	default:
	}
	if err := c.brokenErr(); err != nil {
		return err
	}
	c.markUsed() // before the PUBLISH: see takeConnect
	topic, v5 := c.dest()
	if !validTopic(topic) {
		return errNoTopic
	}
	if !v5 {
		topic = withReplyTo(topic, c.l.topic)
	}
	if err := c.l.link.publish(ctx, topic, rec, c.l.topic); err != nil {
		return sendErr(ctx, c.l.link, err)
	}
	return nil
}

// Close implements mtp.Conn: the agent's next Record starts a new Conn.
func (c *ctrlConn) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.l.forget(c)
	})
	return nil
}

// Info implements mtp.Conn: Topic is the agent's own topic as it named it.
func (c *ctrlConn) Info() mtp.Info {
	topic, v5 := c.dest()
	c.mu.Lock()
	if c.subscribed != "" {
		topic = c.subscribed
	}
	c.mu.Unlock()
	return mtp.Info{Protocol: mtp.MQTT, Local: c.l.s.ControllerID, Peer: c.peer, MQTTv5: v5, Topic: topic}
}
