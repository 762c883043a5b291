package usp

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "brickyard/usp/uspmsg"
	"brickyard/usp/usprecord"
)

// RecordKind is which record_type member a Record carries.
type RecordKind uint8

const (
	RecordNone       RecordKind = iota // no member
	RecordNoSession                    // no_session_context: a Msg
	RecordSession                      // session_context (E2E)
	RecordConnect                      // websocket_connect, mqtt_connect, stomp_connect, uds_connect
	RecordDisconnect                   // disconnect
)

// BodyKind is which msg_body member a Msg carries.
type BodyKind uint8

const (
	BodyNone BodyKind = iota
	BodyRequest
	BodyResponse
	BodyError
)

// Glance is what a Record says about itself that a counter or router
// needs, read by Peek without decoding the Record into messages. Its
// byte slices alias the Record given to Peek.
type Glance struct {
	To, From []byte
	Kind     RecordKind

	// A disconnect Record's reason and reason_code.
	Reason     []byte
	ReasonCode uint32

	// A no_session_context Record's Msg: HasMsg, its msg_id, its type as
	// TypeOf gives it (from the body's member, not the header), which
	// member its body has, an Error's code and message, and a Notify's
	// send_resp.
	HasMsg   bool
	MsgID    []byte
	Type     pb.Header_MsgType
	Body     BodyKind
	ErrCode  uint32
	ErrMsg   []byte
	SendResp bool
}

// ErrNotRecord is why Peek refuses bytes: they are not a Record, or the
// Msg of its no_session_context does not parse.
var ErrNotRecord = errors.New("usp: not a USP Record")

// Peek reads a Record's addresses, its kind, and for a Msg its id, type
// and body kind, straight from the wire bytes. It checks the wire format
// of everything it reads, and of the fields it skips only their framing:
// whatever proto.Unmarshal accepts (the Record, and the Msg inside it),
// Peek accepts and describes as decoding would (a test and a fuzz target
// hold it to that); a Record malformed only deep inside a message Peek
// skips (a string of a Get's path that is not UTF-8, say) it may accept.
// Encodings the wire allows but encoders do not write (a field repeated,
// two members of a oneof, a known field of another wire type) are read
// by decoding the Record, so the answer is decoding's.
func Peek(rec []byte) (Glance, error) {
	var g Glance
	ok, err := g.record(rec)
	if err != nil {
		return Glance{}, err
	}
	if !ok {
		return peekDecoded(rec)
	}
	return g, nil
}

// errUnusual makes a walk give up for the decoding way.
var errUnusual = errors.New("unusual encoding")

// walk calls f for every field of a message: f reads the value of the
// fields it knows and returns the bytes consumed, or 0 to have walk skip
// the field. walk reports errUnusual when a field it is told to watch
// (watch bit num) is met twice, and ErrNotRecord for bad framing.
func walk(b []byte, watch uint32, f func(num protowire.Number, typ protowire.Type, v []byte) (int, error)) error {
	var seen uint32
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return ErrNotRecord
		}
		b = b[n:]
		if num < 32 && watch&(1<<num) != 0 {
			if seen&(1<<num) != 0 {
				return errUnusual
			}
			seen |= 1 << num
		}
		used, err := f(num, typ, b)
		if err != nil {
			return err
		}
		if used == 0 {
			if used = protowire.ConsumeFieldValue(num, typ, b); used < 0 {
				return ErrNotRecord
			}
		}
		b = b[used:]
	}
	return nil
}

// bytesField reads a length-delimited value, or reports errUnusual when
// the field has another wire type.
func bytesField(typ protowire.Type, b []byte) ([]byte, int, error) {
	if typ != protowire.BytesType {
		return nil, 0, errUnusual
	}
	v, n := protowire.ConsumeBytes(b)
	if n < 0 {
		return nil, 0, ErrNotRecord
	}
	return v, n, nil
}

func stringField(typ protowire.Type, b []byte) ([]byte, int, error) {
	v, n, err := bytesField(typ, b)
	if err == nil && !utf8.Valid(v) {
		return nil, 0, ErrNotRecord
	}
	return v, n, err
}

