package usp

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"brickyard/usp/uspmsg"
	"brickyard/usp/usprecord"
)

// Session-context Records (TR-369 E2E Message Exchange; usp/e2e runs the
// sessions). Open refuses them with 7106 for endpoints that run none; an
// endpoint that does takes the Record from the RecordError's Partial, checks
// it with CheckSessionRecord, hands it to its e2e.Session, and decodes
// the payloads the session completes with DecodeMsg.

// CheckSessionRecord applies to a decoded session_context Record the
// rules of Open that come after its type: version "1.x" (7104), a
// from_id, and to_id this endpoint (R-E2E.1) (7104).
func (c Codec) CheckSessionRecord(rec *usprecord.Record) error {
	fail := func(format string, args ...any) error {
		return &RecordError{Code: InvalidRecordValue, Reason: fmt.Sprintf(format, args...), Partial: Inbound{Record: rec}}
	}
	switch {
	case rec.GetSessionContext() == nil:
		return fail("not a session_context record")
	case !versionRE.MatchString(rec.GetVersion()):
		return fail("unsupported version %q (want 1.x)", rec.GetVersion())
	case rec.GetFromId() == "":
		return fail("empty from_id")
	case rec.GetToId() != c.LocalID:
		return fail("to_id %q is not this endpoint (%q)", rec.GetToId(), c.LocalID)
	}
	return nil
}

// IsSessionRecord reports whether err is Open's refusal of a
// session_context Record, and returns that Record.
func IsSessionRecord(err error) (*usprecord.Record, bool) {
	re, ok := err.(*RecordError)
	if !ok || re.Code != SessionContextNotAllowed || re.Partial.Record.GetSessionContext() == nil {
		return nil, false
	}
	return re.Partial.Record, true
}

// DecodeMsg decodes and checks a payload a session delivered, as Open
// checks a no_session_context payload: it must parse as a Msg (7100) with
// a header, a msg_id and one member in each body oneof (7004).
func DecodeMsg(payload []byte) (*uspmsg.Msg, error) {
	m := new(uspmsg.Msg)
	if err := proto.Unmarshal(payload, m); err != nil {
		return nil, &RecordError{Code: RecordNotParsed, Reason: fmt.Sprintf("payload is not a protobuf Msg: %v", err)}
	}
	if err := Validate(m); err != nil {
		return m, &RecordError{Code: InvalidArguments, Reason: err.Error(), Partial: Inbound{Msg: m}}
	}
	return m, nil
}

// EncodeMsg encodes a Msg deterministically, as the payload of a Record.
func EncodeMsg(m *uspmsg.Msg) ([]byte, error) {
	b, err := marshal(m)
	if err != nil {
		return nil, fmt.Errorf("usp: encode msg: %w", err)
	}
	return b, nil
}
