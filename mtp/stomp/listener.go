package stomp

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"google.golang.org/protobuf/proto"

	"brickyard/mtp"
	"brickyard/usp/usprecord"
)

// NewListener returns the controller's side: one STOMP connection
// subscribed to ControllerDest, whose Records it sorts by from_id into one
// Conn per agent session. The rules:
//
//   - A Record that does not decode, has no from_id, or is not addressed
//     to ControllerID is dropped (reported through Logf).
//   - A stomp_connect Record starts a new session for its sender: an older
//     Conn of the same agent ends with ErrBroken and Accept returns the
//     new one, whose first Record is that stomp_connect.
//   - A Record from an agent without a session starts one when its MESSAGE
//     names a reply-to-dest (the controller restarted under a live agent);
//     otherwise there is no way back and it is dropped.
//   - A Conn sends to the reply-to-dest of the agent's last MESSAGE, else
//     to the subscribed_destination of its stomp_connect; Info().Peer is
//     the agent's ID and Info().Destination that destination.
//   - Closing a Conn tells the agent nothing (STOMP has no per-agent
//     channel); its next Record starts a new session.
//   - When the broker connection breaks, every Conn and Accept return
//     ErrBroken; a new Listener is the caller's job.
func NewListener(cfg Config) (mtp.Listener, error) {
	tc, err := cfg.check()
	if err != nil {
		return nil, err
	}
	if cfg.ControllerDest == "" {
		return nil, errors.New("stomp: ControllerDest is required")
	}
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	s, err := dialSession(ctx, &cfg, tc, cfg.ControllerID)
	if err != nil {
		return nil, err
	}
	own := cfg.ControllerDest
	if s.subDest != "" {
		own = s.subDest
	}
	l := &listener{s: s, own: own, accept: make(chan *vconn, cfg.queueLen()),
		quit: make(chan struct{}), conns: map[string]*vconn{}}
	s.start(l.onMessage)
	if err := s.subscribe(ctx, own); err != nil {
		s.close()
		return nil, err
	}
	return l, nil
}

type listener struct {
	s      *session
	own    string // the destination the listener subscribed
	accept chan *vconn
	quit   chan struct{}
	once   sync.Once

	mu    sync.Mutex
	conns map[string]*vconn // by agent ID
}

// onMessage runs on the session's reader.
func (l *listener) onMessage(f *frame) {
	cfg := l.s.cfg
	var rec usprecord.Record
	if err := proto.Unmarshal(f.body, &rec); err != nil {
		cfg.Drops.Add(mtp.DropMalformed, cfg.ControllerID, "not a USP Record")
		cfg.logf("stomp: dropped a %d-byte body on %s: not a USP Record: %v", len(f.body), l.own, err)
		return
	}
	from := rec.GetFromId()
	if from == "" || rec.GetToId() != cfg.ControllerID {
		if from == "" {
			cfg.Drops.Add(mtp.DropMalformed, cfg.ControllerID, "a Record without from_id")
		} else {
			cfg.Drops.Add(mtp.DropForeign, cfg.ControllerID, "a Record to "+rec.GetToId())
		}
		cfg.logf("stomp: dropped a Record on %s from %q to %q: not for %q", l.own, from, rec.GetToId(), cfg.ControllerID)
		return
	}
	replyTo, _ := f.get("reply-to-dest")
	sc := rec.GetStompConnect()

	l.mu.Lock()
	c := l.conns[from]
	fresh := false
	if sc != nil || c == nil {
		dest := sc.GetSubscribedDestination()
		if dest == "" {
			dest = replyTo
		}
		if dest == "" {
			l.mu.Unlock()
			cfg.Drops.Add(mtp.DropNoSession, cfg.ControllerID, "a Record from "+from+" without a session or reply-to-dest")
			cfg.logf("stomp: dropped a Record from %q on %s: no session and no reply-to-dest", from, l.own)
			return
		}
		if c != nil {
			c.end(fmt.Errorf("stomp: %s: %w: a new stomp_connect started another session", from, mtp.ErrBroken))
		}
		c = &vconn{l: l, in: make(chan []byte, cfg.queueLen()), ended: make(chan struct{}),
			info: mtp.Info{Protocol: mtp.STOMP, Local: cfg.ControllerID, Peer: from, Destination: dest}}
		l.conns[from] = c
		fresh = true
	}
	if replyTo != "" {
		c.mu.Lock()
		c.replyTo = replyTo
		c.mu.Unlock()
	}
	l.mu.Unlock()

	if fresh {
		select {
		case l.accept <- c:
		case <-l.quit:
			return
		case <-l.s.quit:
			return
		}
	}
	select {
	case c.in <- f.body:
	case <-c.ended:
	case <-l.quit:
	case <-l.s.quit:
	}
}

