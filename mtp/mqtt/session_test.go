package mqtt

import (
	"context"
	"time"

	"errors"
	"fmt"
	"strings"
	"testing"

	"brickyard/mtp"
	"brickyard/mtp/mtptest"
)

// R-MTP.6, TP-469 11.17: the controller's first Record from an agent is its
// mqtt_connect naming the exact topic it subscribed to; then Records flow
// both ways, each side answering on the other's reply topic.
func TestSession_BothWays(t *testing.T) {
	eachBroker(t, func(t *testing.T, b *broker, v Version) {
		c := config(b, v)
		l := listen(t, c)
		agent := dial(t, c, "proto::agent-1")
		ctrl := accept(t, l)

		const topic = "usp/agent/proto::agent-1"
		if ai := agent.Info(); ai != (mtp.Info{Protocol: mtp.MQTT, Local: "proto::agent-1", Peer: ctrlID, MQTTv5: v == V5, Topic: topic}) {
			t.Errorf("agent info %+v", ai)
		}
		expectConnect(t, ctrl, "proto::agent-1", topic, v)
		if ci := ctrl.Info(); ci != (mtp.Info{Protocol: mtp.MQTT, Local: ctrlID, Peer: "proto::agent-1", MQTTv5: v == V5, Topic: topic}) {
			t.Errorf("controller info %+v", ci)
		}
		for i, body := range []string{"get", "set", "operate"} {
			send(t, ctrl, body)
			if got := recvBody(t, agent); got != body {
				t.Fatalf("request %d: agent got %q", i, got)
			}
			send(t, agent, body+"-resp")
			if got := recvBody(t, ctrl); got != body+"-resp" {
				t.Fatalf("response %d: controller got %q", i, got)
			}
		}
		send(t, agent, "notify") // unprompted: to the controller topic
		if got := recvBody(t, ctrl); got != "notify" {
			t.Fatalf("notify: %q", got)
		}
		waitStats(t, l, Stats{Records: 5, Sessions: 1}) // mqtt_connect, 3 responses, notify
	})
}

func TestClose_Semantics(t *testing.T) {
	checkGoroutines(t)
	b := startMochi(t)
	c := config(b, V5)
	l := listen(t, c)
	agent := dial(t, c, "a1")
	ctrl := accept(t, l)
	expectConnect(t, ctrl, "a1", "usp/agent/a1", V5)

	// The controller closes its Conn: the agent's next Record starts another.
	_ = ctrl.Close()
	_ = ctrl.Close()
	if _, err := ctrl.Recv(tctx(t)); !errors.Is(err, mtp.ErrClosed) {
		t.Fatalf("recv after close: %v", err)
	}
	if err := ctrl.Send(tctx(t), record(ctrlID, "a1", "x")); !errors.Is(err, mtp.ErrClosed) {
		t.Fatalf("send after close: %v", err)
	}
	send(t, agent, "again")
	ctrl2 := accept(t, l)
	if got := recvBody(t, ctrl2); got != "again" {
		t.Fatalf("new conn got %q", got)
	}
	send(t, ctrl2, "reply") // no reply topic seen yet? it was: the agent's Response Topic
	if got := recvBody(t, agent); got != "reply" {
		t.Fatalf("agent got %q", got)
	}

	// The agent closes: Close is idempotent and its Conn reports ErrClosed.
	_ = agent.Close()
	_ = agent.Close()
	if _, err := agent.Recv(tctx(t)); !errors.Is(err, mtp.ErrClosed) {
		t.Fatalf("agent recv after close: %v", err)
	}
	if err := agent.Send(tctx(t), record("a1", ctrlID, "x")); !errors.Is(err, mtp.ErrClosed) {
		t.Fatalf("agent send after close: %v", err)
	}

	// The listener closes: Accept says ErrClosed, its Conns ErrBroken.
	_ = l.Close()
	_ = l.Close()
	if _, err := l.Accept(tctx(t)); !errors.Is(err, mtp.ErrClosed) {
		t.Fatalf("accept after close: %v", err)
	}
	_, err := ctrl2.Recv(tctx(t))
	wantBroken(t, "conn of a closed listener", err)
}

// An mqtt_connect Record from an agent that has a Conn is a new session:
// the old Conn is read to its end, then reports ErrBroken. MQTT 5 reuses
// the client ID the broker assigned (§5.4), so the broker also ends the
// agent's older connection. (On mosquitto: mochi v2.7.9 races in session
// takeover, see EmbeddedBroker.)
func TestNewSession_ReplacesConn(t *testing.T) {
	checkGoroutines(t)
	b := startMosquitto(t)
	c := config(b, V5)
	l := listen(t, c)
	d, err := NewDialer(c)
	if err != nil {
		t.Fatal(err)
	}
	first, err := d.Dial(tctx(t), "a1")
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	old := accept(t, l)
	expectConnect(t, old, "a1", "usp/agent/a1", V5)
	send(t, first, "before")
	waitStats(t, l, Stats{Records: 2, Sessions: 1}) // two connections have no order between them
	assigned, ok := d.(*dialer).assigned.Load("a1")
	if !ok || assigned.(string) == "" {
		t.Fatal("no assigned client ID kept for a1")
	}

	second, err := d.Dial(tctx(t), "a1")
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if _, err := first.Recv(tctx(t)); !errors.Is(err, mtp.ErrBroken) {
		t.Fatalf("agent's first connection after a takeover with ID %v: %v", assigned, err)
	}
	if got := recvBody(t, old); got != "before" {
		t.Fatalf("old conn: %q", got)
	}
	_, err = old.Recv(tctx(t))
	wantBroken(t, "old conn after a new session", err)
	cur := accept(t, l)
	expectConnect(t, cur, "a1", "usp/agent/a1", V5)
	send(t, cur, "hello")
	if got := recvBody(t, second); got != "hello" {
		t.Fatalf("second session got %q", got)
	}
}

