package websocket

import (
	"context"
	"fmt"
	"time"

	gws "github.com/gorilla/websocket"

	"brickyard/mtp"
)

// The write side of a Conn: Send, the writer child (SendQueue > 0) and the
// Ping timer.

// writeRecord writes one Record as one binary message.
func (c *Conn) writeRecord(rec []byte) error {
	_ = c.ws.SetWriteDeadline(time.Now().Add(c.s.write))
	return c.ws.WriteMessage(gws.BinaryMessage, rec)
}

// writeLoop is the writer child of SendQueue > 0. Once Close starts it
// writes what is queued, then returns; a write error ends the session.
func (c *Conn) writeLoop() {
	defer close(c.wdone)
	for {
		select {
		case rec := <-c.queue:
			if err := c.writeRecord(rec); err != nil {
				c.abort(fmt.Errorf("write: %w", err))
				return
			}
		case <-c.closing:
			for {
				select {
				case rec := <-c.queue:
					if err := c.writeRecord(rec); err != nil {
						c.abort(fmt.Errorf("write: %w", err))
						return
					}
				default:
					return
				}
			}
		case <-c.done:
			return
		}
	}
}

// Send implements mtp.Conn. With SendQueue 0 it writes the Record before
// it returns; if ctx ends while the Record is partly written the session
// is broken (a partial frame cannot be taken back). With SendQueue > 0 it
// queues a copy and blocks while the queue is full; a write that stalls
// longer than WriteTimeout breaks the session.
func (c *Conn) Send(ctx context.Context, rec []byte) error {
	if err := c.stateErr(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.queue != nil {
		select {
		case c.queue <- append([]byte(nil), rec...):
			return nil
		case <-c.closing:
			return mtp.ErrClosed
		case <-c.done:
			return c.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	select {
	case c.wlock <- struct{}{}:
	case <-c.closing:
		return mtp.ErrClosed
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-c.wlock }()
	if err := c.stateErr(); err != nil {
		return err
	}
	stop := func() bool { return true }
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { c.abort(fmt.Errorf("send canceled mid-record: %w", context.Cause(ctx))) })
	}
	err := c.writeRecord(rec)
	if !stop() {
		if err != nil {
			return ctx.Err()
		}
		return nil
	}
	if err != nil {
		err = fmt.Errorf("write: %w", err)
		c.abort(err)
		return fmt.Errorf("websocket: session with %s: %w: %w", c.info.Peer, mtp.ErrBroken, err)
	}
	return nil
}

// keepAlive runs on the Ping timer (R-WS.17): it ends a session that
// heard nothing from the peer in each of the last two intervals, then
// sends the next Ping. Two, not one, so that a process starved of CPU for
// an interval (its timer and its reader both late) does not drop a live
// peer. An interval in which the reader was held by Recv (and so could not
// hear) does not count; nor does a Ping that could not be written count as
// an answer.
func (c *Conn) keepAlive() {
	c.pingMu.Lock()
	defer c.pingMu.Unlock()
	if c.pingStop {
		return
	}
	switch {
	case c.heard.Load() >= c.lastTick || c.delivering.Load():
		c.missed = 0
	case c.missed == 0:
		c.missed = 1
	default:
		c.abort(fmt.Errorf("nothing heard in two Ping intervals of %v", c.s.keepAlive))
		return
	}
	c.lastTick = c.s.now()
	_ = c.ws.WriteControl(gws.PingMessage, nil, time.Now().Add(min(c.s.write, c.s.keepAlive)))
	c.ping.Reset(c.s.keepAlive)
}