// Accept implements mtp.Listener.
func (l *listener) Accept(ctx context.Context) (mtp.Conn, error) {
	select {
	case <-l.quit:
		return nil, mtp.ErrClosed
	default:
	}
	select {
	case c := <-l.accept:
		return c, nil
	case <-l.quit:
		return nil, mtp.ErrClosed
	case <-l.s.done:
		return nil, l.s.failure()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close implements mtp.Listener: every Conn ends with ErrBroken, then the
// broker connection closes.
func (l *listener) Close() error {
	l.once.Do(func() {
		close(l.quit)
		l.mu.Lock()
		for id, c := range l.conns {
			c.end(fmt.Errorf("stomp: %s: %w: listener closed", id, mtp.ErrBroken))
			delete(l.conns, id)
		}
		l.mu.Unlock()
	})
	l.s.close()
	return nil
}

// vconn is one agent's session on the listener's broker connection.
type vconn struct {
	l    *listener
	info mtp.Info
	in   chan []byte

	mu      sync.Mutex
	replyTo string
	closed  bool
	endErr  error
	ended   chan struct{}
	endOnce sync.Once
}

// end stops the Conn with err; the caller holds l.mu or the Conn is
// unreachable from the map.
func (c *vconn) end(err error) {
	c.endOnce.Do(func() {
		c.mu.Lock()
		c.endErr = err
		c.mu.Unlock()
		close(c.ended)
	})
}

func (c *vconn) failure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return mtp.ErrClosed
	}
	if c.endErr != nil {
		return c.endErr
	}
	return c.l.s.failure()
}

// Send implements mtp.Conn.
func (c *vconn) Send(ctx context.Context, rec []byte) error {
	select {
	case <-c.ended:
		return c.failure()
	default:
	}
	c.mu.Lock()
	dest := c.replyTo
	c.mu.Unlock()
	if dest == "" {
		dest = c.info.Destination
	}
	return c.l.s.send(ctx, c.l.s.encodeSend(dest, c.l.own, rec, ""))
}

// Recv implements mtp.Conn.
func (c *vconn) Recv(ctx context.Context) ([]byte, error) {
	if c.isClosed() {
		return nil, mtp.ErrClosed
	}
	select {
	case rec := <-c.in:
		if c.isClosed() {
			return nil, mtp.ErrClosed
		}
		return rec, nil
	case <-c.ended:
	case <-c.l.s.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if !c.isClosed() {
		select { // what arrived before the end is still read
		case rec := <-c.in:
			return rec, nil
		default:
		}
	}
	return nil, c.failure()
}

func (c *vconn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// Close implements mtp.Conn.
func (c *vconn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.l.mu.Lock()
	if c.l.conns[c.info.Peer] == c {
		delete(c.l.conns, c.info.Peer)
	}
	c.l.mu.Unlock()
	c.end(mtp.ErrClosed)
	return nil
}

// Info implements mtp.Conn.
func (c *vconn) Info() mtp.Info { return c.info }
