package usp_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
	"brickyard/usp/usprecord"
)

// The vectors in testdata/golden were encoded by protoc from text format
// (gen.sh). Each must decode with our code, match its text form, and
// re-encode to the same bytes.
func TestGolden_ThirdPartyVectorsRoundTrip(t *testing.T) {
	bins, err := filepath.Glob("testdata/golden/*.bin")
	if err != nil || len(bins) == 0 {
		t.Fatalf("no golden vectors (%v): run make golden", err)
	}
	placeholder := regexp.MustCompile(`"@[a-z0-9_]+\.msg\.bin@"`)
	for _, bin := range bins {
		name := strings.TrimSuffix(filepath.Base(bin), ".bin")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(bin)
			if err != nil {
				t.Fatal(err)
			}
			var got, want proto.Message
			if strings.HasSuffix(name, ".rec") {
				got, want = new(usprecord.Record), new(usprecord.Record)
			} else {
				got, want = new(pb.Msg), new(pb.Msg)
			}
			if err := proto.Unmarshal(raw, got); err != nil {
				t.Fatalf("decode: %v", err)
			}
			again, err := proto.MarshalOptions{Deterministic: true}.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, raw) {
				t.Fatalf("re-encoding differs:\n got %x\nwant %x", again, raw)
			}
			text, err := os.ReadFile(filepath.Join("testdata/golden", name+".txtpb"))
			if err != nil {
				t.Fatal(err)
			}
			if placeholder.Match(text) {
				return // payload bytes are checked by TestGolden_RecordPayloadIsMsg
			}
			if err := prototext.Unmarshal(text, want); err != nil {
				t.Fatalf("text form: %v", err)
			}
			if !proto.Equal(got, want) {
				t.Fatalf("decoded %v\nwant %v", got, want)
			}
		})
	}
}

func TestGolden_RecordPayloadIsMsg(t *testing.T) {
	raw := readFile(t, "testdata/golden/no_session_get.rec.bin")
	in, err := usp.Codec{LocalID: "os::012345-SIM000001"}.Open(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := new(pb.Msg)
	if err := proto.Unmarshal(readFile(t, "testdata/golden/get.msg.bin"), want); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(in.Msg, want) || in.From() != "proto::controller" {
		t.Fatalf("got %v from %q", in.Msg, in.From())
	}
}

// Our encoding, decoded by protoc, says what we built.
func TestGolden_ProtocDecodesOurEncoding(t *testing.T) {
	protoc, err := exec.LookPath("protoc")
	if err != nil {
		t.Fatalf("protoc not found (Debian package protobuf-compiler; `make deps` installs it): %v", err)
	}
	c := usp.Codec{LocalID: "proto::controller"}
	msg := usp.NewRequest("op-9", &pb.Operate{Command: "Device.DeviceInfo.FirmwareImage.2.Activate()",
		CommandKey: "k9", SendResp: true, InputArgs: map[string]string{
			"TimeWindow.1.Start": "1", "TimeWindow.1.End": "100", "TimeWindow.1.Mode": "Immediately"}})
	raw, err := c.Seal("os::012345-SIM000001", msg)
	if err != nil {
		t.Fatal(err)
	}
	decode := func(typ string, in []byte, into proto.Message) {
		t.Helper()
		cmd := exec.Command(protoc, "-I", "proto", "--decode="+typ, "usp-msg-1-4.proto", "usp-record-1-4.proto")
		cmd.Stdin = bytes.NewReader(in)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("protoc --decode=%s: %v", typ, err)
		}
		if err := prototext.Unmarshal(out, into); err != nil {
			t.Fatalf("protoc's text: %v\n%s", err, out)
		}
	}
	rec := new(usprecord.Record)
	decode("usp_record.Record", raw, rec)
	if rec.GetFromId() != "proto::controller" || rec.GetToId() != "os::012345-SIM000001" || rec.GetVersion() != usp.Version {
		t.Fatalf("record header: %v", rec)
	}
	got := new(pb.Msg)
	decode("usp.Msg", rec.GetNoSessionContext().GetPayload(), got)
	if !proto.Equal(got, msg) {
		t.Fatalf("protoc read %v\nwant %v", got, msg)
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
