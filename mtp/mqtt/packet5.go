package mqtt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// MQTT 5 packets as an agent's client writes and reads them (OASIS MQTT
// Version 5.0, §3): the 3.1.1 packets of packet311.go plus properties,
// reason codes and the packets' v5 forms. Decoding never panics and never
// allocates from a length it has not checked against the packet's size.

// MQTT 5 property identifiers (§2.2.2.2) that an agent reads or writes.
const (
	propPayloadFormat     = 0x01
	propMessageExpiry     = 0x02
	propContentType       = 0x03
	propResponseTopic     = 0x08
	propCorrelationData   = 0x09
	propSubscriptionID    = 0x0B
	propSessionExpiry     = 0x11
	propAssignedClientID  = 0x12
	propServerKeepAlive   = 0x13
	propAuthMethod        = 0x15
	propAuthData          = 0x16
	propRequestProblem    = 0x17
	propWillDelay         = 0x18
	propRequestResponse   = 0x19
	propResponseInfo      = 0x1A
	propServerReference   = 0x1C
	propReasonString      = 0x1F
	propReceiveMaximum    = 0x21
	propTopicAliasMaximum = 0x22
	propTopicAlias        = 0x23
	propMaximumQoS        = 0x24
	propRetainAvailable   = 0x25
	propUserProperty      = 0x26
	propMaximumPacketSize = 0x27
	propWildcardAvailable = 0x28
	propSubIDAvailable    = 0x29
	propSharedAvailable   = 0x2A
)

// props5 are the properties a broker's packet carried that the client
// uses; the others are checked for form and skipped.
type props5 struct {
	assignedClientID string
	responseInfo     string
	reasonString     string
	responseTopic    string
	contentType      string
	subscribeTopics  []string // User Property "subscribe-topic" (CONNACK)
	serverKeepAlive  int      // -1: not sent
	maxQoS           int      // -1: not sent
	receiveMax       int      // 0: not sent
	maxPacket        int      // 0: not sent
	topicAlias       int      // 0: not sent
}

var errMalformed5 = errors.New("mqtt 5: malformed packet")

func malformed5(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errMalformed5, fmt.Sprintf(format, args...))
}

// varInt reads a Variable Byte Integer (§1.5.5) from b.
func varInt(b []byte) (v, n int, ok bool) {
	shift := 0
	for i := 0; i < 4 && i < len(b); i++ {
		v |= int(b[i]&0x7f) << shift
		if b[i]&0x80 == 0 {
			return v, i + 1, true
		}
		shift += 7
	}
	return 0, 0, false
}

