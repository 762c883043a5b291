package mqtt

import (
	"testing"
)

// A broker restart ends every session with ErrBroken; once the broker is
// back, a new Listener and a new Dial work (reconnecting is the caller's
// job).
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
		agent2 := dial(t, c, "a1")
		ctrl2 := accept(t, l2)
		expectConnect(t, ctrl2, "a1", "usp/agent/a1", v)
		send(t, ctrl2, "back")
		if got := recvBody(t, agent2); got != "back" {
			t.Fatalf("after restart: %q", got)
		}
	})
}
