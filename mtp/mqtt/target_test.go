package mqtt

import (
	"testing"

	"brickyard/mtp"
)

// TestDialTarget: an agent aimed elsewhere than its Dialer's
// configuration (its data model's MTP objects, mtp.Target) announces its
// new own topic on the new controller topic, hears requests there and on
// the extra topic filter, and publishes to the new controller topic.
func TestDialTarget(t *testing.T) {
	eachBroker(t, func(t *testing.T, b *broker, v Version) {
		c := config(b, v)
		moved := c
		moved.ControllerTopic = "ops/controller/moved"
		lm := listen(t, moved)
		d, err := NewDialer(c)
		if err != nil {
			t.Fatal(err)
		}
		const agent = "os::00256D-MOVED1"
		conn, err := d.(mtp.TargetDialer).DialTarget(tctx(t), agent, mtp.Target{
			AgentTopic: "ops/agent/" + agent, ControllerTopic: "ops/controller/moved",
			Subscriptions: []string{"ops/fleet/#"}, ClientID: "moved-client"})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if got := conn.Info().Topic; got != "ops/agent/"+agent {
			t.Fatalf("own topic %q", got)
		}
		cc := accept(t, lm)
		expectConnect(t, cc, agent, "ops/agent/"+agent, v)

		// A request on the controller's side reaches the agent on its new
		// topic; its answer goes to the moved controller topic.
		send(t, cc, "to-new-own-topic")
		if got := recvBody(t, conn); got != "to-new-own-topic" {
			t.Fatalf("agent got %q", got)
		}
		send(t, conn, "answer")
		if got := recvBody(t, cc); got != "answer" {
			t.Fatalf("controller got %q", got)
		}
		// The extra filter: a Record published to a topic it matches.
		raw := rawLink(t, b, v, "fleet-wide", nil)
		if err := raw.publish(tctx(t), "ops/fleet/all", record(ctrlID, agent, "fleet-wide"), "ops/controller/moved"); err != nil {
			t.Fatal(err)
		}
		if got := recvBody(t, conn); got != "fleet-wide" {
			t.Fatalf("agent got %q on the extra filter", got)
		}

		// Bad targets are refused before anything is dialled.
		for _, bad := range []mtp.Target{{ControllerTopic: "a/+/b"}, {Subscriptions: []string{"a/#/b"}}, {MQTTVersion: "4"}} {
			if _, err := d.(mtp.TargetDialer).DialTarget(tctx(t), agent, bad); err == nil {
				t.Errorf("DialTarget(%+v) succeeded", bad)
			}
		}
	})
}
