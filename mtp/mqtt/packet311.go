package mqtt

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// MQTT 3.1.1 control packet types (OASIS MQTT 3.1.1 §2.2.1).
const (
	pktConnect     = 1
	pktConnack     = 2
	pktPublish     = 3
	pktPuback      = 4
	pktSubscribe   = 8
	pktSuback      = 9
	pktPingreq     = 12
	pktPingresp    = 13
	pktDisconnect  = 14
	maxPublishHead = 2 + 65535 + 2 // topic length, topic, packet identifier
)

// packet311 is a decoded packet from the broker: CONNACK, PUBLISH, PUBACK,
// SUBACK or PINGRESP (the only ones a broker sends a 3.1.1 client that
// subscribes at QoS 0 or 1).
type packet311 struct {
	kind           byte
	id             uint16 // PUBLISH at QoS 1, PUBACK, SUBACK
	sessionPresent bool   // CONNACK
	returnCode     byte   // CONNACK
	granted        []byte // SUBACK: one return code per filter
	qos            byte   // PUBLISH
	topic          string // PUBLISH
	payload        []byte // PUBLISH; nil when oversize
	oversize       bool   // PUBLISH longer than the reader's limit: payload discarded
}

var errMalformed = errors.New("mqtt 3.1.1: malformed packet")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errMalformed, fmt.Sprintf(format, args...))
}

// readPacket311 reads one packet. A PUBLISH whose remaining length exceeds
// max is returned with oversize set and its payload discarded (so that it
// can still be acknowledged); any other packet over max is an error.
func readPacket311(r *bufio.Reader, max int) (packet311, error) {
	first, err := r.ReadByte()
	if err != nil {
		return packet311{}, err
	}
	n, err := readLength(r)
	if err != nil {
		return packet311{}, err
	}
	if n > max && first>>4 == pktPublish {
		return readOversizePublish(r, first, n)
	}
	if n > max {
		return packet311{}, malformed("packet type %d of %d bytes exceeds %d", first>>4, n, max)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return packet311{}, err
	}
	return decode311(first, body)
}

// readLength reads the Remaining Length: 1 to 4 bytes, 7 bits each.
func readLength(r io.ByteReader) (int, error) {
	n, shift := 0, 0
	for i := 0; i < 4; i++ {
		b, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		n |= int(b&0x7f) << shift
		if b&0x80 == 0 {
			return n, nil
		}
		shift += 7
	}
	return 0, malformed("remaining length longer than 4 bytes")
}

// readOversizePublish decodes the head of a PUBLISH of n bytes and
// discards the rest.
func readOversizePublish(r *bufio.Reader, first byte, n int) (packet311, error) {
	var lb [2]byte
	if _, err := io.ReadFull(r, lb[:]); err != nil {
		return packet311{}, err
	}
	head := 2 + int(binary.BigEndian.Uint16(lb[:]))
	if (first>>1)&3 > 0 {
		head += 2
	}
	if head > n {
		return packet311{}, malformed("PUBLISH head of %d bytes in a %d-byte packet", head, n)
	}
	body := make([]byte, head)
	copy(body, lb[:])
	if _, err := io.ReadFull(r, body[2:]); err != nil {
		return packet311{}, err
	}
	if _, err := r.Discard(n - head); err != nil {
		return packet311{}, err
	}
	p, err := decode311(first, body)
	p.payload, p.oversize = nil, true
	return p, err
}

// decode311 decodes a packet from its first byte and its body (exactly
// the remaining length). It never panics; anything not valid for a broker
// to send is errMalformed.
func decode311(first byte, b []byte) (packet311, error) {
	p := packet311{kind: first >> 4}
	flags := first & 0x0f
	switch p.kind {
	case pktConnack:
		if flags != 0 || len(b) != 2 || b[0]&^1 != 0 {
			return p, malformed("CONNACK")
		}
		p.sessionPresent, p.returnCode = b[0] == 1, b[1]
	case pktPuback:
		if flags != 0 || len(b) != 2 {
			return p, malformed("PUBACK")
		}
		p.id = binary.BigEndian.Uint16(b)
	case pktPingresp:
		if flags != 0 || len(b) != 0 {
			return p, malformed("PINGRESP")
		}
	case pktSuback:
		if flags != 0 || len(b) < 3 {
			return p, malformed("SUBACK")
		}
		p.id, p.granted = binary.BigEndian.Uint16(b), b[2:]
		for _, g := range p.granted {
			if g > 2 && g != 0x80 {
				return p, malformed("SUBACK return code 0x%02x", g)
			}
		}
	case pktPublish:
		return decodePublish(p, flags, b)
	case pktDisconnect:
		// Not a 3.1.1 server packet, but brokers send it (mochi does on a
		// session takeover): the connection ends either way.
		if len(b) > 0 {
			p.returnCode = b[0]
		}
	default:
		return p, malformed("packet type %d from a broker", p.kind)
	}
	return p, nil
}

