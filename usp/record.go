package usp

import (
	"fmt"
	"regexp"

	"google.golang.org/protobuf/proto"

	"brickyard/usp/uspmsg"
	"brickyard/usp/usprecord"
)

// Version is the USP protocol version brickyard writes into Records.
const Version = "1.4"

// SupportedVersions is the GetSupportedProtocolResp answer: every version
// whose Records and Messages brickyard reads (1.0 to 1.4 are wire-compatible).
const SupportedVersions = "1.0,1.1,1.2,1.3,1.4"

// DefaultMaxRecordSize bounds an inbound Record when Codec.MaxRecordSize is
// zero. USP Records carry control messages, never firmware images; a full
// GetSupportedDM answer of brickyard's model is a few tens of KiB.
const DefaultMaxRecordSize = 256 << 10

var versionRE = regexp.MustCompile(`^1\.[0-9]+$`)

// Codec turns bytes into USP Records and Messages and back, for one local
// endpoint. It is a value with no state beyond its configuration and is safe
// for concurrent use.
//
// Open applies the record-level rules of TR-369 in this order, so the first
// failure is the one reported:
//
//  1. size: a Record longer than MaxRecordSize is refused before it is
//     decoded (7100);
//  2. protobuf: bytes that do not parse as a Record (7100);
//  3. session_context is decoded and refused (7106, answered with a
//     DisconnectRecord): Open is for endpoints that run no E2E sessions;
//     one that does takes the Record with IsSessionRecord, checks it with
//     CheckSessionRecord and hands it to its usp/e2e Session;
//  4. version: "1.x" only (7104);
//  5. from_id must be present, to_id must be LocalID (R-E2E.1) (7104);
//  6. record_type must be set (R-ENC.3) (7104);
//  7. payload_security must be PLAINTEXT outside an E2E session (7102);
//  8. no_session_context must carry a non-empty payload (R-E2E.26) (7104);
//  9. the payload must parse as a Msg (7100) with a msg_id and exactly one
//     member in its body oneofs (R-ENC.5) (7004).
//
// docs/usp.md states the same rules for users.
type Codec struct {
	LocalID       string // this endpoint's ID; Records to any other ID are refused
	MaxRecordSize int    // inbound limit in bytes; 0 means DefaultMaxRecordSize
}

// Inbound is a decoded Record; Msg is set for no_session_context Records.
type Inbound struct {
	Record *usprecord.Record
	Msg    *uspmsg.Msg
}

// From is the sender's endpoint ID.
func (in Inbound) From() string { return in.Record.GetFromId() }

// RecordError is a Record that broke a rule of Codec.Open. It wraps the USP
// code of the failure; Partial holds what could be decoded, so that Answer
// can decide whether the sender may be told (R-MTP.5).
type RecordError struct {
	Code    Code
	Reason  string
	Partial Inbound // may hold a Record, and a Msg if the payload parsed
}

func (e *RecordError) Error() string { return "usp record: " + e.Reason + ": " + e.Code.Error() }
func (e *RecordError) Unwrap() error { return e.Code }

func (c Codec) maxSize() int {
	if c.MaxRecordSize > 0 {
		return c.MaxRecordSize
	}
	return DefaultMaxRecordSize
}

// Open decodes and checks one Record received from the wire. On failure the
// error is a *RecordError.
func (c Codec) Open(b []byte) (Inbound, error) {
	fail := func(code Code, in Inbound, format string, args ...any) (Inbound, error) {
		return Inbound{}, &RecordError{Code: code, Reason: fmt.Sprintf(format, args...), Partial: in}
	}
	if len(b) > c.maxSize() {
		return fail(RecordNotParsed, Inbound{}, "record of %d bytes exceeds the %d-byte limit", len(b), c.maxSize())
	}
	rec := new(usprecord.Record)
	if err := proto.Unmarshal(b, rec); err != nil {
		return fail(RecordNotParsed, Inbound{}, "not a protobuf Record: %v", err)
	}
	in := Inbound{Record: rec}
	if sc := rec.GetSessionContext(); sc != nil {
		return fail(SessionContextNotAllowed, in, "session_context record (session %d) refused: E2E sessions are not supported", sc.GetSessionId())
	}
	if !versionRE.MatchString(rec.GetVersion()) {
		return fail(InvalidRecordValue, in, "unsupported version %q (want 1.x)", rec.GetVersion())
	}
	if rec.GetFromId() == "" {
		return fail(InvalidRecordValue, in, "empty from_id")
	}
	if rec.GetToId() != c.LocalID {
		return fail(InvalidRecordValue, in, "to_id %q is not this endpoint (%q)", rec.GetToId(), c.LocalID)
	}
	if rec.GetRecordType() == nil {
		return fail(InvalidRecordValue, in, "record_type not set")
	}
	if rec.GetPayloadSecurity() != usprecord.Record_PLAINTEXT {
		return fail(SecureSessionNotSupported, in, "payload_security %v outside an E2E session", rec.GetPayloadSecurity())
	}
	nsc := rec.GetNoSessionContext()
	if nsc == nil {
		return in, nil
	}
	if len(nsc.GetPayload()) == 0 {
		return fail(InvalidRecordValue, in, "no_session_context record with empty payload")
	}
	m := new(uspmsg.Msg)
	if err := proto.Unmarshal(nsc.GetPayload(), m); err != nil {
		return fail(RecordNotParsed, in, "payload is not a protobuf Msg: %v", err)
	}
	in.Msg = m
	if err := Validate(m); err != nil {
		return fail(InvalidArguments, in, "%v", err)
	}
	return in, nil
}

