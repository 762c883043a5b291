package usp_test

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
	"brickyard/usp/usprecord"
)

func sessionRecord(mut func(r *usprecord.Record)) *usprecord.Record {
	r := &usprecord.Record{Version: "1.4", ToId: agentID, FromId: ctrlID,
		RecordType: &usprecord.Record_SessionContext{SessionContext: &usprecord.SessionContextRecord{SessionId: 5, SequenceId: 1}}}
	if mut != nil {
		mut(r)
	}
	return r
}

// Open refuses a session_context Record with 7106 and hands it back;
// CheckSessionRecord then applies the rules after the type (7104).
func TestSessionRecordRules(t *testing.T) {
	c := usp.Codec{LocalID: agentID}
	for _, tc := range []struct {
		name string
		mut  func(r *usprecord.Record)
		ok   bool
	}{
		{"valid", nil, true},
		{"version 2.0", func(r *usprecord.Record) { r.Version = "2.0" }, false},
		{"no from_id", func(r *usprecord.Record) { r.FromId = "" }, false},
		{"another to_id", func(r *usprecord.Record) { r.ToId = "os::other" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Open(mustMarshal(t, sessionRecord(tc.mut)))
			r, ok := usp.IsSessionRecord(err)
			if !ok || r.GetSessionContext().GetSessionId() != 5 {
				t.Fatalf("Open: %v; IsSessionRecord %v", err, ok)
			}
			err = c.CheckSessionRecord(r)
			if tc.ok != (err == nil) {
				t.Fatalf("CheckSessionRecord: %v", err)
			}
			if code, _ := usp.CodeOf(err); err != nil && code != usp.InvalidRecordValue {
				t.Fatalf("code %v, want 7104", code)
			}
		})
	}
	if _, ok := usp.IsSessionRecord(errors.New("x")); ok {
		t.Error("IsSessionRecord took an error that is no RecordError")
	}
	if _, err := c.Open([]byte{0xff}); err == nil {
		t.Fatal("garbage opened")
	} else if _, ok := usp.IsSessionRecord(err); ok {
		t.Error("IsSessionRecord took an unparsable Record")
	}
	if c.CheckSessionRecord(recordWith(nil)) == nil {
		t.Error("CheckSessionRecord took a no_session_context Record")
	}
}

// DecodeMsg applies Open's payload rules: 7100 for bytes that are no Msg,
// 7004 for a Msg without msg_id; EncodeMsg round-trips.
func TestDecodeMsg(t *testing.T) {
	m := usp.NewRequest("m1", &pb.Get{ParamPaths: []string{"Device."}})
	b, err := usp.EncodeMsg(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := usp.DecodeMsg(b)
	if err != nil || !proto.Equal(got, m) {
		t.Fatalf("round trip: %v", err)
	}
	if _, err := usp.DecodeMsg([]byte{0xff, 0xff}); !errors.Is(err, usp.RecordNotParsed) {
		t.Errorf("garbage: %v, want 7100", err)
	}
	noID := usp.NewRequest("", &pb.Get{ParamPaths: []string{"Device."}})
	nb, _ := proto.Marshal(noID)
	if _, err := usp.DecodeMsg(nb); !errors.Is(err, usp.InvalidArguments) {
		t.Errorf("no msg_id: %v, want 7004", err)
	}
	if _, err := usp.EncodeMsg(usp.NewRequest("x", &pb.Get{ParamPaths: []string{"\xff"}})); err == nil {
		t.Error("a string that is not UTF-8 encoded")
	}
}