func decodePublish(p packet311, flags byte, b []byte) (packet311, error) {
	p.qos = (flags >> 1) & 3
	if p.qos > 1 {
		return p, malformed("PUBLISH at QoS %d; this client subscribes at QoS 0 or 1", p.qos)
	}
	if len(b) < 2 {
		return p, malformed("PUBLISH without topic")
	}
	tl := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+tl {
		return p, malformed("PUBLISH topic of %d bytes in %d", tl, len(b)-2)
	}
	p.topic, b = string(b[2:2+tl]), b[2+tl:]
	if p.topic == "" || !utf8.ValidString(p.topic) {
		return p, malformed("PUBLISH topic %q", p.topic)
	}
	if p.qos == 1 {
		if len(b) < 2 {
			return p, malformed("PUBLISH at QoS 1 without packet identifier")
		}
		p.id, b = binary.BigEndian.Uint16(b), b[2:]
		if p.id == 0 {
			return p, malformed("PUBLISH packet identifier 0")
		}
	}
	p.payload = b
	return p, nil
}

// Encoders: each appends one complete packet to buf.

func appendLength(buf []byte, n int) []byte {
	for {
		b := byte(n & 0x7f)
		n >>= 7
		if n > 0 {
			b |= 0x80
		}
		buf = append(buf, b)
		if n == 0 {
			return buf
		}
	}
}

func appendString(buf []byte, s string) []byte {
	return append(binary.BigEndian.AppendUint16(buf, uint16(len(s))), s...)
}

func appendConnect(buf []byte, clientID, user, pass string, keepAlive uint16) []byte {
	flags := byte(0x02) // clean session
	n := 10 + 2 + len(clientID)
	if user != "" {
		flags |= 0x80
		n += 2 + len(user)
	}
	if pass != "" {
		flags |= 0x40
		n += 2 + len(pass)
	}
	buf = appendLength(append(buf, pktConnect<<4), n)
	buf = appendString(buf, "MQTT")
	buf = append(buf, 4, flags) // protocol level 4 = 3.1.1
	buf = binary.BigEndian.AppendUint16(buf, keepAlive)
	buf = appendString(buf, clientID)
	if user != "" {
		buf = appendString(buf, user)
	}
	if pass != "" {
		buf = appendString(buf, pass)
	}
	return buf
}

func appendSubscribe(buf []byte, id uint16, filters []string, qos byte) []byte {
	n := 2
	for _, f := range filters {
		n += 2 + len(f) + 1
	}
	buf = appendLength(append(buf, pktSubscribe<<4|0x02), n)
	buf = binary.BigEndian.AppendUint16(buf, id)
	for _, f := range filters {
		buf = append(appendString(buf, f), qos)
	}
	return buf
}

func appendPublish(buf []byte, topic string, id uint16, qos byte, payload []byte) []byte {
	n := 2 + len(topic) + len(payload)
	if qos > 0 {
		n += 2
	}
	buf = appendLength(append(buf, pktPublish<<4|qos<<1), n)
	buf = appendString(buf, topic)
	if qos > 0 {
		buf = binary.BigEndian.AppendUint16(buf, id)
	}
	return append(buf, payload...)
}

func appendPuback(buf []byte, id uint16) []byte {
	return binary.BigEndian.AppendUint16(append(buf, pktPuback<<4, 2), id)
}

var (
	pingreq    = []byte{pktPingreq << 4, 0}
	disconnect = []byte{pktDisconnect << 4, 0}
)