// record walks the Record; false: use decoding.
func (g *Glance) record(b []byte) (bool, error) {
	var payload []byte
	members := 0
	err := walk(b, 1<<2|1<<3|1<<7|1<<8|1<<9|1<<10|1<<11|1<<12|1<<13, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 2, 3:
			v, n, err := stringField(typ, b)
			if num == 2 {
				g.To = v
			} else {
				g.From = v
			}
			return n, err
		case 7, 8, 9, 10, 11, 12, 13:
			v, n, err := bytesField(typ, b)
			if err != nil {
				return 0, err
			}
			members++
			switch num {
			case 7:
				g.Kind, payload = RecordNoSession, v
			case 8:
				g.Kind = RecordSession
			case 12:
				g.Kind = RecordDisconnect
				err = g.disconnect(v)
			default:
				g.Kind = RecordConnect
			}
			if num != 7 && num != 12 {
				// Its own fields are framed right, as decoding checks.
				err = walk(v, 0, func(protowire.Number, protowire.Type, []byte) (int, error) { return 0, nil })
			}
			return n, err
		}
		return 0, nil
	})
	switch {
	case errors.Is(err, errUnusual) || members > 1:
		return false, nil
	case err != nil:
		return false, err
	case g.Kind == RecordNoSession:
		return g.noSession(payload)
	}
	return true, nil
}

func (g *Glance) disconnect(b []byte) error {
	return walk(b, 1<<1|1<<2, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1:
			v, n, err := stringField(typ, b)
			g.Reason = v
			return n, err
		case 2:
			if typ != protowire.Fixed32Type {
				return 0, errUnusual
			}
			v, n := protowire.ConsumeFixed32(b)
			if n < 0 {
				return 0, ErrNotRecord
			}
			g.ReasonCode = v
			return n, nil
		}
		return 0, nil
	})
}

// noSession reads NoSessionContextRecord{payload = 2} and its Msg.
func (g *Glance) noSession(b []byte) (bool, error) {
	var msg []byte
	err := walk(b, 1<<2, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		if num != 2 {
			return 0, nil
		}
		v, n, err := bytesField(typ, b)
		msg = v
		return n, err
	})
	if err == nil {
		g.HasMsg, g.Type = true, pb.Header_ERROR
		err = g.msg(msg)
	}
	if errors.Is(err, errUnusual) {
		return false, nil
	}
	return err == nil, err
}

// msg reads Msg{header = 1, body = 2}.
func (g *Glance) msg(b []byte) error {
	return walk(b, 1<<1|1<<2, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1:
			v, n, err := bytesField(typ, b)
			if err == nil {
				err = g.header(v)
			}
			return n, err
		case 2:
			v, n, err := bytesField(typ, b)
			if err == nil {
				err = g.body(v)
			}
			return n, err
		}
		return 0, nil
	})
}

func (g *Glance) header(b []byte) error {
	return walk(b, 1<<1|1<<2, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1:
			v, n, err := stringField(typ, b)
			g.MsgID = v
			return n, err
		case 2:
			if typ != protowire.VarintType {
				return 0, errUnusual
			}
			if _, n := protowire.ConsumeVarint(b); n < 0 {
				return 0, ErrNotRecord
			}
			return 0, nil // the type Peek gives is the body's
		}
		return 0, nil
	})
}

// body reads Body{request = 1 | response = 2 | error = 3}.
func (g *Glance) body(b []byte) error {
	members := 0
	err := walk(b, 1<<1|1<<2|1<<3, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		if num < 1 || num > 3 {
			return 0, nil
		}
		v, n, err := bytesField(typ, b)
		if err != nil {
			return 0, err
		}
		members++
		switch num {
		case 1:
			g.Body = BodyRequest
			err = g.member(v, requestTypes[:])
		case 2:
			g.Body = BodyResponse
			err = g.member(v, responseTypes[:])
		case 3:
			g.Body = BodyError
			err = g.errorBody(v)
		}
		return n, err
	})
	if err == nil && members > 1 {
		return errUnusual
	}
	return err
}

