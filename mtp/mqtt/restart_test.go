package mqtt

import (
	"context"
	"errors"
	"testing"
	"time"

	"brickyard/mtp"
)

// A broker restart ends every session with ErrBroken; once the broker is
// back, a new Listener and a new Dial work (reconnecting is the caller's
// job). The new Listener first resumes the agent the old one had; the
// agent's mqtt_connect Record, when it comes, is that session's first
// Record, since nothing has gone through it yet.
func TestBrokerRestart_BreaksThenRedial(t *testing.T) {
	eachBroker(t, func(t *testing.T, b *broker, v Version) {
		c := config(b, v)
		l := listen(t, c)
		agent := dial(t, c, "a1")
		ctrl := accept(t, l)
		expectConnect(t, ctrl, "a1", "usp/agent/a1", v)

		b.stop()
		_, err := agent.Recv(tctx(t))
		wantBroken(t, "agent recv", err)
		wantBroken(t, "agent send", agent.Send(tctx(t), record("a1", ctrlID, "x")))
		_, err = ctrl.Recv(tctx(t))
		wantBroken(t, "controller recv", err)
		wantBroken(t, "controller send", ctrl.Send(tctx(t), record(ctrlID, "a1", "x")))
		_, err = l.Accept(tctx(t))
		wantBroken(t, "accept", err)

		if _, err := NewDialer(c); err != nil {
			t.Fatal(err)
		}
		d, _ := NewDialer(c)
		if _, err := d.Dial(tctx(t), "a2"); err == nil {
			t.Fatal("dial with the broker down succeeded")
		} else {
			wantBroken(t, "dial with the broker down", err)
		}

		b.start()
		l2 := listen(t, c)
		resumed := accept(t, l2)
		if p := resumed.Info().Peer; p != "a1" {
			t.Fatalf("resumed session with %q, want a1", p)
		}
		agent2 := dial(t, c, "a1")
		expectConnect(t, resumed, "a1", "usp/agent/a1", v)
		send(t, resumed, "back")
		if got := recvBody(t, agent2); got != "back" {
			t.Fatalf("after restart: %q", got)
		}
		expectNoSession(t, l2)
		waitStats(t, l2, Stats{Records: 1, Sessions: 1, Resumed: 1})
	})
}

// A resumed session that the controller sent on before the agent
// reconnected (what it sent was lost) ends when the agent's mqtt_connect
// Record comes: the Record starts a new session.
func TestBrokerRestart_ResumedThenReplaced(t *testing.T) {
	checkGoroutines(t)
	b := startMochi(t)
	c := config(b, V5)
	l := listen(t, c)
	_ = dial(t, c, "a1")
	expectConnect(t, accept(t, l), "a1", "usp/agent/a1", V5)

	b.stop()
	_, err := l.Accept(tctx(t))
	wantBroken(t, "accept", err)
	b.start()
	l2 := listen(t, c)
	resumed := accept(t, l2)
	send(t, resumed, "lost") // nobody subscribed: the broker drops it
	agent := dial(t, c, "a1")
	_, err = resumed.Recv(tctx(t))
	wantBroken(t, "resumed session after the agent's mqtt_connect", err)
	ctrl := accept(t, l2)
	expectConnect(t, ctrl, "a1", "usp/agent/a1", V5)
	send(t, ctrl, "again")
	got := recvBody(t, agent)
	if got == "lost" { // mochi routes a PUBLISH after acknowledging it: it may still have found the agent
		got = recvBody(t, agent)
	}
	if got != "again" {
		t.Fatalf("agent got %q", got)
	}
	waitStats(t, l2, Stats{Records: 1, Sessions: 2, Resumed: 1})
}

// The broker restarts and an agent reconnects before the controller has
// subscribed again: its mqtt_connect Record finds no subscriber and is
// lost, and it sends nothing more. The controller's new Listener still
// gets a session with it, resumed from what the old one knew, and the
// session works both ways. An agent whose session the controller closed
// before the outage is not resumed.
func TestBrokerRestart_AgentBeforeController(t *testing.T) {
	eachBroker(t, func(t *testing.T, b *broker, v Version) {
		c := config(b, v)
		l := listen(t, c)
		agent := dial(t, c, "a1")
		ctrl := accept(t, l)
		expectConnect(t, ctrl, "a1", "usp/agent/a1", v)
		gone := dial(t, c, "a2")
		ctrlGone := accept(t, l)
		expectConnect(t, ctrlGone, "a2", "usp/agent/a2", v)
		_ = ctrlGone.Close() // while the broker is up: the controller is done with a2
		waitStats(t, l, Stats{Records: 2, Sessions: 2})

		b.stop()
		for _, conn := range []mtp.Conn{agent, gone, ctrl} {
			_, err := conn.Recv(tctx(t))
			wantBroken(t, conn.Info().Local+" recv", err)
		}
		_, err := l.Accept(tctx(t))
		wantBroken(t, "accept", err)
		// The controller cleans up, as a caller that makes a new Listener
		// does: that forgets nothing.
		_ = ctrl.Close()
		_ = l.Close()

		b.start()
		agent2 := dialUnheard(t, b, c, "a1") // its mqtt_connect Record is lost
		l2 := listen(t, c)
		ctrl2 := accept(t, l2)
		topic := "usp/agent/a1"
		if ci := ctrl2.Info(); ci != (mtp.Info{Protocol: mtp.MQTT, Local: ctrlID, Peer: "a1", MQTTv5: v == V5, Topic: topic}) {
			t.Errorf("resumed session's info %+v", ci)
		}
		send(t, ctrl2, "hello")
		if got := recvBody(t, agent2); got != "hello" {
			t.Fatalf("agent got %q", got)
		}
		send(t, agent2, "hello-resp")
		if got := recvBody(t, ctrl2); got != "hello-resp" {
			t.Fatalf("controller got %q", got)
		}
		expectNoSession(t, l2)
		waitStats(t, l2, Stats{Records: 1, Sessions: 1, Resumed: 1})
	})
}