// Seal wraps m in a no_session_context Record to the endpoint to and
// encodes it. Encoding is deterministic (map keys sorted).
func (c Codec) Seal(to string, m *uspmsg.Msg) ([]byte, error) {
	payload, err := marshal(m)
	if err != nil {
		return nil, fmt.Errorf("usp: encode msg: %w", err)
	}
	return c.Marshal(c.noSession(to, payload))
}

// Marshal encodes a Record deterministically.
func (c Codec) Marshal(rec *usprecord.Record) ([]byte, error) {
	b, err := marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("usp: encode record: %w", err)
	}
	return b, nil
}

var detOpts = proto.MarshalOptions{Deterministic: true}

func marshal(m proto.Message) ([]byte, error) { return detOpts.Marshal(m) }

// base is a Record header from this endpoint to to; callers set RecordType.
func (c Codec) base(to string) *usprecord.Record {
	return &usprecord.Record{Version: Version, ToId: to, FromId: c.LocalID}
}

func (c Codec) noSession(to string, payload []byte) *usprecord.Record {
	r := c.base(to)
	r.RecordType = &usprecord.Record_NoSessionContext{NoSessionContext: &usprecord.NoSessionContextRecord{Payload: payload}}
	return r
}

// WebSocketConnect is the Record an agent sends first on a new WebSocket
// session (R-MTP.6).
func (c Codec) WebSocketConnect(to string) *usprecord.Record {
	r := c.base(to)
	r.RecordType = &usprecord.Record_WebsocketConnect{WebsocketConnect: &usprecord.WebSocketConnectRecord{}}
	return r
}

// MQTTConnect is the Record an agent sends first after subscribing to topic
// (R-MTP.6, TP-469 11.17); v5 selects MQTT 5.0, otherwise 3.1.1.
func (c Codec) MQTTConnect(to string, v5 bool, topic string) *usprecord.Record {
	v := usprecord.MQTTConnectRecord_V3_1_1
	if v5 {
		v = usprecord.MQTTConnectRecord_V5
	}
	r := c.base(to)
	r.RecordType = &usprecord.Record_MqttConnect{MqttConnect: &usprecord.MQTTConnectRecord{Version: v, SubscribedTopic: topic}}
	return r
}

// STOMPConnect is the Record an agent sends first after subscribing to dest.
func (c Codec) STOMPConnect(to, dest string) *usprecord.Record {
	r := c.base(to)
	r.RecordType = &usprecord.Record_StompConnect{StompConnect: &usprecord.STOMPConnectRecord{
		Version: usprecord.STOMPConnectRecord_V1_2, SubscribedDestination: dest}}
	return r
}

// Disconnect is the Record an endpoint sends before it drops an MTP
// (R-MTP.7), or to refuse an E2E session (code 7106).
func (c Codec) Disconnect(to, reason string, code Code) *usprecord.Record {
	r := c.base(to)
	r.RecordType = &usprecord.Record_Disconnect{Disconnect: &usprecord.DisconnectRecord{Reason: reason, ReasonCode: uint32(code)}}
	return r
}

// Answer returns the Record to send back for a Record that Open refused, or
// nil when the rules say to drop it silently (R-MTP.5): an answer goes only
// to a known sender (from_id set) of a Record addressed to us. A refused
// session_context gets a DisconnectRecord; a plaintext payload carrying a
// Request with a msg_id gets an Error message with the failure's code;
// anything else (an encrypted payload, a response, no msg_id) is dropped.
func (c Codec) Answer(err error) *usprecord.Record {
	re, ok := err.(*RecordError)
	if !ok || re.Partial.Record == nil {
		return nil
	}
	rec := re.Partial.Record
	if rec.GetFromId() == "" || rec.GetToId() != c.LocalID {
		return nil
	}
	if rec.GetSessionContext() != nil {
		return c.Disconnect(rec.GetFromId(), re.Reason, re.Code)
	}
	m := re.Partial.Msg
	if m == nil && rec.GetPayloadSecurity() == usprecord.Record_PLAINTEXT {
		// The Record broke a rule before its payload was read (its version,
		// say); a readable request inside still earns an answer.
		m = new(uspmsg.Msg)
		if proto.Unmarshal(rec.GetNoSessionContext().GetPayload(), m) != nil {
			return nil
		}
	}
	if m.GetHeader().GetMsgId() == "" || m.GetBody().GetRequest() == nil {
		return nil
	}
	reply := ErrorMsg(m.GetHeader().GetMsgId(), &Error{Code: re.Code, Msg: re.Reason}, nil)
	payload, merr := marshal(reply)
	if merr != nil {
		return nil
	}
	return c.noSession(rec.GetFromId(), payload)
}
