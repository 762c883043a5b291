package trace

import (
	"bytes"
	"encoding/json"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
)

var protojsonOpts = protojson.UnmarshalOptions{}

func protojsonUnmarshal(b []byte, m *pb.Msg) error { return protojsonOpts.Unmarshal(b, m) }

// FuzzRecord traces arbitrary bytes as a Record: never a panic, always one
// line of valid JSON, with the Record's size.
func FuzzRecord(f *testing.F) {
	rec, _ := (usp.Codec{LocalID: "os::A-1"}).Seal("proto::c", usp.NewRequest("1", &pb.Get{ParamPaths: []string{"Device."}}))
	f.Add(rec)
	f.Add([]byte{})
	f.Add([]byte("\x0a\x031.4"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var buf bytes.Buffer
		sel, _ := ParseSelector("100%")
		w, err := New(&buf, sel, 0)
		if err != nil {
			t.Fatal(err)
		}
		w.Record("os::A-1", true, data, at)
		b := buf.Bytes()
		if len(b) == 0 || b[len(b)-1] != '\n' || bytes.Count(b, []byte("\n")) != 1 {
			t.Fatalf("not one line: %q", b)
		}
		var l Line
		if err := json.Unmarshal(b, &l); err != nil {
			t.Fatalf("not JSON: %v: %q", err, b)
		}
		if l.Bytes != len(data) {
			t.Fatalf("bytes %d of %d", l.Bytes, len(data))
		}
	})
}
