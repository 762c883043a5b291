package stomp

import (
	"fmt"
	"sync"
	"testing"
)

// Replies go to the reply-to-dest of the last MESSAGE (TR-369 STOMP
// "Replies"), on both sides.
func TestReplyToDest(t *testing.T) {
	noLeaks(t)
	b := embedded(t)
	cfgA := config(t, b.Addr())
	cfgB := cfgA
	cfgB.ControllerDest += "-b"
	la, lb := listen(t, cfgA), listen(t, cfgB)
	a := dial(t, cfgA, "proto::agent")
	ca := accept(t, la)
	recv(t, ca) // stomp_connect

	// Controller B sends first: it has no session, so it talks raw STOMP.
	raw := rawClient(t, b.Addr())
	raw.send(t, "SEND", record(t, ctrlID, "proto::agent", "from-b"),
		"destination", a.Info().Destination, "reply-to-dest", cfgB.ControllerDest, "content-type", contentType)
	if _, id, _ := open(t, "proto::agent", recv(t, a)); id != "from-b" {
		t.Fatalf("agent got %s", id)
	}
	send(t, a, record(t, "proto::agent", ctrlID, "to-b"))
	cb := accept(t, lb) // B hears the agent for the first time: a session from reply-to-dest
	if cb.Info().Peer != "proto::agent" || cb.Info().Destination != a.Info().Destination {
		t.Fatalf("B's conn %+v", cb.Info())
	}
	if _, id, _ := open(t, ctrlID, recv(t, cb)); id != "to-b" {
		t.Fatalf("B got %s", id)
	}
	send(t, cb, record(t, ctrlID, "proto::agent", "b-again")) // B names its own destination
	if _, id, _ := open(t, "proto::agent", recv(t, a)); id != "b-again" {
		t.Fatalf("agent got %s", id)
	}
	send(t, a, record(t, "proto::agent", ctrlID, "still-b"))
	if _, id, _ := open(t, ctrlID, recv(t, cb)); id != "still-b" {
		t.Fatalf("B got %s", id)
	}
	send(t, ca, record(t, ctrlID, "proto::agent", "from-a")) // A names /queue/...-controller
	recv(t, a)
	send(t, a, record(t, "proto::agent", ctrlID, "back-to-a"))
	if _, id, _ := open(t, ctrlID, recv(t, ca)); id != "back-to-a" {
		t.Fatalf("A got %s", id)
	}
}

// 50 agents through one listener: every Record reaches the right Conn and
// every answer the right agent.
func TestFiftyAgents(t *testing.T) {
	noLeaks(t)
	b := embedded(t)
	fifty(t, config(t, b.Addr()), 50, 5)
}

func fifty(t *testing.T, cfg Config, agents, perAgent int) {
	l := listen(t, cfg)
	var ctrl sync.WaitGroup
	ctrl.Add(1)
	go func() { // the controller: echo every Record's msg_id to its sender
		defer ctrl.Done()
		var conns sync.WaitGroup
		defer conns.Wait()
		for range agents {
			c, err := l.Accept(ctx(t))
			if err != nil {
				t.Errorf("accept: %v", err)
				return
			}
			conns.Add(1)
			go func() {
				defer conns.Done()
				defer c.Close()
				peer := c.Info().Peer
				for i := 0; i <= perAgent; i++ {
					b, err := c.Recv(ctx(t))
					if err != nil {
						t.Errorf("recv from %s: %v", peer, err)
						return
					}
					from, id, rec := open(t, ctrlID, b)
					if from != peer {
						t.Errorf("conn of %s got a Record from %s", peer, from)
					}
					if i == 0 {
						if rec.GetStompConnect() == nil {
							t.Errorf("%s: first Record is not stomp_connect", peer)
						}
						continue
					}
					if err := c.Send(ctx(t), record(t, ctrlID, peer, id)); err != nil {
						t.Errorf("send to %s: %v", peer, err)
					}
				}
			}()
		}
	}()
	d, err := NewDialer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("os::00256D-SIM%03d", i)
			a, err := d.Dial(ctx(t), id)
			if err != nil {
				t.Errorf("dial %s: %v", id, err)
				return
			}
			defer a.Close()
			for j := range perAgent {
				if err := a.Send(ctx(t), record(t, id, ctrlID, fmt.Sprintf("%s/%d", id, j))); err != nil {
					t.Errorf("send: %v", err)
					return
				}
			}
			for j := range perAgent {
				b, err := a.Recv(ctx(t))
				if err != nil {
					t.Errorf("%s recv: %v", id, err)
					return
				}
				if _, got, _ := open(t, id, b); got != fmt.Sprintf("%s/%d", id, j) {
					t.Errorf("%s got %s, want its record %d", id, got, j)
				}
			}
		}()
	}
	wg.Wait()
	ctrl.Wait()
}

// Bodies that are not Records for this controller are dropped; the
// listener carries on.
func TestListener_DropsMalformed(t *testing.T) {
	noLeaks(t)
	b := embedded(t)
	cfg := config(t, b.Addr())
	var lg logs
	cfg.Logf = lg.logf
	l := listen(t, cfg)
	raw := rawClient(t, b.Addr())
	for _, body := range [][]byte{
		[]byte("not protobuf \xff\xff\xff"),
		record(t, "proto::agent", "proto::another-controller", "foreign"),
		record(t, "", ctrlID, "anonymous"),
		record(t, "proto::nowhere", ctrlID, "no-way-back"), // no session, no reply-to-dest
	} {
		raw.send(t, "SEND", body, "destination", cfg.ControllerDest)
	}
	a := dial(t, cfg, "proto::agent")
	c := accept(t, l)
	if c.Info().Peer != "proto::agent" {
		t.Fatalf("first session is %s", c.Info().Peer)
	}
	recv(t, c)
	send(t, a, record(t, "proto::agent", ctrlID, "ok"))
	if _, id, _ := open(t, ctrlID, recv(t, c)); id != "ok" {
		t.Fatalf("got %s", id)
	}
	if got := lg.all(); len(got) != 4 {
		t.Fatalf("logged %d drops, want 4: %q", len(got), got)
	}
}

// A second stomp_connect from an agent is a new session: the old Conn
// breaks and Accept returns the new one. The second connection is made
// once the broker has let the first go: until then a message to the
// agent's queue may be handed to the first connection's subscription.
func TestListener_Reconnect(t *testing.T) {
	noLeaks(t)
	b := embedded(t)
	cfg := config(t, b.Addr())
	l := listen(t, cfg)
	a1 := dial(t, cfg, "proto::agent")
	c1 := accept(t, l)
	recv(t, c1)
	_ = a1.Close()
	for n, left := b.departed(); n < 1; n, left = b.departed() {
		select {
		case <-left:
		case <-ctx(t).Done():
			t.Fatal("the broker never saw the first connection go")
		}
	}
	a2 := dial(t, cfg, "proto::agent")
	c2 := accept(t, l)
	_, err := c1.Recv(ctx(t))
	mustBreak(t, "old session", err)
	if _, _, rec := open(t, ctrlID, recv(t, c2)); rec.GetStompConnect() == nil {
		t.Fatal("the new session does not start with stomp_connect")
	}
	send(t, c2, record(t, ctrlID, "proto::agent", "hi"))
	recv(t, a2)
}
