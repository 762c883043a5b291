package trace

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"brickyard/usp"
	pb "brickyard/usp/uspmsg"
	"brickyard/usp/usprecord"
)

var at = time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)

func TestParseSelector(t *testing.T) {
	for _, tc := range []struct {
		in      string
		picks   []string
		skips   []string
		wantErr string
	}{
		{in: "os::A-1", picks: []string{"os::A-1"}, skips: []string{"os::A-2", "os::A-10"}},
		{in: " os::A-1 , os::A-3", picks: []string{"os::A-1", "os::A-3"}, skips: []string{"os::A-2"}},
		{in: "100%", picks: []string{"os::A-1", "x"}},
		{in: "1", picks: []string{"os::A-1", "x"}},
		{in: "", wantErr: "no devices"},
		{in: "a,,b", wantErr: "empty endpoint ID"},
		{in: "0%", wantErr: "not in (0, 1]"},
		{in: "0", wantErr: "not in (0, 1]"},
		{in: "-0.5", wantErr: "not in (0, 1]"},
		{in: "150%", wantErr: "not in (0, 1]"},
		{in: "NaN", wantErr: "not in (0, 1]"},
		{in: "+Inf", wantErr: "not in (0, 1]"},
		{in: "1e400", wantErr: "not in (0, 1]"},
		{in: "x%", wantErr: "not a number"},
	} {
		sel, err := ParseSelector(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		for _, id := range tc.picks {
			if !sel.Picks(id) {
				t.Errorf("%q does not pick %s", tc.in, id)
			}
		}
		for _, id := range tc.skips {
			if sel.Picks(id) {
				t.Errorf("%q picks %s", tc.in, id)
			}
		}
	}
}

// A share picks about that share of the fleet, the same devices every
// time.
func TestSelector_Share(t *testing.T) {
	sel, err := ParseSelector("5%")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i := range 100000 {
		id := fmt.Sprintf("os::00256D-SIM%06d", i+1)
		if sel.Picks(id) {
			n++
		}
		if sel.Picks(id) != sel.Picks(id) {
			t.Fatal("not the same answer twice")
		}
	}
	if n < 4500 || n > 5500 {
		t.Errorf("5%% picked %d of 100,000", n)
	}
}

func record(t *testing.T, m *pb.Msg) []byte {
	t.Helper()
	rec, err := (usp.Codec{LocalID: "os::A-1"}).Seal("proto::ctrl", m)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func lines(t *testing.T, b []byte) []Line {
	t.Helper()
	var out []Line
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l Line
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	return out
}

// The lines decode back to what went over the wire: the Record's kind and
// addresses, the Message's header, and the Message itself as protobuf
// JSON that reads back to the same Message.
func TestWriter_DecodesBack(t *testing.T) {
	var buf bytes.Buffer
	sel, _ := ParseSelector("os::A-1")
	w, err := New(&buf, sel, 0)
	if err != nil {
		t.Fatal(err)
	}
	get := usp.NewRequest("get-1", &pb.Get{ParamPaths: []string{"Device.DeviceInfo.SoftwareVersion"}})
	resp := usp.NewResponse("get-1", &pb.GetResp{ReqPathResults: []*pb.GetResp_RequestedPathResult{{RequestedPath: "Device.DeviceInfo.SoftwareVersion"}}})
	connect, _ := proto.Marshal(&usprecord.Record{Version: "1.4", FromId: "os::A-1", ToId: "proto::ctrl",
		RecordType: &usprecord.Record_MqttConnect{MqttConnect: &usprecord.MQTTConnectRecord{Version: usprecord.MQTTConnectRecord_V5, SubscribedTopic: "usp/agent/A-1"}}})
	w.Record("os::A-1", true, record(t, get), at)
	w.Record("os::A-1", false, record(t, resp), at.Add(time.Millisecond))
	w.Record("os::A-2", true, record(t, get), at) // not traced
	w.Record("os::A-1", false, connect, at)
	w.Record("os::A-1", true, []byte("\xff\x00garbage"), at)
	got := lines(t, buf.Bytes())
	if len(got) != 4 {
		t.Fatalf("%d lines, want 4:\n%s", len(got), buf.String())
	}
	if l := got[0]; l.Dir != "in" || l.Record != "no_session_context" || l.MsgID != "get-1" || l.Type != "GET" || l.Device != "os::A-1" || l.At != "2026-01-02T03:04:05.000000006Z" {
		t.Errorf("the Get: %+v", l)
	}
	var m pb.Msg
	if err := protojsonUnmarshal(got[0].Msg, &m); err != nil || !proto.Equal(&m, get) {
		t.Errorf("the Get's body does not read back: %v", err)
	}
	if l := got[1]; l.Dir != "out" || l.Type != "GET_RESP" {
		t.Errorf("the GetResp: %+v", l)
	}
	if l := got[2]; l.Record != "mqtt_connect" || l.Msg != nil || l.Error != "" {
		t.Errorf("the connect Record: %+v", l)
	}
	if l := got[3]; !strings.Contains(l.Error, "not a USP Record") || l.Bytes != 9 {
		t.Errorf("garbage: %+v", l)
	}
	if st, err := w.Stats(); err != nil || st.Lines != 4 || st.Dropped != 0 || st.Bytes != int64(buf.Len()) {
		t.Errorf("stats %+v, %v", st, err)
	}
}

// Past its bound a Writer writes nothing more, counts what it left out,
// and every line it wrote is whole.
func TestWriter_Bound(t *testing.T) {
	var buf bytes.Buffer
	sel, _ := ParseSelector("100%")
	w, err := New(&buf, sel, 4096)
	if err != nil {
		t.Fatal(err)
	}
	rec := record(t, usp.NewRequest("get-1", &pb.Get{ParamPaths: []string{"Device."}}))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				w.Record(fmt.Sprintf("os::A-%d", g), true, rec, at)
			}
		}()
	}
	wg.Wait()
	st, _ := w.Stats()
	if st.Lines+st.Dropped != 200 || st.Dropped == 0 || st.Bytes > 4096 || st.Bytes != int64(buf.Len()) {
		t.Fatalf("stats %+v with %d bytes written", st, buf.Len())
	}
	if got := lines(t, buf.Bytes()); int64(len(got)) != st.Lines {
		t.Fatalf("%d whole lines, stats say %d", len(got), st.Lines)
	}
}

type failing struct{ n int }

func (f *failing) Write(b []byte) (int, error) {
	if f.n == 0 {
		return 0, errors.New("disk full")
	}
	f.n--
	return len(b), nil
}

// A write error stops the trace (once) and is reported.
func TestWriter_WriteError(t *testing.T) {
	sel, _ := ParseSelector("100%")
	w, _ := New(&failing{n: 2}, sel, 0)
	rec := record(t, usp.NewRequest("get-1", &pb.Get{ParamPaths: []string{"Device."}}))
	for range 5 {
		w.Record("os::A-1", true, rec, at)
	}
	st, err := w.Stats()
	if err == nil || !strings.Contains(err.Error(), "disk full") || st.Lines != 2 || st.Dropped != 3 {
		t.Fatalf("stats %+v, %v", st, err)
	}
	if _, err := New(nil, sel, 0); err == nil {
		t.Error("a Writer without a writer")
	}
	if _, err := New(&bytes.Buffer{}, sel, -1); err == nil {
		t.Error("a negative bound")
	}
}