// R-MTP.7: a disconnect Record is delivered, then ends the Conn.
func TestDisconnectRecord_EndsConn(t *testing.T) {
	checkGoroutines(t)
	b := startMochi(t)
	c := config(b, V311)
	l := listen(t, c)
	agent := dial(t, c, "a1")
	ctrl := accept(t, l)
	expectConnect(t, ctrl, "a1", "usp/agent/a1", V311)
	disc, err := codecFor("a1").Marshal(codecFor("a1").Disconnect(ctrlID, "bye", 7100))
	if err != nil {
		t.Fatal(err)
	}
	if err := agent.Send(tctx(t), disc); err != nil {
		t.Fatal(err)
	}
	if b, err := ctrl.Recv(tctx(t)); err != nil || decode(t, b).GetDisconnect() == nil {
		t.Fatalf("disconnect record: %v", err)
	}
	_, err = ctrl.Recv(tctx(t))
	wantBroken(t, "after a disconnect record", err)
}

// A Record sent right before Close reaches the controller: Send writes the
// PUBLISH before Close's DISCONNECT, on brokers of both kinds, in both
// versions, to a controller of either version at either QoS (an agent
// sends its DisconnectRecord so, before a reboot; usp-js subscribes with
// MQTT 3.1.1 at QoS 0). mosquitto must not log the agent's DISCONNECT as
// malformed: with a remaining length of 1 (a reason code, no property
// length) mosquitto 2.0.11 called it "out of memory" and lost the PUBLISH
// before it.
func TestSendThenClose(t *testing.T) {
	for _, bk := range []string{"mochi", "mosquitto"} {
		for _, v := range versions {
			for _, lv := range versions {
				for _, qos0 := range []bool{false, true} {
					t.Run(fmt.Sprintf("%s/agent-v%s/controller-v%s/qos0-%v", bk, v, lv, qos0), func(t *testing.T) {
						checkGoroutines(t)
						var b *broker
						var m *mtptest.Mosquitto
						if bk == "mochi" {
							b = startMochi(t)
						} else {
							m = mtptest.NewMosquitto(t)
							b = &broker{url: "tcp://" + m.Addr}
						}
						cl := config(b, lv)
						cl.QoS0 = qos0
						l := listen(t, cl)
						agent := dial(t, config(b, v), "a1")
						ctrl := accept(t, l)
						expectConnect(t, ctrl, "a1", "usp/agent/a1", v)
						send(t, agent, "one")
						send(t, agent, "last words")
						_ = agent.Close()
						for _, want := range []string{"one", "last words"} {
							if got := recvBody(t, ctrl); got != want {
								t.Fatalf("controller got %q, want %q", got, want)
							}
						}
						if m != nil {
							_ = ctrl.Close()
							if log := m.Log(); strings.Contains(log, "out of memory") || strings.Contains(log, "malformed") || strings.Contains(log, "protocol error") {
								t.Fatalf("mosquitto found a packet of the agent's wrong:\n%s", log)
							}
						}
					})
				}
			}
		}
	}
}

// TestQueue: Records queued (mtp.Batcher) reach the controller in order,
// with those sent around them, once flushed, and on Close without a
// flush; none is written before.
func TestQueue(t *testing.T) {
	for _, v := range versions {
		t.Run(fmt.Sprintf("agent-v%s", v), func(t *testing.T) {
			checkGoroutines(t)
			m := mtptest.NewMosquitto(t)
			b := &broker{url: "tcp://" + m.Addr}
			l := listen(t, config(b, V5))
			agent := dial(t, config(b, v), "a1")
			ctrl := accept(t, l)
			expectConnect(t, ctrl, "a1", "usp/agent/a1", v)
			q := agent.(mtp.Batcher)
			ctx := context.Background()
			for _, s := range []string{"q1", "q2", "q3"} {
				if err := q.Queue(ctx, record("a1", ctrlID, s)); err != nil {
					t.Fatal(err)
				}
			}
			// Nothing was written yet. (A wrong client may be caught
			// here or not; a right one always passes.)
			wait, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			if rec, err := ctrl.Recv(wait); err == nil {
				t.Fatalf("before Flush the controller got %q", rec)
			}
			cancel()
			if err := q.Flush(); err != nil {
				t.Fatal(err)
			}
			send(t, agent, "s4")
			if err := q.Queue(ctx, record("a1", ctrlID, "q5")); err != nil {
				t.Fatal(err)
			}
			send(t, agent, "s6") // writes q5 first
			if err := q.Queue(ctx, record("a1", ctrlID, "q7")); err != nil {
				t.Fatal(err)
			}
			_ = agent.Close() // writes q7
			for _, want := range []string{"q1", "q2", "q3", "s4", "q5", "s6", "q7"} {
				if got := recvBody(t, ctrl); got != want {
					t.Fatalf("controller got %q, want %q", got, want)
				}
			}
		})
	}
}
