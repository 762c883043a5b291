package stomp

import (
	"testing"

	"brickyard/mtp/mtptest"
)

// benchRoundTrip measures one request and its answer: controller Send,
// agent Recv, agent Send, controller Recv.
func benchRoundTrip(b *testing.B, cfg Config) {
	const agentID = "proto::bench"
	l := listen(b, cfg)
	a := dial(b, cfg, agentID)
	c := accept(b, l)
	recv(b, c)
	req, resp := record(b, ctrlID, agentID, "req"), record(b, agentID, ctrlID, "resp")
	cx := ctx(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(req) + len(resp)))
	for b.Loop() {
		if err := c.Send(cx, req); err != nil {
			b.Fatal(err)
		}
		if _, err := a.Recv(cx); err != nil {
			b.Fatal(err)
		}
		if err := a.Send(cx, resp); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Recv(cx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRoundTripEmbedded(b *testing.B) {
	benchRoundTrip(b, config(b, embedded(b).Addr()))
}

func BenchmarkRoundTripRabbitMQ(b *testing.B) {
	benchRoundTrip(b, config(b, mtptest.StartRabbitMQ(b)))
}