// str5 reads a UTF-8 Encoded String (§1.5.4).
func str5(b []byte) (s string, rest []byte, ok bool) {
	if len(b) < 2 {
		return "", nil, false
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n || !utf8.Valid(b[2:2+n]) {
		return "", nil, false
	}
	return string(b[2 : 2+n]), b[2+n:], true
}

// readProps reads the Property Length and the properties that follow it
// in b, and returns what follows them.
func readProps(b []byte) (p props5, rest []byte, err error) {
	p.serverKeepAlive, p.maxQoS = -1, -1
	n, k, ok := varInt(b)
	if !ok || k+n > len(b) {
		return p, nil, malformed5("property length")
	}
	pb, rest := b[k:k+n], b[k+n:]
	for len(pb) > 0 {
		id := pb[0]
		pb = pb[1:]
		var s string
		switch id {
		case propPayloadFormat, propRequestProblem, propRequestResponse, propMaximumQoS, propRetainAvailable,
			propWildcardAvailable, propSubIDAvailable, propSharedAvailable:
			if len(pb) < 1 {
				return p, nil, malformed5("property 0x%02x", id)
			}
			if id == propMaximumQoS {
				if pb[0] > 1 {
					return p, nil, malformed5("Maximum QoS %d", pb[0])
				}
				p.maxQoS = int(pb[0])
			}
			pb = pb[1:]
		case propServerKeepAlive, propReceiveMaximum, propTopicAliasMaximum, propTopicAlias:
			if len(pb) < 2 {
				return p, nil, malformed5("property 0x%02x", id)
			}
			v := int(binary.BigEndian.Uint16(pb))
			pb = pb[2:]
			switch id {
			case propServerKeepAlive:
				p.serverKeepAlive = v
			case propReceiveMaximum:
				if v == 0 {
					return p, nil, malformed5("Receive Maximum 0")
				}
				p.receiveMax = v
			case propTopicAlias:
				p.topicAlias = v
			}
		case propMessageExpiry, propSessionExpiry, propWillDelay, propMaximumPacketSize:
			if len(pb) < 4 {
				return p, nil, malformed5("property 0x%02x", id)
			}
			if id == propMaximumPacketSize {
				v := int(binary.BigEndian.Uint32(pb))
				if v == 0 {
					return p, nil, malformed5("Maximum Packet Size 0")
				}
				p.maxPacket = v
			}
			pb = pb[4:]
		case propSubscriptionID:
			if _, k, ok := varInt(pb); ok {
				pb = pb[k:]
			} else {
				return p, nil, malformed5("Subscription Identifier")
			}
		case propCorrelationData, propAuthData:
			if len(pb) < 2 || len(pb) < 2+int(binary.BigEndian.Uint16(pb)) {
				return p, nil, malformed5("property 0x%02x", id)
			}
			pb = pb[2+int(binary.BigEndian.Uint16(pb)):]
		case propContentType, propResponseTopic, propAssignedClientID, propAuthMethod, propResponseInfo,
			propServerReference, propReasonString:
			if s, pb, ok = str5(pb); !ok {
				return p, nil, malformed5("property 0x%02x", id)
			}
			switch id {
			case propContentType:
				p.contentType = s
			case propResponseTopic:
				p.responseTopic = s
			case propAssignedClientID:
				p.assignedClientID = s
			case propResponseInfo:
				p.responseInfo = s
			case propReasonString:
				p.reasonString = s
			}
		case propUserProperty:
			var k, v string
			if k, pb, ok = str5(pb); !ok {
				return p, nil, malformed5("User Property name")
			}
			if v, pb, ok = str5(pb); !ok {
				return p, nil, malformed5("User Property value")
			}
			if k == "subscribe-topic" && len(p.subscribeTopics) < 64 {
				p.subscribeTopics = append(p.subscribeTopics, v)
			}
		default:
			return p, nil, malformed5("unknown property 0x%02x", id)
		}
	}
	return p, rest, nil
}

// decode5 decodes an MQTT 5 packet from a broker from its first byte and
// its body (exactly the remaining length).
func decode5(first byte, b []byte) (packet311, props5, error) {
	p := packet311{kind: first >> 4}
	flags := first & 0x0f
	var pr props5
	var err error
	switch p.kind {
	case pktConnack:
		if flags != 0 || len(b) < 2 || b[0]&^1 != 0 {
			return p, pr, malformed5("CONNACK")
		}
		p.sessionPresent, p.returnCode = b[0] == 1, b[1]
		if pr, b, err = readProps(b[2:]); err != nil {
			return p, pr, err
		}
	case pktPuback:
		if flags != 0 || len(b) < 2 {
			return p, pr, malformed5("PUBACK")
		}
		p.id = binary.BigEndian.Uint16(b)
		if len(b) > 2 {
			p.returnCode = b[2]
		}
		if len(b) > 3 {
			if pr, b, err = readProps(b[3:]); err != nil {
				return p, pr, err
			}
		}
	case pktPingresp:
		if flags != 0 || len(b) != 0 {
			return p, pr, malformed5("PINGRESP")
		}
	case pktSuback:
		if flags != 0 || len(b) < 3 {
			return p, pr, malformed5("SUBACK")
		}
		p.id = binary.BigEndian.Uint16(b)
		if pr, b, err = readProps(b[2:]); err != nil {
			return p, pr, err
		}
		if len(b) == 0 {
			return p, pr, malformed5("SUBACK without reason codes")
		}
		p.granted = b
	case pktPublish:
		if p, b, err = publishHead(p, flags, b); err != nil {
			return p, pr, err
		}
		if pr, b, err = readProps(b); err != nil {
			return p, pr, err
		}
		if pr.topicAlias != 0 {
			return p, pr, malformed5("a Topic Alias, which this client does not allow (Topic Alias Maximum 0)")
		}
		p.payload = b
	case pktDisconnect:
		if len(b) > 0 {
			p.returnCode = b[0]
		}
		if len(b) > 1 {
			pr, _, _ = readProps(b[1:]) // the connection ends whatever they say
		}
	default:
		return p, pr, malformed5("packet type %d from a broker", p.kind)
	}
	return p, pr, nil
}

// publishHead decodes a PUBLISH's topic and packet identifier (both
// versions) and returns what follows them.
func publishHead(p packet311, flags byte, b []byte) (packet311, []byte, error) {
	p.qos = (flags >> 1) & 3
	if p.qos > 1 {
		return p, nil, malformed("PUBLISH at QoS %d; this client subscribes at QoS 0 or 1", p.qos)
	}
	topic, b, ok := str5(b)
	if !ok || topic == "" {
		return p, nil, malformed("PUBLISH topic %q", topic)
	}
	p.topic = topic
	if p.qos == 1 {
		if len(b) < 2 {
			return p, nil, malformed("PUBLISH at QoS 1 without packet identifier")
		}
		p.id, b = binary.BigEndian.Uint16(b), b[2:]
		if p.id == 0 {
			return p, nil, malformed("PUBLISH packet identifier 0")
		}
	}
	return p, b, nil
}

// Encoders of the MQTT 5 packets an agent sends. Each appends one
// complete packet to buf.

// connectV5 is what an agent's MQTT 5 CONNECT says.
type connectV5 struct {
	clientID, username, password string
	keepAlive                    uint16
	receiveMax                   uint16
	maxPacket                    uint32
	endpointID                   string // User Property usp-endpoint-id
}

func (c connectV5) append(buf []byte) []byte {
	flags := byte(0x02) // clean start
	if c.username != "" {
		flags |= 0x80
	}
	if c.password != "" {
		flags |= 0x40
	}
	props := (1 + 2) + (1 + 4) + 2 + 2 // Receive Maximum, Maximum Packet Size, Request Response and Problem Information
	if c.endpointID != "" {
		props += 1 + 2 + len("usp-endpoint-id") + 2 + len(c.endpointID)
	}
	n := 2 + 4 + 1 + 1 + 2 + varIntSize(props) + props + 2 + len(c.clientID)
	if c.username != "" {
		n += 2 + len(c.username)
	}
	if c.password != "" {
		n += 2 + len(c.password)
	}
	buf = appendLength(append(buf, pktConnect<<4), n)
	buf = appendString(buf, "MQTT")
	buf = append(buf, 5, flags)
	buf = binary.BigEndian.AppendUint16(buf, c.keepAlive)
	buf = appendLength(buf, props)
	buf = binary.BigEndian.AppendUint16(append(buf, propReceiveMaximum), c.receiveMax)
	buf = binary.BigEndian.AppendUint32(append(buf, propMaximumPacketSize), c.maxPacket)
	buf = append(buf, propRequestResponse, 1, propRequestProblem, 1)
	if c.endpointID != "" {
		buf = appendString(appendString(append(buf, propUserProperty), "usp-endpoint-id"), c.endpointID)
	}
	buf = appendString(buf, c.clientID)
	if c.username != "" {
		buf = appendString(buf, c.username)
	}
	if c.password != "" {
		buf = appendString(buf, c.password)
	}
	return buf
}

func varIntSize(n int) int {
	switch {
	case n < 1<<7:
		return 1
	case n < 1<<14:
		return 2
	case n < 1<<21:
		return 3
	}
	return 4
}

// appendSubscribe5 subscribes to filters at qos with No Local, with the
// User Property usp-endpoint-id.
func appendSubscribe5(buf []byte, id uint16, filters []string, qos byte, endpointID string) []byte {
	props := 1 + 2 + len("usp-endpoint-id") + 2 + len(endpointID)
	n := 2 + varIntSize(props) + props
	for _, f := range filters {
		n += 2 + len(f) + 1
	}
	buf = appendLength(append(buf, pktSubscribe<<4|0x02), n)
	buf = binary.BigEndian.AppendUint16(buf, id)
	buf = appendLength(buf, props)
	buf = appendString(appendString(append(buf, propUserProperty), "usp-endpoint-id"), endpointID)
	for _, f := range filters {
		buf = append(appendString(buf, f), qos|0x04) // No Local
	}
	return buf
}

// publish5Size is the remaining length of an MQTT 5 PUBLISH with the
// Content Type usp.msg and a Response Topic.
func publish5Size(topic, responseTopic string, qos byte, payload int) (n, props int) {
	props = 1 + 2 + len(contentType)
	if responseTopic != "" {
		props += 1 + 2 + len(responseTopic)
	}
	n = 2 + len(topic) + varIntSize(props) + props + payload
	if qos > 0 {
		n += 2
	}
	return n, props
}

func appendPublish5(buf []byte, topic string, id uint16, qos byte, responseTopic string, payload []byte) []byte {
	n, props := publish5Size(topic, responseTopic, qos, len(payload))
	buf = appendLength(append(buf, pktPublish<<4|qos<<1), n)
	buf = appendString(buf, topic)
	if qos > 0 {
		buf = binary.BigEndian.AppendUint16(buf, id)
	}
	buf = appendLength(buf, props)
	buf = appendString(append(buf, propContentType), contentType)
	if responseTopic != "" {
		buf = appendString(append(buf, propResponseTopic), responseTopic)
	}
	return append(buf, payload...)
}

// disconnect5 is DISCONNECT with reason 0 (normal disconnection), written
// with no reason code at all, which means 0 (§3.14.2.1): mosquitto 2.0.11
// takes a remaining length of 1 for a malformed packet ("out of memory").
var disconnect5 = []byte{pktDisconnect << 4, 0}
