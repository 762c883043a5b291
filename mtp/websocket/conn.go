package websocket

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	gws "github.com/gorilla/websocket"

	"brickyard/mtp"
)

var (
	_ mtp.Conn       = (*Conn)(nil)
	_ mtp.CodeCloser = (*Conn)(nil)
	_ mtp.Waiter     = (*Conn)(nil)
)

// Conn is one WebSocket session. Dial and Accept return *Conn values as
// mtp.Conn.
//
// Its reader goroutine owns the session (see the package comment): it
// alone reads the socket and closes it, and it sets err and closes done
// when the session is over. Writes happen on the Send caller's goroutine
// under wlock (SendQueue 0) or on the writer child (SendQueue > 0); the
// Ping timer and Close write control frames, which gorilla serialises
// with data frames.
type Conn struct {
	ws    *gws.Conn
	info  mtp.Info
	s     *settings
	onEnd func(*Conn) // the listener's bookkeeping; called by the reader at the end

	in      chan []byte   // reader → Recv, unbuffered
	queue   chan []byte   // Send → writer (SendQueue > 0)
	wlock   chan struct{} // one direct writer at a time (SendQueue 0)
	closing chan struct{} // closed when CloseWithCode starts
	kill    chan struct{} // closed by abort: the reader stops waiting on Recv
	done    chan struct{} // closed by the reader when the session is over
	exited  chan struct{} // closed when the reader, its child and the socket are done

	wdone     chan struct{} // closed when the writer child returns (SendQueue > 0)
	closeOnce sync.Once
	killOnce  sync.Once
	err       error // why the session is over; set before done is closed

	mu    sync.Mutex
	cause error // the first failure reported by a writer, Ping or teardown

	pingMu     sync.Mutex
	ping       *time.Timer
	pingStop   bool
	lastTick   int64 // s.now() at the last keepAlive
	missed     int   // intervals in a row in which nothing was heard
	heard      atomic.Int64
	delivering atomic.Bool // the reader waits on Recv and is not reading

	wb *mtp.WaitBy // RecvBy's timer and Wake's wake
}

func newConn(ws *gws.Conn, info mtp.Info, s *settings, onEnd func(*Conn)) *Conn {
	c := &Conn{ws: ws, info: info, s: s, onEnd: onEnd,
		in: make(chan []byte), closing: make(chan struct{}), kill: make(chan struct{}),
		done: make(chan struct{}), exited: make(chan struct{}), wb: mtp.NewWaitBy()}
	if s.queue > 0 {
		c.queue = make(chan []byte, s.queue)
		c.wdone = make(chan struct{})
	} else {
		c.wlock = make(chan struct{}, 1)
	}
	ws.SetReadLimit(int64(s.maxRecord))
	ws.SetPongHandler(func(string) error { c.heard.Store(s.now()); return nil })
	pong := ws.PingHandler() // gorilla's: answers with a Pong (R-WS.18)
	ws.SetPingHandler(func(data string) error { c.heard.Store(s.now()); return pong(data) })
	return c
}

// start runs the reader (which starts the writer child) and the Ping timer.
func (c *Conn) start() {
	c.lastTick = c.s.now()
	c.heard.Store(c.lastTick) // the handshake was heard
	// The timer exists before the reader, whose finish stops it;
	// keepAlive reads c.ping under pingMu.
	if c.s.keepAlive > 0 {
		c.pingMu.Lock()
		c.ping = time.AfterFunc(c.s.keepAlive, c.keepAlive)
		c.pingMu.Unlock()
	}
	go c.run()
}

