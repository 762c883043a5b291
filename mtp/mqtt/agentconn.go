package mqtt

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

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
	rdl     time.Time   // the read deadline RecvBy set last
	woken   atomic.Bool // Wake was called
	clobber atomic.Bool // Wake moved the read deadline
	mu      sync.Mutex
	replyTo string // the reply topic of the last Record Recv returned

	closeOnce sync.Once
	closed    chan struct{}
}

var (
	_ mtp.Conn    = (*agentConn)(nil)
	_ mtp.Batcher = (*agentConn)(nil)
	_ mtp.Waiter  = (*agentConn)(nil)
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
		if rec, ok := c.take(m); ok {
			return rec, nil
		}
	}
}

// take hands out a PUBLISH's Record, or drops it (false): too large, or
// of another content type. The Record's reply topic becomes Send's.
func (c *agentConn) take(m message) ([]byte, bool) {
	switch {
	case m.oversize || len(m.payload) > c.s.MaxRecordSize:
		c.drop(mtp.DropTooLarge, "larger than MaxRecordSize")
		return nil, false
	case m.contentType != "" && m.contentType != contentType && m.contentType != contentTypeMIME:
		c.drop(mtp.DropMalformed, "content type "+m.contentType)
		return nil, false
	}
	reply := ""
	if validTopic(m.responseTopic) {
		reply = m.responseTopic
	} else if _, rt, ok := splitReplyTo(m.topic); ok {
		reply = rt
	}
	c.mu.Lock()
	if c.replyTo != reply { // the same, Record after Record: no copy
		c.replyTo = reply
	}
	c.mu.Unlock()
	return m.payload, true
}

// RecvBy implements mtp.Waiter: Recv, bounded by deadline and Wake (the
// socket's read deadline), neither of which ends the session. The read
// deadline is set again only when it changes.
func (c *agentConn) RecvBy(deadline time.Time) ([]byte, error) {
	select {
	case <-c.closed:
		return nil, mtp.ErrClosed
	default:
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	// The deadline first, then the wake: a Wake after the check moves
	// the deadline after this set, and so ends the read.
	if c.clobber.Swap(false) || !deadline.Equal(c.rdl) {
		c.rdl = deadline
		_ = c.c.nc.SetReadDeadline(deadline)
	}
	if c.woken.Swap(false) {
		return nil, mtp.ErrWoken
	}
	for {
		m, err := c.c.next(&c.ack)
		if err == nil {
			if rec, ok := c.take(m); ok {
				return rec, nil
			}
			continue
		}
		select {
		case <-c.closed:
			return nil, mtp.ErrClosed
		default:
		}
		if !isWait(err) {
			return nil, broken("session with the broker ended", err)
		}
		switch {
		case c.woken.Swap(false):
			c.clobber.Store(false)
			c.rdl = time.Unix(1, 0) // what Wake set: set again next time
			return nil, mtp.ErrWoken
		case !deadline.IsZero() && !time.Now().Before(deadline):
			return nil, mtp.ErrDeadline
		}
		// A Wake's deadline whose wake an earlier RecvBy took: this
		// call's deadline again.
		c.clobber.Store(false)
		_ = c.c.nc.SetReadDeadline(deadline)
	}
}

// Wake implements mtp.Waiter.
func (c *agentConn) Wake() {
	c.woken.Store(true)
	c.clobber.Store(true)
	_ = c.c.nc.SetReadDeadline(time.Unix(1, 0))
}

// Ready implements mtp.Waiter.
func (c *agentConn) Ready() bool { return len(c.c.stash) > 0 || c.c.ready() }

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
