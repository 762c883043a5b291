package mqtt

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"brickyard/mtp/mtptest"
)

// An agent of each version through RabbitMQ's MQTT plugin (3.1.1 only in
// Debian's 3.10): its Records reach a controller, a burst to it waits in
// the broker until it reads (no drop), and its last Record before Close
// arrives.
func TestAgent_RabbitMQ(t *testing.T) {
	b := &broker{url: "tcp://" + mtptest.RabbitMQMQTT(t)}
	c := config(b, V311)
	c.Username, c.Password = "guest", "guest"
	c.ControllerTopic = "usp/controller/rmq-{eid}"
	c.AgentTopic = "usp/agent/rmq-{eid}"
	c.QueueLen = 4
	l := listen(t, c)
	agent := dial(t, c, "rmq-a1")
	ctrl := accept(t, l)
	expectConnect(t, ctrl, "rmq-a1", "usp/agent/rmq-rmq-a1", V311)
	send(t, agent, "hello")
	if got := recvBody(t, ctrl); got != "hello" {
		t.Fatalf("controller got %q", got)
	}
	for i := range 40 {
		send(t, ctrl, fmt.Sprint("burst-", i))
	}
	for i := range 40 {
		if got := recvBody(t, agent); got != fmt.Sprint("burst-", i) {
			t.Fatalf("agent got %q, want burst-%d", got, i)
		}
	}
	if n := agent.(*agentConn).drops.Load(); n != 0 {
		t.Fatalf("the agent dropped %d Records", n)
	}
	send(t, agent, "last words")
	_ = agent.Close()
	if got := recvBody(t, ctrl); got != "last words" {
		t.Fatalf("controller got %q", got)
	}
}

// The Dialer's keeper sends PINGREQ to a quiet agent and ends the
// connection of an agent whose broker has been silent for 1.5 keep-alives:
// the agent's Recv reports the session broken.
func TestAgent_KeeperDetectsSilentBroker(t *testing.T) {
	for _, v := range versions {
		t.Run("v"+v.String(), func(t *testing.T) {
			checkGoroutines(t)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			seen := make(chan []byte, 1)
			go fakeSilentAgentBroker(ln, v, seen)
			d, err := NewDialer(Config{Broker: "tcp://" + ln.Addr().String(), Version: v, ControllerID: ctrlID, KeepAlive: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			d.(*dialer).keeper.every = 100 * time.Millisecond
			conn, err := d.Dial(tctx(t), "a1")
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err = conn.Recv(ctx)
			wantBroken(t, "recv from a silent broker", err)
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("detected after %v", el)
			}
			conn.Close()
			if got := <-seen; !bytes.Contains(got, pingreq) {
				t.Errorf("no PINGREQ among % x", got)
			}
		})
	}
}

// fakeSilentAgentBroker answers an agent's CONNECT, SUBSCRIBE and its
// mqtt_connect PUBLISH, then reads everything and answers nothing.
func fakeSilentAgentBroker(ln net.Listener, v Version, seen chan<- []byte) {
	c, err := ln.Accept()
	if err != nil {
		seen <- nil
		return
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var all []byte
	answered := 0
	br := bufio.NewReader(c)
	for {
		first, err := br.ReadByte()
		if err != nil {
			seen <- all
			return
		}
		n, err := readLength(br)
		if err != nil {
			seen <- all
			return
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(br, body); err != nil {
			seen <- all
			return
		}
		switch first >> 4 {
		case pktConnect:
			ack := []byte{0x20, 2, 0, 0}
			if v == V5 {
				ack = []byte{0x20, 3, 0, 0, 0}
			}
			_, _ = c.Write(ack)
		case pktSubscribe:
			if v == V5 {
				_, _ = c.Write([]byte{0x90, 4, body[0], body[1], 0, 1})
			} else {
				_, _ = c.Write([]byte{0x90, 3, body[0], body[1], 1})
			}
		case pktPublish:
			if answered == 0 && (first>>1)&3 == 1 {
				tl := int(body[0])<<8 | int(body[1])
				_, _ = c.Write([]byte{0x40, 2, body[2+tl], body[3+tl]})
			}
			answered++
		case pktPingreq:
			all = append(all, pingreq...)
		}
	}
}

// The MQTT 5 decoder takes any bytes from a broker without a panic or an
// allocation it did not check: a packet decodes or is malformed.
func FuzzDecode5(f *testing.F) {
	for _, p := range [][]byte{
		{0x20, 3, 0, 0, 0},
		{0x20, 9, 0, 0, 6, 0x21, 0, 20, 0x24, 1, 0},
		append([]byte{0x30, 0}, appendPublish5(nil, "t", 0, 0, "r", []byte("x"))[2:]...),
		appendPublish5(nil, "usp/agent/a", 7, 1, "usp/controller/c", []byte("payload")),
		{0x40, 2, 0, 1},
		{0x40, 4, 0, 1, 0x80, 0},
		{0x90, 4, 0, 1, 0, 1},
		{0xd0, 0},
		{0xe0, 2, 0x8e, 0},
	} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 2 {
			return
		}
		n, k, ok := varInt(b[1:])
		if !ok || 1+k+n != len(b) {
			return
		}
		_, _, _ = decode5(b[0], b[1+k:])
	})
}