// requestTypes and responseTypes are the message types of Request's and
// Response's oneof members by field number (usp-msg's order).
var (
	requestTypes = [...]pb.Header_MsgType{0, pb.Header_GET, pb.Header_GET_SUPPORTED_DM, pb.Header_GET_INSTANCES,
		pb.Header_SET, pb.Header_ADD, pb.Header_DELETE, pb.Header_OPERATE, pb.Header_NOTIFY,
		pb.Header_GET_SUPPORTED_PROTO, pb.Header_REGISTER, pb.Header_DEREGISTER}
	responseTypes = [...]pb.Header_MsgType{0, pb.Header_GET_RESP, pb.Header_GET_SUPPORTED_DM_RESP, pb.Header_GET_INSTANCES_RESP,
		pb.Header_SET_RESP, pb.Header_ADD_RESP, pb.Header_DELETE_RESP, pb.Header_OPERATE_RESP, pb.Header_NOTIFY_RESP,
		pb.Header_GET_SUPPORTED_PROTO_RESP, pb.Header_REGISTER_RESP, pb.Header_DEREGISTER_RESP}
)

// member reads a Request or Response: which of its members it has, and a
// Notify's send_resp. The member's other contents are only framed.
func (g *Glance) member(b []byte, types []pb.Header_MsgType) error {
	members := 0
	var all uint32
	for i := 1; i < len(types); i++ {
		all |= 1 << i
	}
	err := walk(b, all, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		if num < 1 || int(num) >= len(types) {
			return 0, nil
		}
		v, n, err := bytesField(typ, b)
		if err != nil {
			return 0, err
		}
		members++
		g.Type = types[num]
		if g.Type == pb.Header_NOTIFY {
			err = g.notify(v)
		} else {
			err = walk(v, 0, func(protowire.Number, protowire.Type, []byte) (int, error) { return 0, nil })
		}
		return n, err
	})
	if err == nil && members > 1 {
		return errUnusual
	}
	return err
}

func (g *Glance) notify(b []byte) error {
	return walk(b, 1<<2, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		if num != 2 {
			return 0, nil
		}
		if typ != protowire.VarintType {
			return 0, errUnusual
		}
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return 0, ErrNotRecord
		}
		g.SendResp = v != 0
		return n, nil
	})
}

func (g *Glance) errorBody(b []byte) error {
	return walk(b, 1<<1|1<<2, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1:
			if typ != protowire.Fixed32Type {
				return 0, errUnusual
			}
			v, n := protowire.ConsumeFixed32(b)
			if n < 0 {
				return 0, ErrNotRecord
			}
			g.ErrCode = v
			return n, nil
		case 2:
			v, n, err := stringField(typ, b)
			g.ErrMsg = v
			return n, err
		}
		return 0, nil
	})
}

// peekDecoded is Peek by decoding: the way for unusual encodings, and
// the reference the tests hold Peek to.
func peekDecoded(rec []byte) (Glance, error) {
	var r usprecord.Record
	if err := proto.Unmarshal(rec, &r); err != nil {
		return Glance{}, fmt.Errorf("%w: %w", ErrNotRecord, err)
	}
	g := Glance{To: []byte(r.GetToId()), From: []byte(r.GetFromId())}
	switch {
	case r.GetNoSessionContext() != nil:
		g.Kind = RecordNoSession
		var m pb.Msg
		if err := proto.Unmarshal(r.GetNoSessionContext().GetPayload(), &m); err != nil {
			return Glance{}, fmt.Errorf("%w: its Msg: %w", ErrNotRecord, err)
		}
		g.HasMsg, g.MsgID, g.Type = true, []byte(m.GetHeader().GetMsgId()), TypeOf(&m)
		switch b := m.GetBody(); {
		case b.GetRequest() != nil:
			g.Body = BodyRequest
			g.SendResp = b.GetRequest().GetNotify().GetSendResp()
		case b.GetResponse() != nil:
			g.Body = BodyResponse
		case b.GetError() != nil:
			g.Body = BodyError
			g.ErrCode, g.ErrMsg = b.GetError().GetErrCode(), []byte(b.GetError().GetErrMsg())
		}
	case r.GetSessionContext() != nil:
		g.Kind = RecordSession
	case r.GetDisconnect() != nil:
		g.Kind = RecordDisconnect
		g.Reason, g.ReasonCode = []byte(r.GetDisconnect().GetReason()), r.GetDisconnect().GetReasonCode()
	case r.GetRecordType() != nil:
		g.Kind = RecordConnect
	}
	return g, nil
}
