package usp_test

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
	"brickyard/usp/usprecord"
)

const (
	agentID = "os::012345-SIM000001"
	ctrlID  = "proto::controller"
)

func mustMarshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func recordWith(mut func(r *usprecord.Record)) *usprecord.Record {
	payload, _ := proto.Marshal(usp.NewRequest("m1", &pb.Get{ParamPaths: []string{"Device."}}))
	r := &usprecord.Record{Version: "1.4", ToId: agentID, FromId: ctrlID,
		RecordType: &usprecord.Record_NoSessionContext{NoSessionContext: &usprecord.NoSessionContextRecord{Payload: payload}}}
	if mut != nil {
		mut(r)
	}
	return r
}

func TestOpen_RecordRules(t *testing.T) {
	badMsg := func(m *pb.Msg) func(r *usprecord.Record) {
		return func(r *usprecord.Record) {
			b, _ := proto.Marshal(m)
			r.GetNoSessionContext().Payload = b
		}
	}
	tests := []struct {
		name     string
		raw      func(t *testing.T) []byte
		code     usp.Code
		reason   string // substring of the error
		answered string // "", "error" or "disconnect": what Answer returns
	}{
		{"valid no_session_context", func(t *testing.T) []byte { return mustMarshal(t, recordWith(nil)) }, 0, "", ""},
		{"oversize refused before decode", func(t *testing.T) []byte { return make([]byte, usp.DefaultMaxRecordSize+1) },
			usp.RecordNotParsed, "exceeds", ""},
		{"not protobuf", func(t *testing.T) []byte { return []byte{0xff, 0xff, 0xff} }, usp.RecordNotParsed, "not a protobuf Record", ""},
		{"empty bytes: no record_type", func(t *testing.T) []byte { return nil }, usp.InvalidRecordValue, "version", ""},
		{"version 2.0", func(t *testing.T) []byte {
			return mustMarshal(t, recordWith(func(r *usprecord.Record) { r.Version = "2.0" }))
		}, usp.InvalidRecordValue, `unsupported version "2.0"`, "error"},
		{"R-E2E.1 to_id not ours is dropped", func(t *testing.T) []byte {
			return mustMarshal(t, recordWith(func(r *usprecord.Record) { r.ToId = "os::012345-OTHER" }))
		}, usp.InvalidRecordValue, "is not this endpoint", ""},
		{"empty from_id is dropped", func(t *testing.T) []byte {
			return mustMarshal(t, recordWith(func(r *usprecord.Record) { r.FromId = "" }))
		}, usp.InvalidRecordValue, "empty from_id", ""},
		{"R-ENC.3 record_type unset", func(t *testing.T) []byte {
			return mustMarshal(t, recordWith(func(r *usprecord.Record) { r.RecordType = nil }))
		}, usp.InvalidRecordValue, "record_type not set", ""},
		{"TLS12 payload security outside a session", func(t *testing.T) []byte {
			return mustMarshal(t, recordWith(func(r *usprecord.Record) { r.PayloadSecurity = usprecord.Record_TLS12 }))
		}, usp.SecureSessionNotSupported, "payload_security", ""},
		{"session_context refused with DisconnectRecord 7106", func(t *testing.T) []byte {
			return mustMarshal(t, recordWith(func(r *usprecord.Record) {
				r.RecordType = &usprecord.Record_SessionContext{SessionContext: &usprecord.SessionContextRecord{SessionId: 9, SequenceId: 1}}
			}))
		}, usp.SessionContextNotAllowed, "E2E sessions are not supported", "disconnect"},
		{"R-E2E.26 empty payload", func(t *testing.T) []byte {
			return mustMarshal(t, recordWith(func(r *usprecord.Record) { r.GetNoSessionContext().Payload = nil }))
		}, usp.InvalidRecordValue, "empty payload", ""},
		{"payload not a Msg is dropped", func(t *testing.T) []byte {
			return mustMarshal(t, recordWith(func(r *usprecord.Record) { r.GetNoSessionContext().Payload = []byte{0x0a, 0xff} }))
		}, usp.RecordNotParsed, "payload is not a protobuf Msg", ""},
		{"R-ENC.5 request with no member gets Error 7004", func(t *testing.T) []byte {
			return mustMarshal(t, recordWith(badMsg(&pb.Msg{Header: &pb.Header{MsgId: "m2"},
				Body: &pb.Body{MsgBody: &pb.Body_Request{Request: &pb.Request{}}}})))
		}, usp.InvalidArguments, "request has no member", "error"},
		{"msg without msg_id cannot be answered", func(t *testing.T) []byte {
			return mustMarshal(t, recordWith(badMsg(&pb.Msg{Header: &pb.Header{},
				Body: &pb.Body{MsgBody: &pb.Body_Request{Request: &pb.Request{}}}})))
		}, usp.InvalidArguments, "empty msg_id", ""},
		{"response with no member is not answered", func(t *testing.T) []byte {
			return mustMarshal(t, recordWith(badMsg(&pb.Msg{Header: &pb.Header{MsgId: "m3"},
				Body: &pb.Body{MsgBody: &pb.Body_Response{Response: &pb.Response{}}}})))
		}, usp.InvalidArguments, "response has no member", ""},
	}
	c := usp.Codec{LocalID: agentID}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := c.Open(tt.raw(t))
			if tt.code == 0 {
				if err != nil || in.Msg == nil {
					t.Fatalf("Open: %v", err)
				}
				return
			}
			var re *usp.RecordError
			if !errors.As(err, &re) {
				t.Fatalf("Open error %v is not a *RecordError", err)
			}
			if code, _ := usp.CodeOf(err); code != tt.code || !errors.Is(err, tt.code) {
				t.Fatalf("code %d, want %d (%v)", code, tt.code, err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("error %q does not say %q", err, tt.reason)
			}
			ans := c.Answer(err)
			switch tt.answered {
			case "":
				if ans != nil {
					t.Fatalf("answered %v, want silent drop (R-MTP.5)", ans)
				}
			case "disconnect":
				if ans.GetDisconnect().GetReasonCode() != uint32(tt.code) || ans.GetToId() != ctrlID {
					t.Fatalf("answer %v, want DisconnectRecord %d to %s", ans, tt.code, ctrlID)
				}
			case "error":
				m := new(pb.Msg)
				if err := proto.Unmarshal(ans.GetNoSessionContext().GetPayload(), m); err != nil {
					t.Fatal(err)
				}
				if m.GetBody().GetError().GetErrCode() != uint32(tt.code) || ans.GetToId() != ctrlID || ans.GetFromId() != agentID {
					t.Fatalf("answer %v / %v, want Error %d", ans, m, tt.code)
				}
			}
		})
	}
}

