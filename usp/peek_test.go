package usp

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "brickyard/usp/uspmsg"
	"brickyard/usp/usprecord"
)

// peekCases are Records of every kind and message type, as Seal writes
// them, and some the wire allows that encoders do not write.
func peekCases(t testing.TB) map[string][]byte {
	c := Codec{LocalID: "proto::ctrl"}
	seal := func(m *pb.Msg) []byte {
		b, err := c.Seal("os::00256D-SIM000001", m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	marshal := func(r *usprecord.Record) []byte {
		b, err := proto.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := map[string][]byte{
		"get":          seal(NewRequest("g1", &pb.Get{ParamPaths: []string{"Device.DeviceInfo."}})),
		"gsdm":         seal(NewRequest("g2", &pb.GetSupportedDM{ObjPaths: []string{"Device."}})),
		"instances":    seal(NewRequest("g3", &pb.GetInstances{ObjPaths: []string{"Device."}})),
		"set":          seal(NewRequest("s", &pb.Set{AllowPartial: true})),
		"add":          seal(NewRequest("a", &pb.Add{})),
		"delete":       seal(NewRequest("d", &pb.Delete{})),
		"operate":      seal(NewRequest("o", &pb.Operate{Command: "Device.Reboot()"})),
		"notify":       seal(NewRequest("n1", &pb.Notify{SubscriptionId: "boot", SendResp: true, Notification: &pb.Notify_Event_{Event: &pb.Notify_Event{EventName: "Boot!"}}})),
		"notify-noack": seal(NewRequest("n2", &pb.Notify{SubscriptionId: "x"})),
		"proto":        seal(NewRequest("p", &pb.GetSupportedProtocol{ControllerSupportedProtocolVersions: "1.4"})),
		"register":     seal(NewRequest("r", &pb.Register{})),
		"deregister":   seal(NewRequest("dr", &pb.Deregister{})),
		"get-resp":     seal(NewResponse("g1", &pb.GetResp{})),
		"notify-resp":  seal(NewResponse("n1", &pb.NotifyResp{SubscriptionId: "boot"})),
		"operate-resp": seal(NewResponse("o", &pb.OperateResp{})),
		"error":        seal(&pb.Msg{Header: &pb.Header{MsgId: "e", MsgType: pb.Header_ERROR}, Body: &pb.Body{MsgBody: &pb.Body_Error{Error: &pb.Error{ErrCode: 7004, ErrMsg: "bad"}}}}),
		"empty-msg":    marshal(&usprecord.Record{Version: "1.4", ToId: "a", FromId: "b", RecordType: &usprecord.Record_NoSessionContext{NoSessionContext: &usprecord.NoSessionContextRecord{}}}),
		"empty-body":   seal(&pb.Msg{Header: &pb.Header{MsgId: "x"}, Body: &pb.Body{}}),
		"empty-req":    seal(&pb.Msg{Header: &pb.Header{MsgId: "x"}, Body: &pb.Body{MsgBody: &pb.Body_Request{Request: &pb.Request{}}}}),
		"header-lies":  seal(&pb.Msg{Header: &pb.Header{MsgId: "x", MsgType: pb.Header_SET}, Body: NewRequest("x", &pb.Get{}).Body}),
		"disconnect":   marshal(c.Disconnect("a", "going away", InternalError)),
		"session":      marshal(&usprecord.Record{Version: "1.4", ToId: "a", FromId: "b", RecordType: &usprecord.Record_SessionContext{SessionContext: &usprecord.SessionContextRecord{SessionId: 1, Payload: [][]byte{{1, 2}}}}}),
		"ws-connect":   marshal(&usprecord.Record{Version: "1.4", ToId: "a", FromId: "b", RecordType: &usprecord.Record_WebsocketConnect{WebsocketConnect: &usprecord.WebSocketConnectRecord{}}}),
		"mqtt-connect": marshal(&usprecord.Record{Version: "1.4", ToId: "a", FromId: "b", RecordType: &usprecord.Record_MqttConnect{MqttConnect: &usprecord.MQTTConnectRecord{SubscribedTopic: "t"}}}),
		"no-member":    marshal(&usprecord.Record{Version: "1.4", ToId: "a", FromId: "b"}),
		"empty":        {},
	}
	// The wire allows a field twice (the last wins), a message twice
	// (merged), two oneof members (the last wins), unknown fields.
	get := cases["get"]
	cases["to-twice"] = protowire.AppendString(protowire.AppendTag(bytes.Clone(get), 2, protowire.BytesType), "other")
	disc := marshal(&usprecord.Record{RecordType: &usprecord.Record_Disconnect{Disconnect: &usprecord.DisconnectRecord{Reason: "r", ReasonCode: 7}}})
	cases["then-disconnect"] = append(bytes.Clone(get), disc...)
	cases["unknown-field"] = protowire.AppendVarint(protowire.AppendTag(bytes.Clone(get), 99, protowire.VarintType), 5)
	cases["to-as-varint"] = protowire.AppendVarint(protowire.AppendTag(bytes.Clone(get), 2, protowire.VarintType), 5)
	cases["truncated"] = get[:len(get)-3]
	cases["bad-utf8-to"] = protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), []byte{0xff, 0xfe})
	names, _ := filepath.Glob("testdata/golden/*.rec.bin")
	for _, n := range names {
		if b, err := os.ReadFile(n); err == nil {
			cases["golden "+filepath.Base(n)] = b
		}
	}
	names, _ = filepath.Glob("testdata/golden/*.msg.bin")
	for _, n := range names {
		if b, err := os.ReadFile(n); err == nil {
			cases["golden "+filepath.Base(n)] = marshal(&usprecord.Record{Version: "1.4", ToId: "a", FromId: "b",
				RecordType: &usprecord.Record_NoSessionContext{NoSessionContext: &usprecord.NoSessionContextRecord{Payload: b}}})
		}
	}
	return cases
}

func glanceString(g Glance) string {
	return fmt.Sprintf("to=%q from=%q kind=%d reason=%q/%d msg=%v id=%q type=%v body=%d err=%d/%q send_resp=%v",
		g.To, g.From, g.Kind, g.Reason, g.ReasonCode, g.HasMsg, g.MsgID, g.Type, g.Body, g.ErrCode, g.ErrMsg, g.SendResp)
}

// TestPeekIsDecoding: on every case Peek says what decoding says, and
// refuses only what decoding refuses.
func TestPeekIsDecoding(t *testing.T) {
	for name, rec := range peekCases(t) {
		t.Run(name, func(t *testing.T) {
			want, werr := peekDecoded(rec)
			got, err := Peek(rec)
			if werr != nil {
				if err == nil {
					t.Logf("decoding refuses (%v), Peek accepts: allowed only for damage deep inside", werr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Peek: %v; decoding accepts it: %s", err, glanceString(want))
			}
			if glanceString(got) != glanceString(want) {
				t.Fatalf("Peek:     %s\ndecoding: %s", glanceString(got), glanceString(want))
			}
		})
	}
	// The fast way is the one taken for what Seal writes.
	for _, name := range []string{"get", "notify", "error", "disconnect", "get-resp"} {
		var g Glance
		if ok, err := g.record(peekCases(t)[name]); !ok || err != nil {
			t.Errorf("%s: read by decoding (%v, %v), want the fast way", name, ok, err)
		}
	}
}

func TestPeek_Refuses(t *testing.T) {
	for _, b := range [][]byte{{0xff}, {0x12, 0x05, 'a'}, protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), []byte{0xff})} {
		if _, err := Peek(b); err == nil {
			t.Errorf("Peek(%x) accepted", b)
		}
	}
}

// FuzzPeek: whatever decoding accepts, Peek accepts and describes alike.
func FuzzPeek(f *testing.F) {
	for _, b := range peekCases(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := Peek(b)
		want, werr := peekDecoded(b)
		if werr != nil {
			return
		}
		if err != nil {
			t.Fatalf("Peek: %v; decoding accepts it: %s", err, glanceString(want))
		}
		if glanceString(got) != glanceString(want) {
			t.Fatalf("Peek:     %s\ndecoding: %s", glanceString(got), glanceString(want))
		}
	})
}

func BenchmarkPeek(b *testing.B) {
	rec := peekCases(b)["get"]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Peek(rec); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPeekDecoded(b *testing.B) {
	rec := peekCases(b)["get"]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := peekDecoded(rec); err != nil {
			b.Fatal(err)
		}
	}
}
