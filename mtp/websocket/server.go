package websocket

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	gws "github.com/gorilla/websocket"

	"brickyard/mtp"
	"brickyard/mtp/certs"
)

// Listener is a controller's WebSocket endpoint: an http.Server that
// upgrades agents' handshakes into sessions and hands them to Accept.
// NewListener returns a *Listener as an mtp.Listener.
//
// Goroutines: the Listener owns Serve's goroutine and every Conn it
// creates. net/http's connection goroutines run the handshake (the
// handler) and return once Accept has taken the session, or the session
// was refused, or HandshakeTimeout passed without an Accept (close 1013).
type Listener struct {
	s      *settings
	ctrl   string
	path   string
	url    string
	ln     net.Listener
	srv    *http.Server
	up     gws.Upgrader
	policy DuplicatePolicy
	check  bool // CheckIdentity

	accept    chan *Conn
	done      chan struct{} // closed by Close
	served    chan struct{} // closed when Serve returns
	closeOnce sync.Once

	mu       sync.Mutex
	closed   bool
	handlers sync.WaitGroup     // handlers past enter
	sessions map[*Conn]struct{} // every Conn whose reader runs
	byEID    map[string]*Conn   // the current session of each agent
}

var _ mtp.Listener = (*Listener)(nil)

var errReplaced = errors.New("replaced by a new session from the same endpoint (R-WS.4)")

// NewListener listens (or takes cfg.Listener) and serves cfg.URL's path
// until Close.
func NewListener(cfg Config) (mtp.Listener, error) {
	s, u, tc, err := cfg.prepare(true)
	if err != nil {
		return nil, err
	}
	ln := cfg.Listener
	if ln == nil {
		addr := u.Host
		if u.Port() == "" {
			addr = net.JoinHostPort(u.Hostname(), map[string]string{"ws": "80", "wss": "443"}[u.Scheme])
		}
		if ln, err = net.Listen("tcp", addr); err != nil {
			return nil, fmt.Errorf("websocket: %w", err)
		}
	}
	l := &Listener{s: s, ctrl: cfg.ControllerID, path: u.Path, ln: ln, policy: cfg.Duplicate, check: cfg.CheckIdentity,
		accept: make(chan *Conn), done: make(chan struct{}), served: make(chan struct{}),
		sessions: map[*Conn]struct{}{}, byEID: map[string]*Conn{}}
	dialable := *u
	dialable.Host = ln.Addr().String()
	l.url = dialable.String()
	l.up = gws.Upgrader{
		HandshakeTimeout: s.handshake,
		ReadBufferSize:   s.readBuf,
		WriteBufferSize:  s.writeBuf,
		WriteBufferPool:  s.pool,
		Subprotocols:     []string{Subprotocol},
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			l.refuse(w, r, status, reason.Error())
		},
	}
	l.srv = &http.Server{
		Handler:           http.HandlerFunc(l.handle),
		ReadHeaderTimeout: s.handshake,
		IdleTimeout:       s.handshake, // a refused client does not linger
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          log.New(io.Discard, "", 0), // the library logs nothing
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	served := ln
	if tc != nil {
		served = tls.NewListener(ln, tc)
	}
	go func() {
		defer close(l.served)
		_ = l.srv.Serve(served)
	}()
	return l, nil
}

// URL is the URL agents dial, with the port actually listened on.
func (l *Listener) URL() string { return l.url }

// Addr is the listening address.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Accept implements mtp.Listener.
func (l *Listener) Accept(ctx context.Context) (mtp.Conn, error) {
	select {
	case <-l.done:
		return nil, mtp.ErrClosed
	default:
	}
	select {
	case c := <-l.accept:
		return c, nil
	case <-l.done:
		return nil, mtp.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close implements mtp.Listener: it stops the server, ends every session
// with a close handshake (code 1001, all at once, each bounded by
// CloseTimeout) and waits for all of their goroutines.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed = true
		l.mu.Unlock()
		close(l.done)
		ctx, cancel := context.WithTimeout(context.Background(), l.s.close)
		_ = l.srv.Shutdown(ctx) // handshakes in progress finish or see done
		cancel()
		_ = l.srv.Close()
		<-l.served
		l.handlers.Wait() // no session starts after this
		l.mu.Lock()
		conns := make([]*Conn, 0, len(l.sessions))
		for c := range l.sessions {
			conns = append(conns, c)
		}
		l.mu.Unlock()
		var wg sync.WaitGroup
		for _, c := range conns {
			wg.Go(func() { _ = c.CloseWithCode(gws.CloseGoingAway, "controller going away") })
		}
		wg.Wait()
	})
	return nil
}