// run is the reader goroutine, the owner of the session.
func (c *Conn) run() {
	defer c.finish()
	if c.queue != nil {
		go c.writeLoop()
	}
	for {
		typ, r, err := c.ws.NextReader()
		if err != nil {
			c.fail(readError(err, c.s.maxRecord))
			return
		}
		c.heard.Store(c.s.now())
		if typ != gws.BinaryMessage {
			c.s.drops.Add(mtp.DropMalformed, c.info.Local, "a text frame (closed with 1003)")
			c.fail(errors.New("text frame (closed with 1003, R-WS.16)"))
			c.handshake(gws.CloseUnsupportedData, "USP Records travel in binary frames")
			return
		}
		rec, err := io.ReadAll(r)
		if err != nil {
			if errors.Is(err, gws.ErrReadLimit) {
				c.s.drops.Add(mtp.DropTooLarge, c.info.Local, fmt.Sprintf("a message over the %d-byte limit (closed with 1009)", c.s.maxRecord))
			}
			c.fail(readError(err, c.s.maxRecord))
			return
		}
		c.delivering.Store(true)
		select {
		case c.in <- rec:
		case <-c.closing: // dropped: the session is closing, wait for the Close
		case <-c.kill: // dropped: the socket is closed
		}
		c.delivering.Store(false)
	}
}

// handshake sends a Close frame from the reader and reads on, dropping
// data, until the peer's Close arrives or CloseTimeout passes.
func (c *Conn) handshake(code int, reason string) {
	deadline := time.Now().Add(c.s.close)
	_ = c.ws.WriteControl(gws.CloseMessage, closeMessage(code, reason), deadline)
	_ = c.ws.SetReadDeadline(deadline)
	for {
		if _, _, err := c.ws.NextReader(); err != nil {
			return
		}
	}
}

// finish ends the session: it runs once, on the reader goroutine.
func (c *Conn) finish() {
	c.mu.Lock()
	cause := c.cause
	c.mu.Unlock()
	select {
	case <-c.closing:
		c.err = mtp.ErrClosed
	default:
		c.err = fmt.Errorf("websocket: session with %s: %w: %w", c.info.Peer, mtp.ErrBroken, cause)
	}
	close(c.done)
	_ = c.ws.NetConn().Close()
	if c.wdone != nil {
		<-c.wdone
	}
	c.pingMu.Lock() // waits for a Ping in flight
	c.pingStop = true
	if c.ping != nil {
		c.ping.Stop()
	}
	c.pingMu.Unlock()
	if c.onEnd != nil {
		c.onEnd(c)
	}
	if c.err != mtp.ErrClosed && closeCode(cause) != gws.CloseNormalClosure {
		c.s.log("websocket: session with %s (%s) dropped: %v", c.info.Peer, c.ws.RemoteAddr(), cause)
	}
	close(c.exited)
}

// fail records the first cause of the session's end.
func (c *Conn) fail(err error) {
	c.mu.Lock()
	if c.cause == nil {
		c.cause = err
	}
	c.mu.Unlock()
}

// abort ends the session now: the socket is closed under the reader, which
// then finishes (dropping a Record that waits for Recv).
func (c *Conn) abort(err error) {
	c.fail(err)
	c.killOnce.Do(func() { close(c.kill) })
	_ = c.ws.NetConn().Close()
}

func readError(err error, limit int) error {
	var ce *gws.CloseError
	switch {
	case errors.As(err, &ce):
		return fmt.Errorf("peer closed the session: %w", err)
	case errors.Is(err, gws.ErrReadLimit):
		return fmt.Errorf("message over the %d-byte limit (closed with 1009)", limit)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fmt.Errorf("connection lost: %w", err)
	}
	return err
}

// closeCode is the status code of a Close the peer sent, or 0.
func closeCode(err error) int {
	var ce *gws.CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return 0
}

func closeMessage(code int, reason string) []byte {
	if len(reason) > 123 {
		reason = reason[:123]
	}
	return gws.FormatCloseMessage(code, reason)
}

