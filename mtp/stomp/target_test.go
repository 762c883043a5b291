package stomp

import (
	"testing"

	"brickyard/mtp"
)

// TestDialTarget: an agent aimed at another controller destination and
// own destination (its MTP objects) reaches a controller listening there.
func TestDialTarget(t *testing.T) {
	b := embedded(t)
	cfg := config(t, b.Addr())
	moved := cfg
	moved.ControllerDest = "/queue/moved-controller"
	l := listen(t, moved)
	d, err := NewDialer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	const agent = "os::00256D-STOMPMOVED"
	c, err := d.(mtp.TargetDialer).DialTarget(ctx(t), agent, mtp.Target{ControllerDest: "/queue/moved-controller", AgentDest: "/queue/moved-agent"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Info().Destination != "/queue/moved-agent" {
		t.Fatalf("own destination %q", c.Info().Destination)
	}
	cc := accept(t, l)
	if cc.Info().Peer != agent {
		t.Fatalf("peer %q", cc.Info().Peer)
	}
	send(t, cc, record(t, ctrlID, agent, "to-moved"))
	if _, id, _ := open(t, agent, recv(t, c)); id != "to-moved" {
		t.Fatalf("agent got %q", id)
	}
}
