package mqtt

import (
	"bytes"
	"testing"
)

// One request/response per iteration: controller Send, agent Recv, agent
// Send, controller Recv, with 256-byte payloads at QoS 1 (so each Send
// waits for the broker's PUBACK).
func benchRoundTrip(b *testing.B, start func(testing.TB) *broker) {
	for _, v := range versions {
		b.Run("v"+v.String(), func(b *testing.B) {
			bk := start(b)
			c := config(bk, v)
			l := listen(b, c)
			agent := dial(b, c, "proto::bench-agent")
			ctrl := accept(b, l)
			if _, err := ctrl.Recv(tctx(b)); err != nil { // mqtt_connect
				b.Fatal(err)
			}
			body := string(bytes.Repeat([]byte("r"), 256))
			req, resp := record(ctrlID, "proto::bench-agent", body), record("proto::bench-agent", ctrlID, body)
			ctx := tctx(b)
			b.ReportAllocs()
			b.SetBytes(int64(len(req) + len(resp)))
			b.ResetTimer()
			for range b.N {
				if err := ctrl.Send(ctx, req); err != nil {
					b.Fatal(err)
				}
				if _, err := agent.Recv(ctx); err != nil {
					b.Fatal(err)
				}
				if err := agent.Send(ctx, resp); err != nil {
					b.Fatal(err)
				}
				if _, err := ctrl.Recv(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRoundTripMochi(b *testing.B)     { benchRoundTrip(b, startMochi) }
func BenchmarkRoundTripMosquitto(b *testing.B) { benchRoundTrip(b, startMosquitto) }