// stateErr is ErrClosed after Close, the session's error once it is over,
// and nil while it is up.
func (c *Conn) stateErr() error {
	select {
	case <-c.closing:
		return mtp.ErrClosed
	default:
	}
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// Recv implements mtp.Conn.
func (c *Conn) Recv(ctx context.Context) ([]byte, error) {
	if err := c.stateErr(); err != nil {
		return nil, err
	}
	select {
	case rec := <-c.in:
		return rec, nil
	case <-c.closing:
		return nil, mtp.ErrClosed
	case <-c.done:
		return nil, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// RecvBy implements mtp.Waiter: Recv bounded by deadline (zero: none) and
// by Wake, neither of which ends the session. The session's reader stays
// its own goroutine (gorilla's read deadline is fatal to a session); what
// this saves is a second goroutine that would wait in Recv for the caller.
func (c *Conn) RecvBy(deadline time.Time) ([]byte, error) {
	if err := c.stateErr(); err != nil {
		return nil, err
	}
	select { // at hand already: no timer
	case rec := <-c.in:
		return rec, nil
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
	case rec := <-c.in:
		return rec, nil
	case <-c.wb.Woken():
		return nil, mtp.ErrWoken
	case <-expired:
		return nil, mtp.ErrDeadline
	case <-c.closing:
		return nil, mtp.ErrClosed
	case <-c.done:
		return nil, c.err
	}
}

// Wake implements mtp.Waiter.
func (c *Conn) Wake() { c.wb.Wake() }

// Ready implements mtp.Waiter: the reader holds a Record for the caller.
func (c *Conn) Ready() bool { return c.delivering.Load() }

// Close implements mtp.Conn: CloseWithCode(1000, "").
func (c *Conn) Close() error { return c.CloseWithCode(gws.CloseNormalClosure, "") }

// CloseWithCode ends the session with a close handshake: Records already
// handed to Send are written first, then a Close frame with code and
// reason; it waits for the peer's Close at most CloseTimeout in all, then
// closes the socket. It waits for every goroutine the Conn owns. Later
// calls wait and return nil; Send and Recv return ErrClosed.
func (c *Conn) CloseWithCode(code int, reason string) error {
	c.closeOnce.Do(func() {
		close(c.closing)
		deadline := time.NewTimer(c.s.close)
		defer deadline.Stop()
		if c.queue != nil {
			select {
			case <-c.wdone:
			case <-deadline.C:
				c.abort(errors.New("close: queued Records not written in time"))
			}
		} else {
			select {
			case c.wlock <- struct{}{}: // held for good: no Send writes after this
			case <-c.done:
			case <-deadline.C:
				c.abort(errors.New("close: a Send did not finish in time"))
			}
		}
		_ = c.ws.WriteControl(gws.CloseMessage, closeMessage(code, reason), time.Now().Add(c.s.close))
		select {
		case <-c.done:
		case <-deadline.C:
			c.abort(errors.New("close: no Close from the peer in time"))
		}
	})
	<-c.exited
	return nil
}

// kick ends the session from the transport's side, as the listener does
// to a session replaced by a newer one: a Close frame, then the socket,
// without waiting for the peer's Close. It waits for the reader.
func (c *Conn) kick(code int, reason string, cause error) {
	c.fail(cause)
	_ = c.ws.WriteControl(gws.CloseMessage, closeMessage(code, reason), time.Now().Add(c.s.close))
	c.abort(cause)
	<-c.exited
}

// Info implements mtp.Conn.
func (c *Conn) Info() mtp.Info { return c.info }

// LocalAddr is the socket's local address.
func (c *Conn) LocalAddr() net.Addr { return c.ws.LocalAddr() }

// RemoteAddr is the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.ws.RemoteAddr() }

// PeerCertificates are the certificates the peer presented (wss only;
// leaf first), for an endpoint that checks the peer's endpoint ID against
// the urn:bbf:usp:id: name in its certificate.
func (c *Conn) PeerCertificates() []*x509.Certificate {
	if tc, ok := c.ws.NetConn().(*tls.Conn); ok {
		return tc.ConnectionState().PeerCertificates
	}
	return nil
}
