package websocket

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	gws "github.com/gorilla/websocket"

	"brickyard/mtp"
)

// The timing rules at their production defaults (60 s Pings, 30 s write
// timeout, 5 s close timeout) in virtual time: gorilla on both ends of a
// net.Pipe inside a synctest bubble. A pipe has no buffer, so a peer that
// does not read blocks every write, as a full socket does.

// hijacker is the ResponseWriter gorilla's Upgrader needs.
type hijacker struct {
	http.ResponseWriter
	conn net.Conn
	brw  *bufio.ReadWriter
}

func (h hijacker) Header() http.Header { return http.Header{} }
func (h hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return h.conn, h.brw, nil
}

// pipeSession upgrades a net.Pipe into an agent *Conn (with Config's
// defaults and cfg's changes) and a raw gorilla server end. The Conn's
// goroutines are started; the caller closes both.
func pipeSession(t *testing.T, mod func(*Config)) (*Conn, *gws.Conn, net.Conn) {
	t.Helper()
	a, b := net.Pipe()
	srv := make(chan *gws.Conn, 1)
	go func() {
		br := bufio.NewReader(b)
		req, err := http.ReadRequest(br)
		if err != nil {
			srv <- nil
			return
		}
		ws, _ := uspUpgrader.Upgrade(hijacker{conn: b, brw: bufio.NewReadWriter(br, bufio.NewWriter(b))}, req, nil)
		srv <- ws
	}()
	u, _ := url.Parse("ws://pipe/usp?eid=proto%3A%3Apiped")
	ws, _, err := gws.NewClient(a, u, http.Header{"Sec-WebSocket-Protocol": {Subprotocol}}, 1024, 1024)
	if err != nil {
		t.Fatal(err)
	}
	sws := <-srv
	if sws == nil {
		t.Fatal("server handshake failed")
	}
	cfg := Config{ControllerID: ctrlID}
	if mod != nil {
		mod(&cfg)
	}
	s, err := cfg.settings()
	if err != nil {
		t.Fatal(err)
	}
	c := newConn(ws, mtp.Info{Protocol: mtp.WebSocket, Local: "proto::piped", Peer: ctrlID}, s, nil)
	c.start()
	return c, sws, b
}

// readAll reads (and drops) everything the server end receives, so that
// its control handlers run, until the pipe closes.
func readAll(ws *gws.Conn) {
	go func() {
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
}

// R-WS.17/18: one Ping a minute, answered; the session stays up.
func TestVirtual_PingsEveryInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, srv, _ := pipeSession(t, nil)
		var pings []time.Duration
		start := time.Now()
		pong := srv.PingHandler()
		srv.SetPingHandler(func(s string) error { pings = append(pings, time.Since(start)); return pong(s) })
		readAll(srv)
		time.Sleep(10*time.Minute + time.Second)
		synctest.Wait()
		if len(pings) != 10 || pings[0] != time.Minute || pings[9] != 10*time.Minute {
			t.Errorf("Pings at %v", pings)
		}
		if err := c.stateErr(); err != nil {
			t.Errorf("session ended: %v", err)
		}
		_ = c.Close()
		_ = srv.Close()
	})
}

// A peer that reads but never answers (nor sends anything) is dropped
// after three intervals: nothing heard in (60 s, 120 s] nor (120 s, 180 s].
func TestVirtual_SilentPeerDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, srv, _ := pipeSession(t, nil)
		srv.SetPingHandler(func(string) error { return nil })
		readAll(srv)
		start := time.Now()
		_, err := c.Recv(context.Background())
		if !errors.Is(err, mtp.ErrBroken) || !strings.Contains(err.Error(), "nothing heard") || time.Since(start) != 3*time.Minute {
			t.Errorf("%v after %v", err, time.Since(start))
		}
		_ = c.Close()
		_ = srv.Close()
	})
}

// A peer that reads nothing at all: a Ping cannot be written (no buffer)
// and times out after 30 s, which delays the next tick and leaves gorilla's
// writer failed: Ping at 60 s (fails at 90), nothing heard by 150 s,
// nothing by 210 s: dropped.
func TestVirtual_StalledPeerDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, srv, _ := pipeSession(t, nil)
		start := time.Now()
		_, err := c.Recv(context.Background())
		if !errors.Is(err, mtp.ErrBroken) || time.Since(start) != 210*time.Second {
			t.Errorf("%v after %v", err, time.Since(start))
		}
		_ = c.Close()
		_ = srv.Close()
	})
}

// Send to a peer that reads nothing: with a queue, Send returns at once
// and the writer's WriteTimeout (30 s) breaks the session; directly, Send
// returns when its ctx ends, and Close returns after CloseTimeout (5 s).
func TestVirtual_WriteTimeouts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, srv, _ := pipeSession(t, func(cfg *Config) { cfg.SendQueue = 1 })
		start := time.Now()
		if err := c.Send(context.Background(), []byte("stuck")); err != nil {
			t.Fatal(err)
		}
		_, err := c.Recv(context.Background())
		if !errors.Is(err, mtp.ErrBroken) || time.Since(start) != DefaultWriteTimeout {
			t.Errorf("queued: %v after %v", err, time.Since(start))
		}
		_ = c.Close()
		_ = srv.Close()

		c, srv, _ = pipeSession(t, nil)
		start = time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 7*time.Second)
		defer cancel()
		if err := c.Send(ctx, []byte("stuck")); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 7*time.Second {
			t.Errorf("direct: %v after %v", err, time.Since(start))
		}
		_ = c.Close()
		_ = srv.Close()
	})
}

// Close to a peer that reads but never answers the Close: CloseTimeout.
func TestVirtual_CloseTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, srv, raw := pipeSession(t, nil)
		go func() { _, _ = io.Copy(io.Discard, raw) }() // reads frames, answers nothing
		start := time.Now()
		_ = c.Close()
		if el := time.Since(start); el != DefaultCloseTimeout {
			t.Errorf("Close took %v", el)
		}
		_ = srv.Close()
	})
}
