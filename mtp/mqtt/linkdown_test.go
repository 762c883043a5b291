package mqtt

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// A publish or subscribe that awaits its acknowledgement when the broker
// connection drops returns at once with ErrBroken, in both versions. (paho
// v0.23.0 alone answers it only at its 10 s PacketTimeout.) The broker is
// a fake one that closes the connection instead of acknowledging.
func TestLinkDown_WaitersReturn(t *testing.T) {
	// bound is generous: the waits end within milliseconds of the drop;
	// without the fix paho's 10 s PacketTimeout ends them.
	const bound = 5 * time.Second
	for _, v := range versions {
		t.Run("v"+v.String(), func(t *testing.T) {
			t.Run("agent subscribe", func(t *testing.T) {
				checkGoroutines(t)
				fb := newFakeBroker(t, pktSubscribe, 1, nil)
				c := fakeConfig(fb, v)
				d, err := NewDialer(c)
				if err != nil {
					t.Fatal(err)
				}
				err = within(t, bound, func() error {
					conn, err := d.Dial(context.Background(), "a1")
					if err == nil {
						_ = conn.Close()
					}
					return err
				})
				fb.wait(t)
				wantBroken(t, "dial", err)
			})
			t.Run("agent send", func(t *testing.T) {
				// An agent's Send returns once the PUBLISH is written (it
				// does not wait for the PUBACK): the drop shows on the
				// reader, and every Send after it is ErrBroken.
				checkGoroutines(t)
				fb := newFakeBroker(t, pktPublish, 2, nil) // the 1st is the mqtt_connect Record
				c := fakeConfig(fb, v)
				agent := dial(t, c, "a1")
				if err := within(t, bound, func() error {
					return agent.Send(context.Background(), record("a1", ctrlID, "x"))
				}); err != nil {
					wantBroken(t, "send", err)
				}
				select {
				case <-fb.killed:
				case <-time.After(bound):
					t.Fatal("the fake broker never dropped the connection")
				}
				_, err := agent.Recv(tctx(t))
				wantBroken(t, "recv after the drop", err)
				wantBroken(t, "send after the drop", agent.Send(context.Background(), record("a1", ctrlID, "y")))
			})
			t.Run("controller subscribe", func(t *testing.T) {
				checkGoroutines(t)
				fb := newFakeBroker(t, pktSubscribe, 1, nil)
				err := within(t, bound, func() error {
					l, err := NewListener(fakeConfig(fb, v))
					if err == nil {
						_ = l.Close()
					}
					return err
				})
				fb.wait(t)
				wantBroken(t, "listen", err)
			})
			t.Run("controller send", func(t *testing.T) {
				checkGoroutines(t)
				// After its SUBACK the broker delivers an agent's Record, then
				// drops the connection at the controller's first PUBLISH.
				fb := newFakeBroker(t, pktPublish, 1, record("a1", ctrlID, "hello"))
				c := fakeConfig(fb, v)
				l := listen(t, c)
				ctrl := accept(t, l)
				if got := recvBody(t, ctrl); got != "hello" {
					t.Fatalf("controller got %q", got)
				}
				err := within(t, bound, func() error {
					return ctrl.Send(context.Background(), record(ctrlID, "a1", "x"))
				})
				fb.wait(t)
				wantBroken(t, "send", err)
			})
		})
	}
}

// within runs f, which must return before bound; it fails the test (after
// f returned, so that no goroutine is left) when f took longer.
func within(t *testing.T, bound time.Duration, f func() error) error {
	t.Helper()
	start := time.Now()
	ch := make(chan error, 1)
	go func() { ch <- f() }()
	select {
	case err := <-ch:
		return err
	case <-time.After(bound):
	}
	err := <-ch
	t.Errorf("returned %v after the broker connection dropped, want well under %v (%v)", time.Since(start).Round(time.Millisecond), bound, err)
	return err
}

func fakeConfig(fb *fakeBroker, v Version) Config {
	// DialTimeout longer than paho's PacketTimeout, so that a subscribe
	// that is not cut short by the drop would show as a 10 s wait.
	return Config{Broker: "tcp://" + fb.ln.Addr().String(), Version: v, ControllerID: ctrlID, DialTimeout: 30 * time.Second}
}

