package mqtt

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"brickyard/mtp"
)

// Queues are bounded. On the controller's side (one broker connection for
// every agent) a Conn's full queue and a full Accept backlog drop Records
// (counted, logged), and the reader never blocks. An agent's connection is
// its own: a Record waits in the broker until the agent reads it, and none
// is lost (QoS 1: the broker sends at most the agent's Receive Maximum,
// its QueueLen, unacknowledged).
func TestBoundedQueues_DropWhenFull(t *testing.T) {
	checkGoroutines(t)
	b := startMochi(t)
	c := config(b, V5)
	c.QueueLen, c.Backlog = 2, 1
	var logs atomic.Int32
	c.Logf = func(string, ...any) { logs.Add(1) }
	l := listen(t, c)

	agent := dial(t, c, "a1") // its mqtt_connect fills the backlog
	for i := range 5 {
		send(t, agent, fmt.Sprint(i))
	}
	waitFor(t, func() bool { s := l.Stats(); return s.Records+s.Dropped == 6 })
	dial(t, c, "a2") // backlog full: a2's mqtt_connect is dropped
	waitFor(t, func() bool { return l.Stats().Dropped == 5 })
	ctrl := accept(t, l)
	expectConnect(t, ctrl, "a1", "usp/agent/a1", V5)
	if got := recvBody(t, ctrl); got != "0" {
		t.Fatalf("got %q", got)
	}
	expectEmpty(t, ctrl)
	waitStats(t, l, Stats{Records: 2, Dropped: 5, Sessions: 1})

	for i := range 5 {
		send(t, ctrl, fmt.Sprint("to-agent-", i))
	}
	for i := range 5 {
		if got := recvBody(t, agent); got != fmt.Sprint("to-agent-", i) {
			t.Fatalf("agent got %q", got)
		}
	}
	if n := agent.(*agentConn).drops.Load(); n != 0 {
		t.Fatalf("the agent dropped %d Records", n)
	}
	if n := logs.Load(); n < 3 {
		t.Errorf("%d log lines for the drops", n)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met after 5 s")
		}
	}
}

func expectEmpty(t *testing.T, c mtp.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if b, err := c.Recv(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("queue not empty: %d bytes, %v", len(b), err)
	}
}

// MQTT keepalive: a broker that stops answering is detected within about
// twice the keepalive, after a PINGREQ went out.
func TestKeepAlive_SilentBrokerDetected(t *testing.T) {
	for _, v := range versions {
		t.Run("v"+v.String(), func(t *testing.T) {
			checkGoroutines(t)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			seen := make(chan []byte, 1)
			go silentBroker(ln, v, seen)
			nc, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			l, _, err := connect(tctx(t), v, nc, linkParams{clientID: "ka", keepAlive: 1, qos: 1, receiveMax: 4, maxPacket: 1 << 16, onMessage: func(message) {}})
			if err != nil {
				t.Fatal(err)
			}
			defer l.close()
			select {
			case <-l.done():
			case <-time.After(5 * time.Second):
				t.Fatal("silent broker not detected after 5 s")
			}
			if el := time.Since(start); el < 500*time.Millisecond || el > 4*time.Second {
				t.Errorf("detected after %v", el)
			}
			t.Logf("v%s: detected after %v: %v", v, time.Since(start).Round(10*time.Millisecond), l.cause())
			if got := <-seen; !strings.Contains(string(got), "\xc0\x00") {
				t.Errorf("no PINGREQ among % x", got)
			}
		})
	}
}

// silentBroker accepts one client, answers its CONNECT, then reads
// everything and answers nothing.
func silentBroker(ln net.Listener, v Version, seen chan<- []byte) {
	c, err := ln.Accept()
	if err != nil {
		seen <- nil
		return
	}
	defer c.Close()
	buf := make([]byte, 1024)
	if _, err := c.Read(buf); err != nil {
		seen <- nil
		return
	}
	connack := []byte{0x20, 2, 0, 0}
	if v == V5 {
		connack = []byte{0x20, 3, 0, 0, 0}
	}
	_, _ = c.Write(connack)
	_ = c.SetReadDeadline(time.Now().Add(6 * time.Second))
	var all []byte
	for {
		n, err := c.Read(buf)
		all = append(all, buf[:n]...)
		if err != nil {
			seen <- all
			return
		}
	}
}
