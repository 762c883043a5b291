package mqtt

import (
	"testing"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"brickyard/usp"
)

func codecFor(id string) usp.Codec { return usp.Codec{LocalID: id} }

// §5.4 Responses: an agent answers on the reply topic of the request
// (MQTT 5 Response Topic, 3.1.1 reply-to suffix); a request that names none
// (usp-js) is answered on the configured controller topic, as are
// notifications.
func TestAgent_RepliesWhereTheRequestSaid(t *testing.T) {
	eachBroker(t, func(t *testing.T, b *broker, v Version) {
		c := config(b, v)
		main := listen(t, c)
		c2 := c
		c2.ControllerTopic = "usp/other/{eid}"
		c2.ClientID = "other-{eid}" // 3.1.1 would use the same client ID as main
		other := listen(t, c2)
		agent := dial(t, c, "proto::agent-1")
		mc := accept(t, main)
		expectConnect(t, mc, "proto::agent-1", "usp/agent/proto::agent-1", v)

		raw := rawLink(t, b, v, "raw-"+v.String(), nil)
		own := "usp/agent/proto::agent-1"
		pub := func(body, replyTo string) {
			t.Helper()
			topic, rt := own, ""
			switch {
			case replyTo != "" && v == V311:
				topic = withReplyTo(own, replyTo)
			case replyTo != "":
				rt = replyTo
			}
			if err := raw.publish(tctx(t), topic, record(ctrlID, "proto::agent-1", body), rt); err != nil {
				t.Fatal(err)
			}
			if got := recvBody(t, agent); got != body {
				t.Fatalf("agent got %q, want %q", got, body)
			}
			send(t, agent, body+"-resp")
		}

		pub("to-other", "usp/other/proto::ctrl")
		oc := accept(t, other)
		if got := recvBody(t, oc); got != "to-other-resp" {
			t.Fatalf("other controller topic got %q", got)
		}
		if oc.Info().Topic != own || oc.Info().MQTTv5 != (v == V5) {
			t.Errorf("other's conn info %+v", oc.Info())
		}
		send(t, oc, "from-other") // answered on the agent's reply topic
		if got := recvBody(t, agent); got != "from-other" {
			t.Fatalf("agent got %q", got)
		}

		pub("no-reply-topic", "") // usp-js: answered on the controller topic
		if got := recvBody(t, mc); got != "no-reply-topic-resp" {
			t.Fatalf("main controller topic got %q", got)
		}
		waitStats(t, other, Stats{Records: 1, Sessions: 1})
	})
}

// responseInfoHook plays a broker that tells MQTT 5 clients their reply
// topic (CONNACK Response Information, R-MQTT.21) and an extra filter
// (user property subscribe-topic).
type responseInfoHook struct{ mochi.HookBase }

func (*responseInfoHook) ID() string           { return "response-info" }
func (*responseInfoHook) Provides(b byte) bool { return b == mochi.OnPacketEncode }
func (*responseInfoHook) OnPacketEncode(cl *mochi.Client, pk packets.Packet) packets.Packet {
	if pk.FixedHeader.Type == packets.Connack && cl.Properties.Props.RequestResponseInfo == 1 {
		pk.Properties.ResponseInfo = "usp/assigned/" + string(cl.Properties.Username)
		pk.Properties.User = append(pk.Properties.User, packets.UserProperty{Key: "subscribe-topic", Val: "usp/extra/#"})
	}
	return pk
}

func TestAgent_HonoursConnackResponseInformation(t *testing.T) {
	checkGoroutines(t)
	eb, err := NewEmbeddedBroker("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	eb.hooks = append(eb.hooks, new(responseInfoHook))
	b := runMochi(t, eb)
	c := config(b, V5)
	l := listen(t, c)
	c.Username = "dev1"
	agent := dial(t, c, "a1")
	if agent.Info().Topic != "usp/assigned/dev1" {
		t.Fatalf("agent topic %q", agent.Info().Topic)
	}
	ctrl := accept(t, l)
	expectConnect(t, ctrl, "a1", "usp/assigned/dev1", V5)
	send(t, ctrl, "via-response-info")
	if got := recvBody(t, agent); got != "via-response-info" {
		t.Fatalf("agent got %q", got)
	}
	raw := rawLink(t, b, V5, "raw", nil)
	if err := raw.publish(tctx(t), "usp/extra/x", record(ctrlID, "a1", "via-subscribe-topic"), ""); err != nil {
		t.Fatal(err)
	}
	if got := recvBody(t, agent); got != "via-subscribe-topic" {
		t.Fatalf("agent got %q", got)
	}
}