// An agent that speaks to the new Listener before Accept resumed it keeps
// the session its Record opened; Accept resumes it no second time.
func TestBrokerRestart_AgentSpeaksFirst(t *testing.T) {
	checkGoroutines(t)
	b := startMochi(t)
	c := config(b, V5)
	l := listen(t, c)
	_ = dial(t, c, "a1")
	expectConnect(t, accept(t, l), "a1", "usp/agent/a1", V5)

	b.stop()
	_, err := l.Accept(tctx(t))
	wantBroken(t, "accept", err)
	b.start()
	l2 := listen(t, c)
	_ = dial(t, c, "a1")
	waitStats(t, l2, Stats{Records: 1, Sessions: 1})
	expectConnect(t, accept(t, l2), "a1", "usp/agent/a1", V5)
	expectNoSession(t, l2)
	waitStats(t, l2, Stats{Records: 1, Sessions: 1})
}

// Agents adopted but not resumed yet when the broker goes again pass on
// to the next Listener.
func TestBrokerRestart_Twice(t *testing.T) {
	checkGoroutines(t)
	b := startMochi(t)
	c := config(b, V311)
	l := listen(t, c)
	agent := dial(t, c, "a1")
	expectConnect(t, accept(t, l), "a1", "usp/agent/a1", V311)

	b.stop()
	_, err := agent.Recv(tctx(t))
	wantBroken(t, "agent recv", err)
	b.start()
	l2 := listen(t, c) // adopts a1; nobody accepts
	b.stop()
	select {
	case <-l2.link.done():
	case <-tctx(t).Done():
		t.Fatal("the listener's broker connection outlived the broker")
	}
	_, err = l2.Accept(tctx(t))
	wantBroken(t, "accept", err)
	b.start()
	agent2 := dialUnheard(t, b, c, "a1")
	l3 := listen(t, c)
	ctrl := accept(t, l3)
	send(t, ctrl, "third time")
	if got := recvBody(t, agent2); got != "third time" {
		t.Fatalf("agent got %q", got)
	}
	waitStats(t, l3, Stats{Sessions: 1, Resumed: 1})
}

// A Listener closed while its broker connection is up forgets its agents:
// the next one resumes none.
func TestListenerClose_ForgetsAgents(t *testing.T) {
	checkGoroutines(t)
	b := startMochi(t)
	c := config(b, V5)
	l := listen(t, c)
	_ = dial(t, c, "a1")
	expectConnect(t, accept(t, l), "a1", "usp/agent/a1", V5)
	_ = l.Close()

	l2 := listen(t, c)
	expectNoSession(t, l2)
	if s := l2.Stats(); s != (Stats{}) {
		t.Fatalf("stats %+v, want none", s)
	}
}

// dialUnheard dials agentID while no controller listens and returns once
// the broker has routed its mqtt_connect Record, to an observer only: mochi
// acknowledges a PUBLISH before it routes it, so a Listener made right
// after Dial returned could still get the Record.
func dialUnheard(t *testing.T, b *broker, c Config, agentID string) mtp.Conn {
	t.Helper()
	routed := make(chan struct{}, 1)
	obs := rawLink(t, b, c.Version, "observer", func(message) {
		select {
		case routed <- struct{}{}:
		default:
		}
	})
	if err := obs.subscribe(tctx(t), []string{expand("usp/controller/{eid}", ctrlID) + "/#"}); err != nil {
		t.Fatalf("observer: %v", err)
	}
	conn := dial(t, c, agentID)
	select {
	case <-routed:
	case <-tctx(t).Done():
		t.Fatalf("the broker did not route %s's mqtt_connect Record", agentID)
	}
	obs.close()
	return conn
}

// expectNoSession fails if Accept hands out a session within a moment.
func expectNoSession(t *testing.T, l *Listener) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if conn, err := l.Accept(ctx); !errors.Is(err, context.DeadlineExceeded) {
		if conn != nil {
			_ = conn.Close()
			t.Fatalf("accepted a session with %s, want none", conn.Info().Peer)
		}
		t.Fatalf("accept: %v, want none before the deadline", err)
	}
}
