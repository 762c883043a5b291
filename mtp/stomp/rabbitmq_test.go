package stomp

import (
	"strings"
	"testing"
	"time"

	"brickyard/mtp/mtptest"
)

// TestRabbitMQ runs the binding against Debian's RabbitMQ (rabbitmq_stomp),
// which mtptest starts once for the test binary.
func TestRabbitMQ(t *testing.T) {
	addr := mtptest.StartRabbitMQ(t)
	t.Run("Session", func(t *testing.T) {
		noLeaks(t)
		exercise(t, config(t, addr))
	})
	t.Run("FiftyAgents", func(t *testing.T) {
		noLeaks(t)
		fifty(t, config(t, addr), 50, 3)
	})
	t.Run("HeartBeats", func(t *testing.T) {
		noLeaks(t)
		cfg := config(t, addr)
		cfg.HeartBeatOut, cfg.HeartBeatIn = 500*time.Millisecond, time.Second
		l := listen(t, cfg)
		a := dial(t, cfg, "proto::agent")
		// RabbitMQ answers in whole seconds: heart-beat:1000,1000.
		if s := a.(*agentConn).s; s.hbOut != time.Second || s.hbIn != time.Second || !strings.HasPrefix(s.server, "RabbitMQ/") {
			t.Fatalf("negotiated out %v in %v with %q", s.hbOut, s.hbIn, s.server)
		}
		c := accept(t, l)
		recv(t, c)
		idle := time.Now()
		// While the session idles, its queue exists, transient.
		q := strings.TrimPrefix(a.Info().Destination, "/queue/")
		out := mtptest.RabbitMQCtl(t, "list_queues", "--quiet", "--no-table-headers", "name", "durable", "auto_delete")
		if !strings.Contains(out, q+"\tfalse\ttrue\n") {
			t.Errorf("queue %s is not listed as durable=false auto_delete=true:\n%s", q, out)
		}
		time.Sleep(2500*time.Millisecond - time.Since(idle))
		send(t, c, record(t, ctrlID, "proto::agent", "still-there"))
		if _, id, _ := open(t, "proto::agent", recv(t, a)); id != "still-there" {
			t.Fatal(id)
		}
	})
	// Config.Durable: RabbitMQ refuses a SEND whose queue headers differ
	// from the queue's (precondition_failed), with an ERROR frame.
	t.Run("QueueHeadersMustAgree", func(t *testing.T) {
		noLeaks(t)
		cfg := config(t, addr)
		listen(t, cfg) // declares the controller's queue transient
		cfg.Durable = true
		t.Cleanup(func() {
			mtptest.RabbitMQCtl(t, "delete_queue", strings.TrimPrefix(Destination(cfg.AgentDest, "proto::durable"), "/queue/"))
		})
		d, _ := NewDialer(cfg)
		_, err := d.Dial(ctx(t), "proto::durable")
		mustBreak(t, "dial", err)
		if !strings.Contains(err.Error(), "precondition_failed") {
			t.Fatalf("error %v", err)
		}
	})
	// The gotcha of /queue/ destinations: nothing durable stays behind.
	t.Run("NoDurableQueues", func(t *testing.T) {
		var out string
		for range 20 {
			out = mtptest.RabbitMQCtl(t, "list_queues", "--quiet", "--no-table-headers", "name", "durable")
			if !strings.Contains(out, "true") && !strings.Contains(out, "Test") {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("queues left:\n%s", out)
	})
}
