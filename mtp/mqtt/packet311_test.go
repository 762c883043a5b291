package mqtt

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func read311(b []byte, max int) (packet311, error) {
	return readPacket311(bufio.NewReader(bytes.NewReader(b)), max)
}

func TestPacket311_PublishRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		qos     byte
		payload []byte
	}{{0, nil}, {0, []byte("x")}, {1, bytes.Repeat([]byte{0xa5}, 300)}, {1, bytes.Repeat([]byte{1}, 20000)}} {
		b := appendPublish(nil, "usp/agent/a1/reply-to=usp%2Fc", 7, tc.qos, tc.payload)
		p, err := read311(b, 1<<20)
		if err != nil {
			t.Fatalf("qos %d: %v", tc.qos, err)
		}
		wantID := uint16(0)
		if tc.qos == 1 {
			wantID = 7
		}
		if p.kind != pktPublish || p.qos != tc.qos || p.id != wantID || p.topic != "usp/agent/a1/reply-to=usp%2Fc" || !bytes.Equal(p.payload, tc.payload) {
			t.Fatalf("qos %d: decoded %+v", tc.qos, p)
		}
	}
}

// A PUBLISH over the limit comes back without its payload, with its packet
// identifier (to acknowledge it), and the stream stays in step.
func TestPacket311_OversizePublishSkipped(t *testing.T) {
	b := appendPublish(nil, "t/big", 9, 1, bytes.Repeat([]byte("z"), 5000))
	b = appendPuback(b, 3)
	r := bufio.NewReader(bytes.NewReader(b))
	p, err := readPacket311(r, 1000)
	if err != nil || !p.oversize || p.payload != nil || p.id != 9 || p.topic != "t/big" {
		t.Fatalf("oversize: %+v %v", p, err)
	}
	if p, err = readPacket311(r, 1000); err != nil || p.kind != pktPuback || p.id != 3 {
		t.Fatalf("next packet: %+v %v", p, err)
	}
	if _, err := read311(appendSubscribe(nil, 1, []string{strings.Repeat("f", 2000)}, 1), 1000); !errors.Is(err, errMalformed) {
		t.Fatalf("oversize non-PUBLISH: %v", err)
	}
}

func TestPacket311_BrokerPackets(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want packet311
	}{
		{[]byte{0x20, 2, 0, 0}, packet311{kind: pktConnack}},
		{[]byte{0x20, 2, 1, 5}, packet311{kind: pktConnack, sessionPresent: true, returnCode: 5}},
		{[]byte{0x40, 2, 0x12, 0x34}, packet311{kind: pktPuback, id: 0x1234}},
		{[]byte{0x90, 4, 0, 1, 1, 0x80}, packet311{kind: pktSuback, id: 1, granted: []byte{1, 0x80}}},
		{[]byte{0xd0, 0}, packet311{kind: pktPingresp}},
		{[]byte{0xe0, 0}, packet311{kind: pktDisconnect}},
	} {
		got, err := read311(tc.in, 100)
		if err != nil || got.kind != tc.want.kind || got.id != tc.want.id || got.returnCode != tc.want.returnCode ||
			got.sessionPresent != tc.want.sessionPresent || !bytes.Equal(got.granted, tc.want.granted) {
			t.Errorf("% x: %+v %v, want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range [][]byte{
		{0x20, 2, 2, 0},                // CONNACK reserved flag
		{0x20, 3, 0, 0, 0},             // CONNACK length
		{0x36, 5, 0, 1, 't', 0, 1},     // PUBLISH at QoS 3
		{0x34, 5, 0, 1, 't', 0, 1},     // PUBLISH at QoS 2
		{0x32, 3, 0, 1, 't'},           // QoS 1 without identifier
		{0x32, 5, 0, 1, 't', 0, 0},     // identifier 0
		{0x30, 3, 0, 5, 't'},           // topic longer than the packet
		{0x30, 2, 0, 0},                // empty topic
		{0x30, 4, 0, 2, 0xff, 0xfe},    // topic not UTF-8
		{0x90, 3, 0, 1, 3},             // SUBACK return code 3
		{0x10, 0},                      // CONNECT from a broker
		{0xc0, 0},                      // PINGREQ from a broker
		{0x30, 0xff, 0xff, 0xff, 0xff}, // remaining length of 5 bytes
	} {
		if _, err := read311(bad, 100); !errors.Is(err, errMalformed) {
			t.Errorf("% x: %v, want errMalformed", bad, err)
		}
	}
	if _, err := read311([]byte{0x30, 10, 0, 1}, 100); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated: %v", err)
	}
}

func TestPacket311_Encoders(t *testing.T) {
	got := appendConnect(nil, "a1", "u", "p", 60)
	want := []byte{0x10, 20, 0, 4, 'M', 'Q', 'T', 'T', 4, 0xc2, 0, 60, 0, 2, 'a', '1', 0, 1, 'u', 0, 1, 'p'}
	if !bytes.Equal(got, want) {
		t.Errorf("CONNECT % x\nwant    % x", got, want)
	}
	if got := appendConnect(nil, "", "", "", 0); !bytes.Equal(got, []byte{0x10, 12, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 0, 0, 0}) {
		t.Errorf("bare CONNECT % x", got)
	}
	if got := appendSubscribe(nil, 5, []string{"a/#", "b"}, 1); !bytes.Equal(got, []byte{0x82, 12, 0, 5, 0, 3, 'a', '/', '#', 1, 0, 1, 'b', 1}) {
		t.Errorf("SUBSCRIBE % x", got)
	}
	if got := appendLength(nil, 268435455); !bytes.Equal(got, []byte{0xff, 0xff, 0xff, 0x7f}) {
		t.Errorf("length % x", got)
	}
}