// enter admits a handler unless the Listener is closing.
func (l *Listener) enter() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.handlers.Add(1)
	return true
}

func (l *Listener) refuse(w http.ResponseWriter, r *http.Request, status int, why string) {
	l.s.log("websocket: refused handshake from %s: %d %s", r.RemoteAddr, status, why)
	w.Header().Set("Sec-Websocket-Version", "13")
	http.Error(w, why, status)
}

// handle runs one handshake on net/http's connection goroutine.
func (l *Listener) handle(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != l.path {
		http.NotFound(w, r)
		return
	}
	if !l.enter() {
		l.refuse(w, r, http.StatusServiceUnavailable, "controller closing")
		return
	}
	defer l.handlers.Done()
	if !slices.Contains(gws.Subprotocols(r), Subprotocol) {
		l.refuse(w, r, http.StatusBadRequest, "subprotocol "+Subprotocol+" not requested")
		return
	}
	extEID, offered := extensionEID(r.Header)
	eid, err := parseEID(r.URL.RawQuery)
	if errors.Is(err, errNoEID) && extEID != "" { // a USP ≤ 1.2 client
		eid, err = extEID, checkEID(extEID)
	}
	if err != nil {
		l.refuse(w, r, http.StatusBadRequest, err.Error())
		return
	}
	if l.check {
		var chain []*x509.Certificate
		if r.TLS != nil {
			chain = r.TLS.PeerCertificates
		}
		if err := certs.Check(chain, eid); err != nil {
			l.refuse(w, r, http.StatusForbidden, fmt.Sprintf("endpoint %q: %v", eid, err))
			return
		}
	}
	if l.policy == RefuseNew && l.current(eid) != nil {
		l.refuse(w, r, http.StatusConflict, fmt.Sprintf("endpoint %q already has a session (R-WS.4)", eid))
		return
	}
	var hdr http.Header
	if offered {
		// Not the canonical key on purpose: gorilla refuses an application's
		// "Sec-Websocket-Extensions", but writes this spelling through.
		hdr = http.Header{"Sec-WebSocket-Extensions": {extensionValue(l.ctrl)}}
	}
	ws, err := l.up.Upgrade(w, r, hdr)
	if err != nil {
		return // Upgrader.Error has answered and logged
	}
	c := newConn(ws, mtp.Info{Protocol: mtp.WebSocket, Local: l.ctrl, Peer: eid}, l.s, l.forget)
	old, code, why := l.register(eid, c)
	if code != 0 {
		l.s.log("websocket: refused session of %s from %s: %s", eid, r.RemoteAddr, why)
		_ = ws.WriteControl(gws.CloseMessage, closeMessage(code, why), time.Now().Add(l.s.close))
		_ = ws.Close()
		return
	}
	c.start()
	if old != nil {
		old.kick(gws.CloseNormalClosure, "replaced by a new session", errReplaced)
	}
	t := time.NewTimer(l.s.handshake)
	defer t.Stop()
	select {
	case l.accept <- c:
	case <-l.done:
		_ = c.CloseWithCode(gws.CloseGoingAway, "controller going away")
	case <-t.C:
		l.s.log("websocket: session of %s from %s not accepted in %v", eid, r.RemoteAddr, l.s.handshake)
		_ = c.CloseWithCode(gws.CloseTryAgainLater, "controller busy")
	}
}

func (l *Listener) current(eid string) *Conn {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.byEID[eid]
}

// register makes c the session of eid. It returns the session c replaces,
// or a close code and reason when c may not start.
func (l *Listener) register(eid string, c *Conn) (old *Conn, code int, why string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, gws.CloseGoingAway, "controller going away"
	}
	old = l.byEID[eid]
	if old != nil && l.policy == RefuseNew {
		return nil, gws.ClosePolicyViolation, "endpoint already has a session (R-WS.4)"
	}
	l.byEID[eid] = c
	l.sessions[c] = struct{}{}
	return old, 0, ""
}

// forget is every Conn's onEnd: called on its reader when it ends.
func (l *Listener) forget(c *Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.sessions, c)
	if l.byEID[c.info.Peer] == c {
		delete(l.byEID, c.info.Peer)
	}
}