func TestOpen_MaxRecordSizeIsConfigurable(t *testing.T) {
	raw := mustMarshal(t, recordWith(nil))
	if _, err := (usp.Codec{LocalID: agentID, MaxRecordSize: len(raw)}).Open(raw); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	if _, err := (usp.Codec{LocalID: agentID, MaxRecordSize: len(raw) - 1}).Open(raw); !errors.Is(err, usp.RecordNotParsed) {
		t.Fatalf("over the limit: %v", err)
	}
}

func TestSealOpen_RoundTrip(t *testing.T) {
	ctrl := usp.Codec{LocalID: ctrlID}
	agent := usp.Codec{LocalID: agentID}
	req := usp.NewRequest("g1", &pb.Get{ParamPaths: []string{"Device.DeviceInfo."}, MaxDepth: 1})
	raw, err := ctrl.Seal(agentID, req)
	if err != nil {
		t.Fatal(err)
	}
	in, err := agent.Open(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(in.Msg, req) || in.From() != ctrlID {
		t.Fatalf("got %v from %s", in.Msg, in.From())
	}
}

// R-MTP.6: each connect record is addressed, versioned and opens cleanly.
func TestConnectRecords(t *testing.T) {
	a := usp.Codec{LocalID: agentID}
	c := usp.Codec{LocalID: ctrlID}
	recs := map[string]*usprecord.Record{
		"websocket":  a.WebSocketConnect(ctrlID),
		"mqtt v5":    a.MQTTConnect(ctrlID, true, "usp/agent/x"),
		"mqtt 3.1.1": a.MQTTConnect(ctrlID, false, "usp/agent/x"),
		"stomp":      a.STOMPConnect(ctrlID, "/queue/agent-1"),
		"disconnect": a.Disconnect(ctrlID, "reboot", usp.SessionContextTerminated),
	}
	for name, r := range recs {
		raw, err := a.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		in, err := c.Open(raw)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if in.Msg != nil || !proto.Equal(in.Record, r) {
			t.Fatalf("%s: got %v", name, in.Record)
		}
	}
	if v := recs["mqtt 3.1.1"].GetMqttConnect().GetVersion(); v != usprecord.MQTTConnectRecord_V3_1_1 {
		t.Fatalf("mqtt 3.1.1 version %v", v)
	}
}
