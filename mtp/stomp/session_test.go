package stomp

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"brickyard/mtp"
)

// exercise runs one agent session both ways through the broker of cfg:
// R-MTP.6 (the stomp_connect Record comes first, naming the agent's
// subscribed destination), then a Record each way.
func exercise(t *testing.T, cfg Config) {
	const agentID = "os::012345-SIM1"
	l := listen(t, cfg)
	a := dial(t, cfg, agentID)
	wantDest := Destination(cfg.AgentDest, agentID)
	if got := a.Info(); got.Protocol != mtp.STOMP || got.Local != agentID || got.Peer != ctrlID || got.Destination != wantDest {
		t.Fatalf("agent info %+v", got)
	}
	c := accept(t, l)
	if got := c.Info(); got.Peer != agentID || got.Local != ctrlID || got.Destination != wantDest {
		t.Fatalf("controller info %+v", got)
	}
	from, _, rec := open(t, ctrlID, recv(t, c))
	sc := rec.GetStompConnect()
	if from != agentID || sc == nil || sc.GetSubscribedDestination() != wantDest || sc.GetVersion() != 0 {
		t.Fatalf("first Record at the controller: from %q %v", from, rec)
	}
	send(t, a, record(t, agentID, ctrlID, "notify-1"))
	if from, id, _ := open(t, ctrlID, recv(t, c)); from != agentID || id != "notify-1" {
		t.Fatalf("controller got %s/%s", from, id)
	}
	send(t, c, record(t, ctrlID, agentID, "get-1"))
	if from, id, _ := open(t, agentID, recv(t, a)); from != ctrlID || id != "get-1" {
		t.Fatalf("agent got %s/%s", from, id)
	}
	send(t, a, record(t, agentID, ctrlID, "get-1"))
	if _, id, _ := open(t, ctrlID, recv(t, c)); id != "get-1" {
		t.Fatalf("controller got the answer %s", id)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Recv(ctx(t)); !errors.Is(err, mtp.ErrClosed) {
		t.Fatalf("recv after close: %v", err)
	}
	if err := a.Send(ctx(t), []byte("x")); !errors.Is(err, mtp.ErrClosed) {
		t.Fatalf("send after close: %v", err)
	}
	_ = a.Close() // twice is fine
	_ = c.Close()
	if _, err := c.Recv(ctx(t)); !errors.Is(err, mtp.ErrClosed) {
		t.Fatalf("controller recv after close: %v", err)
	}
	_ = l.Close()
	if _, err := l.Accept(ctx(t)); !errors.Is(err, mtp.ErrClosed) {
		t.Fatalf("accept after close: %v", err)
	}
}

func TestSession_Embedded(t *testing.T) {
	noLeaks(t)
	b := embedded(t)
	exercise(t, config(t, b.Addr()))
}

// A stopped broker ends every session with ErrBroken, on both sides.
func TestBrokerStop(t *testing.T) {
	noLeaks(t)
	b := embedded(t)
	cfg := config(t, b.Addr())
	l := listen(t, cfg)
	a := dial(t, cfg, "proto::agent")
	c := accept(t, l)
	recv(t, c)
	_ = b.Close()
	_, err := a.Recv(ctx(t))
	mustBreak(t, "agent recv", err)
	mustBreak(t, "agent send", a.Send(ctx(t), []byte("x")))
	_, err = c.Recv(ctx(t))
	mustBreak(t, "controller recv", err)
	_, err = l.Accept(ctx(t))
	mustBreak(t, "accept", err)
	d, _ := NewDialer(cfg)
	_, err = d.Dial(ctx(t), "proto::late")
	mustBreak(t, "dial a stopped broker", err)
}

// Heart-beats are negotiated (both sides' zero wins, else the larger
// value) and then flow: go-stomp's server drops a client silent for twice
// its interval.
func TestHeartBeats_Embedded(t *testing.T) {
	noLeaks(t)
	b := embedded(t)
	cfg := config(t, b.Addr())
	// Intervals of a second: a session is dropped after two silent
	// intervals, and shorter ones (150 ms) were missed on a loaded machine
	// whose scheduler held the broker's heart-beat back for 300 ms.
	cfg.HeartBeatOut, cfg.HeartBeatIn = 500*time.Millisecond, time.Second
	l := listen(t, cfg)
	a := dial(t, cfg, "proto::agent")
	s := a.(*agentConn).s
	if s.hbOut != 500*time.Millisecond || s.hbIn != time.Second {
		t.Fatalf("negotiated out %v in %v", s.hbOut, s.hbIn)
	}
	c := accept(t, l)
	recv(t, c)
	// Wall-clock time is what this test is about: longer than the two
	// silent intervals after which either side would drop the session.
	time.Sleep(2500 * time.Millisecond)
	send(t, a, record(t, "proto::agent", ctrlID, "alive"))
	if _, id, _ := open(t, ctrlID, recv(t, c)); id != "alive" {
		t.Fatalf("got %s", id)
	}
}

func TestNegotiate(t *testing.T) {
	for _, tc := range []struct{ mine, theirs, want time.Duration }{
		{0, 0, 0}, {0, 10, 0}, {10, 0, 0}, {10, 20, 20}, {30, 20, 30},
	} {
		if got := negotiate(tc.mine, tc.theirs); got != tc.want {
			t.Errorf("negotiate(%v, %v) = %v, want %v", tc.mine, tc.theirs, got, tc.want)
		}
	}
}

func TestDestination(t *testing.T) {
	for _, tc := range []struct{ pattern, eid, want string }{
		{"/queue/agent-{eid}", "os::012345-SIM1", "/queue/agent-os::012345-SIM1"},
		{"/queue/agent-{eid}", "self:a~b:x.y_z%41", "/queue/agent-self:a~b:x.y_z%41"},
		{"/queue/agent-{eid}", "bad/eid with space*#é", "/queue/agent-bad%2Feid%20with%20space%2A%23%C3%A9"},
		{"/topic/agents.{eid}.{eid}", "doc::a", "/topic/agents.doc::a.doc::a"},
		{"/queue/fixed", "doc::a", "/queue/fixed"},
	} {
		if got := Destination(tc.pattern, tc.eid); got != tc.want {
			t.Errorf("Destination(%q, %q) = %q, want %q", tc.pattern, tc.eid, got, tc.want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	good := Config{Addr: "127.0.0.1:1", ControllerID: ctrlID, ControllerDest: "/queue/c"}
	for name, mut := range map[string]func(*Config){
		"address":         func(c *Config) { c.Addr = "nowhere" },
		"controller ID":   func(c *Config) { c.ControllerID = "" },
		"controller dest": func(c *Config) { c.ControllerDest = "" },
		"heart-beat":      func(c *Config) { c.HeartBeatIn = -1 },
	} {
		cfg := good
		mut(&cfg)
		if _, err := NewDialer(cfg); err == nil {
			t.Errorf("%s: NewDialer accepted %+v", name, cfg)
		}
		if _, err := NewListener(cfg); err == nil {
			t.Errorf("%s: NewListener accepted %+v", name, cfg)
		}
	}
	if _, err := NewEmbeddedBroker("0.0.0.0:0"); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("a non-loopback embedded broker: %v", err)
	}
}

// Dial honours its context.
func TestDial_Context(t *testing.T) {
	noLeaks(t)
	fb := newFakeBroker(t, func(fc *fakeConn) { fc.readFrame(); fc.readFrame() /* and never answer */ })
	cfg := config(t, fb.addr())
	d, _ := NewDialer(cfg)
	c, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := d.Dial(c, "proto::agent")
	mustBreak(t, "dial with a silent broker", err)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("dial ended after %v with %v", time.Since(start), err)
	}
}
