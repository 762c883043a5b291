package mqtt

import (
	"bytes"
	"fmt"
	"net"
	"testing"
	"time"
)

// readerStream is what a broker may send: PUBLISHes at both QoS, one
// larger than a pool buffer (large streams), one over the reader's limit
// max, PUBACK, PINGRESP.
func readerStream(v5, large bool) (stream []byte, want []string, max int) {
	pub := func(topic string, id uint16, qos byte, payload []byte) {
		if v5 {
			stream = appendPublish5(stream, topic, id, qos, "", payload)
		} else {
			stream = appendPublish(stream, topic, id, qos, payload)
		}
		want = append(want, fmt.Sprintf("PUBLISH %s id=%d qos=%d %d bytes %x", topic, id, qos, len(payload), payload[:min(4, len(payload))]))
	}
	max, huge := 256, 600
	if large {
		max, huge = 64<<10, 100_000
	}
	pub("a/b", 0, 0, []byte("first"))
	pub("a/c", 7, 1, bytes.Repeat([]byte{1}, 200))
	stream = appendPuback(stream, 3)
	want = append(want, "PUBACK 3")
	stream = append(stream, 0xd0, 0) // PINGRESP
	want = append(want, "PINGRESP")
	if large {
		pub("big", 8, 1, bytes.Repeat([]byte{2}, readBufSize*2+17))
	}
	// Over the limit: read past, handed out without its payload.
	if v5 {
		stream = appendPublish5(stream, "huge", 9, 1, "", bytes.Repeat([]byte{3}, huge))
	} else {
		stream = appendPublish(stream, "huge", 9, 1, bytes.Repeat([]byte{3}, huge))
	}
	want = append(want, "PUBLISH huge id=9 qos=1 oversize")
	pub("after", 10, 1, []byte("last"))
	return stream, want, max
}

func describe(pk packet311) string {
	switch {
	case pk.kind == pktPublish && pk.oversize:
		return fmt.Sprintf("PUBLISH %s id=%d qos=%d oversize", pk.topic, pk.id, pk.qos)
	case pk.kind == pktPublish:
		return fmt.Sprintf("PUBLISH %s id=%d qos=%d %d bytes %x", pk.topic, pk.id, pk.qos, len(pk.payload), pk.payload[:min(4, len(pk.payload))])
	case pk.kind == pktPuback:
		return fmt.Sprintf("PUBACK %d", pk.id)
	case pk.kind == pktPingresp:
		return "PINGRESP"
	}
	return fmt.Sprintf("kind %d", pk.kind)
}

// tcpPair is a loopback TCP connection: the reader's raw-socket way.
func tcpPair(t *testing.T) (client, server net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		acc <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-acc
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// TestReader_SplitAnywhere: the stream cut into pieces of every small
// size, a read deadline passing between pieces (mid-packet), on a TCP
// socket (polled raw, no buffer while waiting) and on a net.Pipe (read
// through the net.Conn): every packet comes out whole, in order, and
// nothing is held once the stream is read.
func TestReader_SplitAnywhere(t *testing.T) {
	for _, v5 := range []bool{false, true} {
		for _, way := range []string{"tcp", "pipe"} {
			for _, piece := range []int{1, 3, 64, 1500, 1 << 20} {
				t.Run(fmt.Sprintf("v5=%v/%s/piece=%d", v5, way, piece), func(t *testing.T) {
					var cn, sn net.Conn
					if way == "tcp" {
						cn, sn = tcpPair(t)
					} else {
						cn, sn = net.Pipe()
						t.Cleanup(func() { cn.Close(); sn.Close() })
					}
					c := newClient(cn, linkParams{maxPacket: 64 << 10}, v5, &keeper{})
					if (way == "tcp") != (c.r.rc != nil) {
						t.Fatalf("raw socket: %v", c.r.rc != nil)
					}
					stream, want, max := readerStream(v5, piece >= 1500)
					// The writer sends a piece each time the reader
					// returns (a packet or a deadline): reads end
					// mid-packet as often as pieces do.
					turn := make(chan struct{}, 1)
					done := make(chan error, 1)
					go func() {
						for off := 0; off < len(stream); off += piece {
							if _, err := sn.Write(stream[off:min(off+piece, len(stream))]); err != nil {
								done <- err
								return
							}
							select {
							case <-turn:
							case <-time.After(10 * time.Second):
								done <- fmt.Errorf("the reader stopped at byte %d", off)
								return
							}
						}
						done <- nil
					}()
					var got []string
					waits := 0
					deadline := time.Now().Add(30 * time.Second)
					for len(got) < len(want) && time.Now().Before(deadline) {
						_ = cn.SetReadDeadline(time.Now().Add(2 * time.Millisecond))
						pk, _, err := c.read(max)
						select {
						case turn <- struct{}{}:
						default:
						}
						if isWait(err) {
							waits++
							continue
						}
						if err != nil {
							t.Fatalf("after %v: %v", got, err)
						}
						got = append(got, describe(pk))
					}
					if err := <-done; err != nil {
						t.Fatal(err)
					}
					if fmt.Sprint(got) != fmt.Sprint(want) {
						t.Fatalf("got  %v\nwant %v", got, want)
					}
					if c.r.buf != nil || c.r.skip != 0 || c.ready() {
						t.Fatalf("after the stream the reader holds %d bytes (skip %d)", len(c.r.buf), c.r.skip)
					}
					t.Logf("%d reads ended by the deadline", waits)
				})
			}
		}
	}
}

// TestReader_Malformed: a remaining length of more than 4 bytes, and a
// packet other than PUBLISH over the limit, end the connection.
func TestReader_Malformed(t *testing.T) {
	for name, b := range map[string][]byte{
		"length":       {0x30, 0xff, 0xff, 0xff, 0xff, 0x01},
		"suback-limit": append([]byte{0x90, 0x80, 0x80, 0x08}, make([]byte, 16)...),
	} {
		t.Run(name, func(t *testing.T) {
			cn, sn := tcpPair(t)
			c := newClient(cn, linkParams{maxPacket: 64 << 10}, false, &keeper{})
			go sn.Write(b)
			_ = cn.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, _, err := c.read(64 << 10); err == nil || isWait(err) {
				t.Fatalf("read: %v, want a malformed packet", err)
			}
			select {
			case <-c.done():
			default:
				t.Fatal("the connection lives on")
			}
		})
	}
}
