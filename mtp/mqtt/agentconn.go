package mqtt

import (
	"context"
	"sync"
	"sync/atomic"

	"brickyard/mtp"
)

// agentConn is an agent's session: one broker connection (a client, which
// owns no goroutine) subscribed to the agent's own topic. Recv is for one
// reader at a time (the session's reader); Send, Close and Info for any
// goroutine.
type agentConn struct {
	s         *settings
	c         *client
	info      mtp.Info
	own       string // the agent's own (reply) topic
	ctrlTopic string // the configured controller topic
	drops     atomic.Uint64

	rmu     sync.Mutex // the reader's: ack and the context hook
	ack     uint16     // QoS 1 PUBLISH handed out and not yet acknowledged
	ctx     context.Context
	unhook  func() bool
	mu      sync.Mutex
	replyTo string // the reply topic of the last Record Recv returned

	closeOnce sync.Once
	closed    chan struct{}
}

var (
	_ mtp.Conn    = (*agentConn)(nil)
	_ mtp.Batcher = (*agentConn)(nil)
)

// Recv implements mtp.Conn: it reads the socket itself until the next
// Record for the agent. The Record's reply topic becomes the one Send
// uses; a Record that named none sends replies to the controller topic.
// A PUBLISH too large or of another content type is dropped and counted
// (acknowledged all the same). ctx ending while Recv waits ends the
// session: the socket may be mid-packet.
func (c *agentConn) Recv(ctx context.Context) ([]byte, error) {
	select {
	case <-c.closed:
		return nil, mtp.ErrClosed
	default:
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if ctx != c.ctx { // one hook per context, not per call
		if c.unhook != nil {
			c.unhook()
		}
		c.ctx, c.unhook = ctx, context.AfterFunc(ctx, func() { c.c.fail(context.Cause(ctx)) })
	}
	for {
		m, err := c.c.next(&c.ack)
		if err != nil {
			select {
			case <-c.closed:
				return nil, mtp.ErrClosed
			default:
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, broken("session with the broker ended", err)
		}
		switch {
		case m.oversize || len(m.payload) > c.s.MaxRecordSize:
			c.drop(mtp.DropTooLarge, "larger than MaxRecordSize")
			continue
		case m.contentType != "" && m.contentType != contentType && m.contentType != contentTypeMIME:
			c.drop(mtp.DropMalformed, "content type "+m.contentType)
			continue
		}
		reply := ""
		if validTopic(m.responseTopic) {
			reply = m.responseTopic
		} else if _, rt, ok := splitReplyTo(m.topic); ok {
			reply = rt
		}
		c.mu.Lock()
		c.replyTo = reply
		c.mu.Unlock()
		return m.payload, nil
	}
}

func (c *agentConn) drop(cause mtp.DropCause, why string) {
	c.s.Drops.Add(cause, c.info.Local, why)
	if n := c.drops.Add(1); powerOfTwo(n) {
		c.s.Logf("mqtt: agent %s dropped a received record (%s); %d dropped so far", c.info.Local, why, n)
	}
}

// Send implements mtp.Conn: to the reply topic of the last Record received,
// else the controller topic. It returns once the PUBLISH is written (or,
// at QoS 1 with the broker's window full, queued behind it); it does not
// wait for the PUBACK.
func (c *agentConn) Send(ctx context.Context, rec []byte) error {
	return c.send(ctx, rec, false)
}

// Queue implements mtp.Batcher: Send, but the PUBLISH waits for the next
// Flush, Send or Close to be written with the others.
func (c *agentConn) Queue(ctx context.Context, rec []byte) error {
	return c.send(ctx, rec, true)
}

// Flush implements mtp.Batcher.
func (c *agentConn) Flush() error {
	if err := c.c.flush(); err != nil {
		select {
		case <-c.closed:
			return mtp.ErrClosed
		case <-c.c.done():
			return broken("publish", c.c.cause())
		default:
			return err
		}
	}
	return nil
}

func (c *agentConn) send(ctx context.Context, rec []byte, later bool) error {
	select {
	case <-c.closed:
		return mtp.ErrClosed
	default:
	}
	select {
	case <-c.c.done():
		return broken("session with the broker ended", c.c.cause())
	default:
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	topic := c.replyTo
	c.mu.Unlock()
	if topic == "" {
		topic = c.ctrlTopic
	}
	if err := c.c.publish(topic, rec, c.own, later); err != nil {
		select {
		case <-c.closed:
			return mtp.ErrClosed
		case <-c.c.done():
			return broken("publish", c.c.cause())
		default:
			return err
		}
	}
	return nil
}

// Close implements mtp.Conn: DISCONNECT, then the socket. It does not send
// a DisconnectRecord (R-MTP.7): that is a Record, the caller's to Send
// first.
func (c *agentConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	// Without a reader in Recv, the client drains the socket itself (see
	// client.shutdown) and no reader starts meanwhile; with one, the
	// reader drains it, and Close waits for it to return.
	free := c.rmu.TryLock()
	c.c.shutdown(free)
	if !free {
		c.rmu.Lock()
	}
	c.c.release()
	if c.unhook != nil {
		c.unhook()
		c.unhook = nil
	}
	c.rmu.Unlock()
	return nil
}

// Info implements mtp.Conn.
func (c *agentConn) Info() mtp.Info { return c.info }
