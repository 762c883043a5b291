package usp_test

import (
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

func addGoldenSeeds(f *testing.F, glob string) {
	names, _ := filepath.Glob(filepath.Join("testdata/golden", glob))
	for _, n := range names {
		if b, err := os.ReadFile(n); err == nil {
			f.Add(b)
		}
	}
}

// FuzzOpenRecord: no byte string makes Open panic; a Record it accepts is
// addressed to us and re-encodes to a Record that opens to the same thing;
// Answer never panics and only answers the sender.
func FuzzOpenRecord(f *testing.F) {
	addGoldenSeeds(f, "*.rec.bin")
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x03, '1', '.', '4'})
	c := usp.Codec{LocalID: "os::012345-SIM000001", MaxRecordSize: 4096}
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := c.Open(b)
		if err != nil {
			if ans := c.Answer(err); ans != nil && (ans.GetFromId() != c.LocalID || ans.GetToId() == "") {
				t.Fatalf("answer %v is not from us to the sender", ans)
			}
			return
		}
		if in.Record.GetToId() != c.LocalID {
			t.Fatalf("accepted a record to %q", in.Record.GetToId())
		}
		again, err := c.Marshal(in.Record)
		if err != nil {
			t.Fatal(err)
		}
		in2, err := usp.Codec{LocalID: c.LocalID, MaxRecordSize: 1 << 20}.Open(again)
		if err != nil || !proto.Equal(in2.Record, in.Record) {
			t.Fatalf("re-encoded record does not reopen: %v", err)
		}
	})
}

// FuzzDecodeMsg: no payload makes decoding, validation, typing or answering
// a Msg panic.
func FuzzDecodeMsg(f *testing.F) {
	addGoldenSeeds(f, "*.msg.bin")
	f.Add([]byte{0x0a, 0x00, 0x12, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		m := new(pb.Msg)
		if proto.Unmarshal(b, m) != nil {
			return
		}
		err := usp.Validate(m)
		typ := usp.TypeOf(m)
		if err == nil && usp.IsRequest(m) {
			if _, ok := usp.ResponseTo(typ); !ok {
				t.Fatalf("valid request of type %v has no response type", typ)
			}
			_ = usp.Answers(m, usp.ErrorMsg(m.GetHeader().GetMsgId(), err, nil))
		}
	})
}
