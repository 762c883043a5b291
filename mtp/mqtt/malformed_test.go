package mqtt

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// Junk on the controller topic is dropped and counted; the Listener keeps
// serving.
func TestListener_DropsMalformedAndForeign(t *testing.T) {
	eachBroker(t, func(t *testing.T, b *broker, v Version) {
		var mu sync.Mutex
		var logs []string
		c := config(b, v)
		c.Logf = func(f string, args ...any) {
			mu.Lock()
			logs = append(logs, fmt.Sprintf(f, args...))
			mu.Unlock()
		}
		l := listen(t, c)
		raw := rawLink(t, b, v, "junk", nil)
		topic := "usp/controller/" + ctrlID
		junk := [][]byte{
			[]byte("not a record"),
			{0xff, 0xff, 0xff, 0xff, 0x0f},
			record("", ctrlID, "no from_id"),
			record("a9", "proto::someone-else", "foreign"),
			{}, // empty payload: a Record with nothing set, so no from_id
		}
		for _, j := range junk {
			if err := raw.publish(tctx(t), topic, j, ""); err != nil {
				t.Fatal(err)
			}
		}
		if err := raw.publish(tctx(t), topic+"/reply-to=", record("a8", ctrlID, "empty reply-to"), ""); err != nil {
			t.Fatal(err)
		}
		waitStats(t, l, Stats{Records: 1, Sessions: 1, Malformed: 4, Foreign: 1}) // a8's
		agent := dial(t, c, "a1")                                                 // still serving
		ctrl := accept(t, l)
		if ctrl.Info().Peer != "a8" {
			t.Fatalf("first session %+v, want a8's", ctrl.Info())
		}
		if got := recvBody(t, ctrl); got != "empty reply-to" {
			t.Fatalf("got %q", got)
		}
		ctrl = accept(t, l)
		expectConnect(t, ctrl, "a1", "usp/agent/a1", v)
		send(t, agent, "still here")
		if got := recvBody(t, ctrl); got != "still here" {
			t.Fatalf("got %q", got)
		}
		waitStats(t, l, Stats{Records: 3, Sessions: 2, Malformed: 4, Foreign: 1})
		mu.Lock()
		defer mu.Unlock()
		if len(logs) != 4 || !strings.Contains(logs[0], "malformed") { // at the 1st, 2nd, 4th malformed and the 1st foreign
			t.Errorf("logs %q", logs)
		}
	})
}

// A payload over MaxRecordSize is dropped on both sides, by the 3.1.1
// reader without reading it into memory (and still acknowledged).
func TestOversizeRecord_Dropped(t *testing.T) {
	eachBroker(t, func(t *testing.T, b *broker, v Version) {
		c := config(b, v)
		c.MaxRecordSize = 1000
		l := listen(t, c)
		agent := dial(t, c, "a1")
		ctrl := accept(t, l)
		expectConnect(t, ctrl, "a1", "usp/agent/a1", v)
		big := record("a1", ctrlID, string(bytes.Repeat([]byte("x"), 5000)))
		if err := agent.Send(tctx(t), big); err != nil {
			t.Fatal(err)
		}
		send(t, agent, "small")
		if got := recvBody(t, ctrl); got != "small" {
			t.Fatalf("got %q", got)
		}
		if err := ctrl.Send(tctx(t), record(ctrlID, "a1", string(bytes.Repeat([]byte("y"), 5000)))); err != nil {
			t.Fatal(err)
		}
		send(t, ctrl, "small too")
		if got := recvBody(t, agent); got != "small too" {
			t.Fatalf("got %q", got)
		}
		waitStats(t, l, Stats{Records: 2, Sessions: 1, Malformed: 1})
	})
}
