package stomp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"time"

	gframe "github.com/go-stomp/stomp/v3/frame"

	"brickyard/mtp"
	"brickyard/usp"
)

// NewDialer returns the agents' side of the binding. Each Dial opens its
// own STOMP connection (TR-369 §STOMP; steps in the package doc) and
// returns once the broker has taken the stomp_connect Record.
func NewDialer(cfg Config) (mtp.Dialer, error) {
	tc, err := cfg.check()
	if err != nil {
		return nil, err
	}
	if cfg.ControllerDest == "" {
		return nil, errors.New("stomp: ControllerDest is required")
	}
	return &dialer{cfg: cfg, tls: tc}, nil
}

type dialer struct {
	cfg Config
	tls *tls.Config
}

// connectReceipt is the receipt asked for on the stomp_connect SEND: its
// RECEIPT tells Dial the broker has the subscription and the Record.
const connectReceipt = "stomp-connect"

// Dial implements mtp.Dialer.
func (d *dialer) Dial(ctx context.Context, agentID string) (mtp.Conn, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, connectTimeout)
		defer cancel()
	}
	s, err := dialSession(ctx, &d.cfg, d.tls, agentID)
	if err != nil {
		return nil, err
	}
	own := Destination(d.cfg.AgentDest, agentID)
	if s.subDest != "" {
		own = s.subDest // R-STOMP: the broker's choice wins
	}
	if own == "" { // TR-369: DISCONNECT and retry later
		_, _ = s.nc.Write(appendFrame(nil, gframe.DISCONNECT, nil, nil))
		_ = s.nc.Close()
		return nil, fmt.Errorf("stomp: %s: %w: no destination to subscribe (no AgentDest, no subscribe-dest)", agentID, mtp.ErrBroken)
	}
	c := &agentConn{s: s, own: own, in: make(chan inbound, d.cfg.queueLen()), wb: mtp.NewWaitBy(),
		info: mtp.Info{Protocol: mtp.STOMP, Local: agentID, Peer: d.cfg.ControllerID, Destination: own}}
	s.start(c.onMessage)
	rec, err := usp.Codec{LocalID: agentID}.Marshal(usp.Codec{LocalID: agentID}.STOMPConnect(d.cfg.ControllerID, own))
	if err == nil {
		err = s.subscribe(ctx, own)
	}
	if err == nil {
		err = s.send(ctx, s.encodeSend(d.cfg.ControllerDest, own, rec, connectReceipt))
	}
	if err == nil {
		err = s.waitReceipt(ctx, connectReceipt)
	}
	if err != nil {
		s.close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("stomp: %s: connect: %w: %w", agentID, mtp.ErrBroken, ctx.Err())
		}
		return nil, err
	}
	return c, nil
}

// agentConn is an agent's session: its own STOMP connection.
type agentConn struct {
	s    *session
	own  string
	info mtp.Info
	in   chan inbound

	mu      sync.Mutex
	replyTo string // reply-to-dest of the last MESSAGE Recv returned

	wb *mtp.WaitBy // RecvBy's timer and Wake's wake
}

type inbound struct {
	rec     []byte
	replyTo string
}

// onMessage runs on the reader: MESSAGE frames of our subscription go to
// the receive queue, waiting while it is full.
func (c *agentConn) onMessage(f *frame) {
	if id, _ := f.get(gframe.Subscription); id != subID {
		return
	}
	replyTo, _ := f.get("reply-to-dest")
	select {
	case c.in <- inbound{rec: f.body, replyTo: replyTo}:
	case <-c.s.quit:
	}
}

// Send implements mtp.Conn: a SEND to the reply-to-dest of the last
// MESSAGE received, or else the controller's destination, always naming
// the agent's own destination in reply-to-dest.
func (c *agentConn) Send(ctx context.Context, rec []byte) error {
	c.mu.Lock()
	dest := c.replyTo
	c.mu.Unlock()
	if dest == "" {
		dest = c.s.cfg.ControllerDest
	}
	return c.s.send(ctx, c.s.encodeSend(dest, c.own, rec, ""))
}

// Recv implements mtp.Conn. Records already received are still returned
// after the session broke.
func (c *agentConn) Recv(ctx context.Context) ([]byte, error) {
	select {
	case <-c.s.quit:
		return nil, mtp.ErrClosed
	default:
	}
	select {
	case m := <-c.in:
		return c.take(m), nil
	case <-c.s.quit:
		return nil, mtp.ErrClosed
	case <-c.s.done:
		return c.drained()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// RecvBy implements mtp.Waiter: Recv bounded by deadline (zero: none) and
// by Wake, neither of which ends the session. The session keeps its
// reader and writer goroutines; what this saves is a goroutine of the
// caller's waiting in Recv.
func (c *agentConn) RecvBy(deadline time.Time) ([]byte, error) {
	select {
	case <-c.s.quit:
		return nil, mtp.ErrClosed
	default:
	}
	select { // at hand already: no timer
	case m := <-c.in:
		return c.take(m), nil
	case <-c.wb.Woken():
		return nil, mtp.ErrWoken
	default:
	}
	expired, stop, err := c.wb.Arm(deadline)
	if err != nil {
		return nil, err
	}
	defer stop()
	select {
	case m := <-c.in:
		return c.take(m), nil
	case <-c.wb.Woken():
		return nil, mtp.ErrWoken
	case <-expired:
		return nil, mtp.ErrDeadline
	case <-c.s.quit:
		return nil, mtp.ErrClosed
	case <-c.s.done:
		return c.drained()
	}
}

// Wake implements mtp.Waiter.
func (c *agentConn) Wake() { c.wb.Wake() }

// Ready implements mtp.Waiter: a received Record is queued.
func (c *agentConn) Ready() bool { return len(c.in) > 0 }

// drained is Recv once the session has ended: a Record received before
// the end, else why it ended.
func (c *agentConn) drained() ([]byte, error) {
	select {
	case m := <-c.in:
		return c.take(m), nil
	default:
	}
	return nil, c.s.failure()
}

func (c *agentConn) take(m inbound) []byte {
	if m.replyTo != "" {
		c.mu.Lock()
		c.replyTo = m.replyTo
		c.mu.Unlock()
	}
	return m.rec
}

// Close implements mtp.Conn: queued Records are written, then DISCONNECT.
func (c *agentConn) Close() error {
	c.s.close()
	return nil
}

// Info implements mtp.Conn.
func (c *agentConn) Info() mtp.Info { return c.info }
