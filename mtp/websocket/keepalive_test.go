package websocket

import (
	"errors"
	"strings"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"

	"brickyard/mtp"
)

// R-WS.17/18: Pings at the interval, Pongs to Pings, unsolicited Pongs
// ignored, and a peer that never answers is dropped.
func TestKeepAlive(t *testing.T) {
	checkLeaks(t)
	const interval = 100 * time.Millisecond
	pings := make(chan time.Time, 100)
	srvPongs := make(chan string, 1)
	rs := newRawServerWith(t, uspUpgrader, func(ws *gws.Conn) {
		pong := ws.PingHandler()
		ws.SetPingHandler(func(s string) error { pings <- time.Now(); return pong(s) })
		ws.SetPongHandler(func(s string) error { srvPongs <- s; return nil })
	})
	cfg := testConfig(t)
	cfg.URL, cfg.KeepAliveInterval = rs.url, interval
	agent, err := dialer(t, cfg).Dial(ctxT(t, 5*time.Second), "proto::a")
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	srv := rs.next(t).ws
	for range 5 { // unsolicited Pongs
		_ = srv.WriteControl(gws.PongMessage, []byte("unasked"), time.Now().Add(time.Second))
	}
	_ = srv.WriteControl(gws.PingMessage, []byte("are you there"), time.Now().Add(time.Second))
	select {
	case s := <-srvPongs:
		if s != "are you there" {
			t.Errorf("pong %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Error("no Pong for a Ping")
	}
	var last time.Time
	for i := range 4 { // Pings keep coming, never closer than the interval
		select {
		case at := <-pings:
			if i > 0 && at.Sub(last) < interval*9/10 {
				t.Errorf("Pings %v apart at %v", at.Sub(last), interval)
			}
			last = at
		case <-time.After(5 * time.Second):
			t.Fatalf("%d Pings, then none for 5 s", i)
		}
	}
	_ = srv.WriteMessage(gws.BinaryMessage, []byte("alive"))
	if got, err := agent.Recv(ctxT(t, 5*time.Second)); err != nil || string(got) != "alive" {
		t.Fatalf("%q %v", got, err)
	}

	// a peer that reads but never answers Pings
	mute := newRawServerWith(t, uspUpgrader, func(ws *gws.Conn) { ws.SetPingHandler(func(string) error { return nil }) })
	cfg.URL, cfg.KeepAliveInterval = mute.url, 50*time.Millisecond
	start := time.Now()
	agent2, err := dialer(t, cfg).Dial(ctxT(t, 5*time.Second), "proto::b")
	if err != nil {
		t.Fatal(err)
	}
	defer agent2.Close()
	_, err = agent2.Recv(ctxT(t, 5*time.Second))
	if el := time.Since(start); !errors.Is(err, mtp.ErrBroken) || !strings.Contains(err.Error(), "nothing heard") || el < 3*cfg.KeepAliveInterval || el > 5*time.Second {
		t.Errorf("mute peer: %v after %v", err, el)
	}
}

// An agent whose owner is busy (not in Recv) does not take its peer for
// dead: its reader does not read Pongs then, and the Ping check waits.
func TestKeepAlive_BusyReceiver(t *testing.T) {
	checkLeaks(t)
	cfg := testConfig(t) // the controller does not ping
	l := listen(t, cfg)
	cfg.URL, cfg.KeepAliveInterval = l.URL(), 20*time.Millisecond
	agent, ctrl := session(t, l, dialer(t, cfg), "proto::busy")
	ctx := ctxT(t, 5*time.Second)
	_ = ctrl.Send(ctx, []byte("one"))
	time.Sleep(15 * cfg.KeepAliveInterval)
	if got, err := agent.Recv(ctx); err != nil || string(got) != "one" {
		t.Fatalf("%q %v", got, err)
	}
	_ = ctrl.Send(ctx, []byte("two"))
	if got, err := agent.Recv(ctx); err != nil || string(got) != "two" {
		t.Fatalf("%q %v", got, err)
	}
}