// fakeBroker speaks just enough MQTT 5 and 3.1.1 for one client at a
// time: CONNACK, SUBACK, PUBACK, PINGRESP. At the killNth packet of type
// killType it closes the connection instead of answering. greet, when set,
// is published to the client (QoS 0, on the controller topic) right after
// its first SUBACK.
type fakeBroker struct {
	ln       net.Listener
	killType byte
	killNth  int
	greet    []byte
	killed   chan struct{}

	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

func newFakeBroker(t *testing.T, killType byte, killNth int, greet []byte) *fakeBroker {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fb := &fakeBroker{ln: ln, killType: killType, killNth: killNth, greet: greet, killed: make(chan struct{})}
	fb.wg.Go(fb.accept)
	t.Cleanup(func() {
		_ = ln.Close()
		fb.mu.Lock()
		for _, c := range fb.conns {
			_ = c.Close()
		}
		fb.mu.Unlock()
		fb.wg.Wait()
	})
	return fb
}

// wait fails the test unless the broker dropped a connection as told.
func (fb *fakeBroker) wait(t *testing.T) {
	t.Helper()
	select {
	case <-fb.killed:
	default:
		t.Fatal("the fake broker never dropped the connection")
	}
}

func (fb *fakeBroker) accept() {
	for {
		nc, err := fb.ln.Accept()
		if err != nil {
			return
		}
		fb.mu.Lock()
		fb.conns = append(fb.conns, nc)
		fb.mu.Unlock()
		fb.wg.Go(func() { fb.serve(nc) })
	}
}

func (fb *fakeBroker) serve(nc net.Conn) {
	defer nc.Close()
	br := bufio.NewReader(nc)
	v5 := false
	seen := map[byte]int{}
	for {
		head, body, err := readFake(br)
		if err != nil {
			return
		}
		typ := head >> 4
		seen[typ]++
		if typ == fb.killType && seen[typ] == fb.killNth {
			close(fb.killed) // first: the client learns of the drop from the close
			_ = nc.Close()
			return
		}
		var out []byte
		switch typ {
		case pktConnect: // protocol name, then the level (4: 3.1.1, 5)
			if len(body) < 7 {
				return
			}
			v5 = body[6] == 5
			out = []byte{0x20, 2, 0, 0}
			if v5 {
				out = []byte{0x20, 3, 0, 0, 0} // no properties
			}
		case pktSubscribe:
			id, n := body[:2], countFilters(body[2:], v5)
			props := []byte{}
			if v5 {
				props = []byte{0}
			}
			ack := append(append(append([]byte{}, id...), props...), make([]byte, n)...)
			for i := len(ack) - n; i < len(ack); i++ {
				ack[i] = 1 // granted QoS 1
			}
			out = append([]byte{0x90, byte(len(ack))}, ack...)
			if fb.greet != nil && seen[typ] == 1 {
				out = append(out, fakePublish(expand("usp/controller/{eid}", ctrlID), fb.greet, v5)...)
			}
		case pktPublish:
			if (head>>1)&3 > 0 {
				tl := int(binary.BigEndian.Uint16(body))
				out = append([]byte{0x40, 2}, body[2+tl:4+tl]...)
			}
		case pktPingreq:
			out = []byte{0xD0, 0}
		case pktDisconnect:
			return
		}
		if _, err := nc.Write(out); err != nil {
			return
		}
	}
}

// countFilters counts the topic filters of a SUBSCRIBE after its packet
// identifier.
func countFilters(b []byte, v5 bool) int {
	if v5 { // the properties' length, then the properties
		n, k := binary.Uvarint(b) // MQTT's variable byte integer is the same encoding
		b = b[k+int(n):]
	}
	count := 0
	for len(b) >= 3 {
		l := int(binary.BigEndian.Uint16(b))
		b = b[min(len(b), 2+l+1):]
		count++
	}
	return count
}

func fakePublish(topic string, payload []byte, v5 bool) []byte {
	body := binary.BigEndian.AppendUint16(nil, uint16(len(topic)))
	body = append(body, topic...)
	if v5 {
		body = append(body, 0) // no properties
	}
	body = append(body, payload...)
	return append(append([]byte{0x30}, binary.AppendUvarint(nil, uint64(len(body)))...), body...)
}

// readFake reads one packet: the first byte of its fixed header and its body.
func readFake(br *bufio.Reader) (byte, []byte, error) {
	head, err := br.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return 0, nil, err
	}
	if n > 1<<20 {
		return 0, nil, fmt.Errorf("packet of %d bytes", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(br, body); err != nil {
		return 0, nil, err
	}
	return head, body, nil
}
