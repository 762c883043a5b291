package mqtt

import (
	"context"
	"sync"
	"sync/atomic"

	"brickyard/mtp"
)

// inbound is a received Record and the topic its sender wants replies on
// (empty: none named).
type inbound struct {
	rec     []byte
	replyTo string
}

// agentConn is an agent's session: one broker connection (the link, which
// owns the goroutines) subscribed to the agent's own topic.
type agentConn struct {
	s         *settings
	link      link
	info      mtp.Info
	own       string // the agent's own (reply) topic
	ctrlTopic string // the configured controller topic
	in        chan inbound
	drops     atomic.Uint64

	mu      sync.Mutex
	replyTo string // the reply topic of the last Record Recv returned

	closeOnce sync.Once
	closed    chan struct{}
}

var _ mtp.Conn = (*agentConn)(nil)

// deliver queues a received PUBLISH; it runs on the link's reader
// goroutine and never blocks.
func (c *agentConn) deliver(m message) {
	switch {
	case m.oversize || len(m.payload) > c.s.MaxRecordSize:
		c.drop(mtp.DropTooLarge, "larger than MaxRecordSize")
		return
	case m.contentType != "" && m.contentType != contentType && m.contentType != contentTypeMIME:
		c.drop(mtp.DropMalformed, "content type "+m.contentType)
		return
	}
	in := inbound{rec: m.payload}
	if validTopic(m.responseTopic) {
		in.replyTo = m.responseTopic
	} else if _, rt, ok := splitReplyTo(m.topic); ok {
		in.replyTo = rt
	}
	select {
	case c.in <- in:
	default:
		c.drop(mtp.DropQueueFull, "receive queue full")
	}
}

func (c *agentConn) drop(cause mtp.DropCause, why string) {
	c.s.Drops.Add(cause, c.info.Local, why)
	if n := c.drops.Add(1); powerOfTwo(n) {
		c.s.Logf("mqtt: agent %s dropped a received record (%s); %d dropped so far", c.info.Local, why, n)
	}
}

// Recv implements mtp.Conn. The Record's reply topic becomes the one Send
// uses; a Record that named none sends replies to the controller topic.
func (c *agentConn) Recv(ctx context.Context) ([]byte, error) {
	select {
	case <-c.closed:
		return nil, mtp.ErrClosed
	default:
	}
	select {
	case in := <-c.in:
		return c.take(in), nil
	case <-c.closed:
		return nil, mtp.ErrClosed
	case <-c.link.done():
		select { // what arrived before the break is still read
		case in := <-c.in:
			return c.take(in), nil
		default:
		}
		return nil, broken("session with the broker ended", c.link.cause())
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *agentConn) take(in inbound) []byte {
	c.mu.Lock()
	c.replyTo = in.replyTo
	c.mu.Unlock()
	return in.rec
}

// Send implements mtp.Conn: to the reply topic of the last Record received,
// else the controller topic.
func (c *agentConn) Send(ctx context.Context, rec []byte) error {
	select {
	case <-c.closed:
		return mtp.ErrClosed
	default:
	}
	select {
	case <-c.link.done():
		return broken("session with the broker ended", c.link.cause())
	default:
	}
	c.mu.Lock()
	topic := c.replyTo
	c.mu.Unlock()
	if topic == "" {
		topic = c.ctrlTopic
	}
	return c.publish(ctx, topic, rec)
}

// publish sends rec to topic with the agent's own topic as reply topic.
func (c *agentConn) publish(ctx context.Context, topic string, rec []byte) error {
	var err error
	if c.s.Version == V311 {
		err = c.link.publish(ctx, withReplyTo(topic, c.own), rec, "")
	} else {
		err = c.link.publish(ctx, topic, rec, c.own)
	}
	if err != nil {
		return sendErr(ctx, c.link, err)
	}
	return nil
}

// Close implements mtp.Conn: DISCONNECT, then wait for the link's
// goroutines. It does not send a DisconnectRecord (R-MTP.7): that is a
// Record, the caller's to Send first.
func (c *agentConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	c.link.close() // idempotent; every caller waits
	return nil
}

// Info implements mtp.Conn.
func (c *agentConn) Info() mtp.Info { return c.info }
