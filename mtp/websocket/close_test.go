package websocket

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"

	"brickyard/mtp"
)

// R-WS.16: a text frame is answered with Close 1003, on both sides.
func TestR_WS_16_TextFrameCloses1003(t *testing.T) {
	checkLeaks(t)
	cfg := testConfig(t)
	l := listen(t, cfg)
	ws, _, err := rawDial(t, l, "eid=proto%3A%3Atexter", nil, Subprotocol)
	if err != nil {
		t.Fatal(err)
	}
	ctrl, err := l.Accept(ctxT(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	_ = ws.WriteMessage(gws.TextMessage, []byte("hello"))
	if code := readClose(t, ws); code != gws.CloseUnsupportedData {
		t.Errorf("controller closed with %d", code)
	}
	if _, err := ctrl.Recv(ctxT(t, 5*time.Second)); !errors.Is(err, mtp.ErrBroken) || !strings.Contains(err.Error(), "text frame") {
		t.Errorf("controller recv: %v", err)
	}
	_ = ctrl.Close()

	rs := newRawServer(t, uspUpgrader)
	cfg.URL = rs.url
	agent, err := dialer(t, cfg).Dial(ctxT(t, 5*time.Second), "proto::a")
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	srv := rs.next(t).ws
	if _, _, err := srv.ReadMessage(); err != nil { // websocket_connect
		t.Fatal(err)
	}
	_ = srv.WriteMessage(gws.TextMessage, []byte("hello"))
	if code := readClose(t, srv); code != gws.CloseUnsupportedData {
		t.Errorf("agent closed with %d", code)
	}
	if _, err := agent.Recv(ctxT(t, 5*time.Second)); !errors.Is(err, mtp.ErrBroken) {
		t.Errorf("agent recv: %v", err)
	}
}

// R-WS.16 for Records: the endpoint closes with 1003 through CloseWithCode.
func TestCloseWithCode(t *testing.T) {
	checkLeaks(t)
	cfg := testConfig(t)
	l := listen(t, cfg)
	cfg.URL = l.URL()
	agent, ctrl := session(t, l, dialer(t, cfg), "proto::a")
	var cc interface{ CloseWithCode(int, string) error } = ctrl // what an endpoint asserts
	if err := cc.CloseWithCode(1003, "undecodable Record"); err != nil {
		t.Fatal(err)
	}
	_, err := agent.Recv(ctxT(t, 5*time.Second))
	var ce *gws.CloseError
	if !errors.Is(err, mtp.ErrBroken) || !errors.As(err, &ce) || ce.Code != 1003 || ce.Text != "undecodable Record" {
		t.Errorf("agent recv: %v", err)
	}
}

// A message over MaxRecordSize is refused with 1009 before it is read.
func TestOversizedMessage1009(t *testing.T) {
	checkLeaks(t)
	cfg := testConfig(t)
	cfg.MaxRecordSize = 1024
	l := listen(t, cfg)
	ws, _, err := rawDial(t, l, "eid=proto%3A%3Abig", nil, Subprotocol)
	if err != nil {
		t.Fatal(err)
	}
	ctrl, err := l.Accept(ctxT(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer ctrl.Close()
	_ = ws.WriteMessage(gws.BinaryMessage, make([]byte, 1024)) // at the limit: fine
	if got, err := ctrl.Recv(ctxT(t, 5*time.Second)); err != nil || len(got) != 1024 {
		t.Fatalf("%d bytes, %v", len(got), err)
	}
	_ = ws.WriteMessage(gws.BinaryMessage, make([]byte, 1025))
	if code := readClose(t, ws); code != gws.CloseMessageTooBig {
		t.Errorf("closed with %d", code)
	}
	if _, err := ctrl.Recv(ctxT(t, 5*time.Second)); !errors.Is(err, mtp.ErrBroken) || !strings.Contains(err.Error(), "1009") {
		t.Errorf("controller recv: %v", err)
	}

	// the agent side, against our own controller
	cfg.MaxRecordSize = 0
	l = listen(t, cfg)
	cfg.URL, cfg.MaxRecordSize = l.URL(), 1024
	agent, ctrl2 := session(t, l, dialer(t, cfg), "proto::small")
	_ = ctrl2.Send(ctxT(t, 5*time.Second), make([]byte, 2000))
	if _, err := ctrl2.Recv(ctxT(t, 5*time.Second)); closeCode(err) != gws.CloseMessageTooBig {
		t.Errorf("controller sees %v", err)
	}
	if _, err := agent.Recv(ctxT(t, 5*time.Second)); !errors.Is(err, mtp.ErrBroken) {
		t.Errorf("agent recv: %v", err)
	}
}

// RFC 6455 §7 (TP-469 7.4): Close waits for the peer's Close; a Close from
// the peer is answered with a Close.
func TestCloseHandshake(t *testing.T) {
	checkLeaks(t)
	rs := newRawServer(t, uspUpgrader)
	cfg := testConfig(t)
	cfg.URL, cfg.CloseTimeout = rs.url, 3*time.Second
	d := dialer(t, cfg)

	agent, err := d.Dial(ctxT(t, 5*time.Second), "proto::a")
	if err != nil {
		t.Fatal(err)
	}
	srv := rs.next(t).ws
	codes := make(chan int, 1)
	go func() { codes <- readClose(t, srv) }() // gorilla answers the Close
	start := time.Now()
	_ = agent.Close()
	if el := time.Since(start); el > 2500*time.Millisecond {
		t.Errorf("Close took %v: the peer's Close was not seen", el)
	}
	if code := <-codes; code != gws.CloseNormalClosure {
		t.Errorf("agent closed with %d", code)
	}

	agent, err = d.Dial(ctxT(t, 5*time.Second), "proto::b")
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	srv = rs.next(t).ws
	_ = srv.WriteControl(gws.CloseMessage, gws.FormatCloseMessage(gws.CloseGoingAway, "bye"), time.Now().Add(time.Second))
	if code := readClose(t, srv); code != gws.CloseGoingAway {
		t.Errorf("agent answered with %d", code)
	}
	if _, err := agent.Recv(ctxT(t, 5*time.Second)); !errors.Is(err, mtp.ErrBroken) || closeCode(err) != gws.CloseGoingAway {
		t.Errorf("agent recv: %v", err)
	}
}

// A controller going away (Listener.Close: 1001) or vanishing (TCP reset)
// ends the agent's session with ErrBroken.
func TestServerGoingAway(t *testing.T) {
	checkLeaks(t)
	cfg := testConfig(t)
	l := listen(t, cfg)
	cfg.URL = l.URL()
	agent, ctrl := session(t, l, dialer(t, cfg), "proto::a")
	_ = l.Close()
	if _, err := agent.Recv(ctxT(t, 5*time.Second)); !errors.Is(err, mtp.ErrBroken) || closeCode(err) != gws.CloseGoingAway {
		t.Errorf("agent recv: %v", err)
	}
	if _, err := ctrl.Recv(ctxT(t, time.Second)); !errors.Is(err, mtp.ErrClosed) {
		t.Errorf("controller's conn after Listener.Close: %v", err)
	}
	if _, err := l.Accept(ctxT(t, time.Second)); !errors.Is(err, mtp.ErrClosed) {
		t.Errorf("accept after close: %v", err)
	}
	if _, err := dialer(t, cfg).Dial(ctxT(t, 5*time.Second), "proto::late"); !errors.Is(err, mtp.ErrBroken) {
		t.Errorf("dial a closed listener: %v", err)
	}

	rs := newRawServer(t, uspUpgrader)
	cfg.URL = rs.url
	agent2, err := dialer(t, cfg).Dial(ctxT(t, 5*time.Second), "proto::b")
	if err != nil {
		t.Fatal(err)
	}
	defer agent2.Close()
	_ = rs.next(t).ws.NetConn().Close()
	if _, err := agent2.Recv(ctxT(t, 5*time.Second)); !errors.Is(err, mtp.ErrBroken) {
		t.Errorf("after a TCP close: %v", err)
	}
	if err := agent2.Send(ctxT(t, time.Second), []byte("x")); !errors.Is(err, mtp.ErrBroken) {
		t.Errorf("send after the break: %v", err)
	}
}

// A peer that stops reading: Send returns when its ctx ends, and Close
// still returns within CloseTimeout.
func TestStalledPeer_SendUnblocksOnCtx(t *testing.T) {
	modes(t, func(t *testing.T, queue int) {
		checkLeaks(t)
		rs := newRawServer(t, uspUpgrader) // upgrades, then never reads
		cfg := testConfig(t)
		cfg.URL, cfg.SendQueue, cfg.CloseTimeout = rs.url, queue, 300*time.Millisecond
		cfg.WriteTimeout = time.Minute // only ctx may unblock Send
		agent, err := dialer(t, cfg).Dial(ctxT(t, 5*time.Second), "proto::a")
		if err != nil {
			t.Fatal(err)
		}
		_ = rs.next(t)
		rec := bytes.Repeat([]byte{0xA5}, 200<<10)
		var sendErr error
		for i := 0; i < 1000 && sendErr == nil; i++ { // the socket buffers hold a few MB
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			start := time.Now()
			sendErr = agent.Send(ctx, rec)
			cancel()
			if el := time.Since(start); el > 2*time.Second {
				t.Fatalf("Send blocked %v past its ctx", el)
			}
		}
		if !errors.Is(sendErr, context.DeadlineExceeded) {
			t.Fatalf("send: %v", sendErr)
		}
		start := time.Now()
		_ = agent.Close()
		if el := time.Since(start); el > 2*time.Second {
			t.Errorf("Close took %v", el)
		}
	})
}

// Accept and the handler give up on a Listener that closes mid-handshake;
// an http request that is not an upgrade is refused.
func TestListener_NotWebSocket(t *testing.T) {
	checkLeaks(t)
	l := listen(t, testConfig(t))
	resp, err := http.Get(strings.Replace(l.URL(), "ws://", "http://", 1) + "?eid=a")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("plain GET: %s", resp.Status)
	}
	http.DefaultClient.CloseIdleConnections()
}
