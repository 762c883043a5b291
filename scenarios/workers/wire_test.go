package workers

import (
	"brickyard/sim/fleet"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"brickyard/scenarios/trace"
)

func TestConn_RoundTrip(t *testing.T) {
	a, b := net.Pipe()
	ca, cb := NewConn(a), NewConn(b)
	defer ca.Close()
	defer cb.Close()
	go func() {
		_ = ca.SendBody(KindHello, Hello{PID: 7, Metrics: "http://127.0.0.1:1/metrics"})
		_ = ca.Send(Message{T: KindStop})
	}()
	m, err := cb.Recv()
	if err != nil || m.T != KindHello {
		t.Fatalf("%+v, %v", m, err)
	}
	var h Hello
	if err := m.Decode(&h); err != nil || h.PID != 7 {
		t.Fatalf("%+v, %v", h, err)
	}
	if m, err = cb.Recv(); err != nil || m.T != KindStop || m.Decode(&h) == nil {
		t.Fatalf("%+v, %v", m, err)
	}
}

func frame(n uint32, body string) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, n)
	b.WriteString(body)
	return b.Bytes()
}

func TestReadFrame_BadInput(t *testing.T) {
	for _, c := range []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, io.EOF},
		{"half a length", []byte{0, 0}, io.ErrUnexpectedEOF},
		{"too large", frame(MaxFrame+1, ""), ErrFrameTooLarge},
		{"huge", frame(0xffffffff, "x"), ErrFrameTooLarge},
		{"short body", frame(10, `{"t":`), io.ErrUnexpectedEOF},
		{"not json", frame(3, "abc"), ErrBadFrame},
		{"no kind", frame(2, "{}"), ErrBadFrame},
		{"a list", frame(2, "[]"), ErrBadFrame},
	} {
		_, err := ReadFrame(bytes.NewReader(c.in))
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if m, err := ReadFrame(bytes.NewReader(frame(8, `{"t":"x"}`[:8]+""))); err == nil {
		t.Errorf("a cut body read as %+v", m)
	}
}

func TestConn_SendRefusesTooLarge(t *testing.T) {
	c := NewConn(&bytes.Buffer{})
	big := strings.Repeat("x", MaxFrame)
	if err := c.SendBody("x", big); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("%v", err)
	}
}

// FuzzReadFrame reads arbitrary bytes as a stream of frames: every frame
// is a Message or an error, never a panic, and no more is allocated than
// the bytes that arrived.
func FuzzReadFrame(f *testing.F) {
	f.Add(frame(9, `{"t":"x"}`))
	f.Add(append(frame(9, `{"t":"x"}`), frame(30, `{"t":"y","body":{"pid":1}}`)...))
	f.Add(frame(MaxFrame, "{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		for {
			m, err := ReadFrame(r)
			if err != nil {
				return
			}
			if m.T == "" {
				t.Fatal("a message without a kind")
			}
			var h Hello
			_ = m.Decode(&h)
		}
	})
}

func TestMergeLogs(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := write("a", "2025-01-01T00:00:01.000000000Z A1 x\n2025-01-01T00:00:03.000000000Z A3 x\n")
	b := write("b", "2025-01-01T00:00:02.000000000Z B2 x\n2025-01-01T00:00:03.000000000Z B3 x\n2025-01-01T00:00:04.000000000Z B4\n")
	var out bytes.Buffer
	if err := MergeLogs(&out, []string{a, "", filepath.Join(dir, "missing"), b, write("empty", "")}, fleet.LogText); err != nil {
		t.Fatal(err)
	}
	want := "2025-01-01T00:00:01.000000000Z A1 x\n2025-01-01T00:00:02.000000000Z B2 x\n2025-01-01T00:00:03.000000000Z A3 x\n" +
		"2025-01-01T00:00:03.000000000Z B3 x\n2025-01-01T00:00:04.000000000Z B4\n"
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}
	long := write("long", strings.Repeat("x", maxLogLine+1)+"\n")
	if err := MergeLogs(io.Discard, []string{long}, fleet.LogText); err == nil {
		t.Fatal("a line over the limit merged")
	}
	// The JSON form merges by its "at", whatever the devices' IDs.
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	line := func(s int, id string) string {
		return string(fleet.AppendEvent(nil, fleet.LogJSON, t0.Add(time.Duration(s)*time.Second), id, "boot", ""))
	}
	ja, jb := write("ja", line(1, "z")+line(3, "z")), write("jb", line(2, "a")+line(4, "a"))
	out.Reset()
	if err := MergeLogs(&out, []string{ja, jb}, fleet.LogJSON); err != nil {
		t.Fatal(err)
	}
	if want := line(1, "z") + line(2, "a") + line(3, "z") + line(4, "a"); out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}
}

// Traces merge by the time each JSON line starts with, to the nanosecond
// (trace.StampWidth), whatever follows it.
func TestMergeLines_Traces(t *testing.T) {
	dir := t.TempDir()
	line := func(at time.Time, dev string) string {
		b, err := json.Marshal(trace.Line{At: at.UTC().Format(trace.TimeFormat), Device: dev, Dir: "in"})
		if err != nil {
			t.Fatal(err)
		}
		return string(b) + "\n"
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := filepath.Join(dir, "a")
	b := filepath.Join(dir, "b")
	// A and B differ only in their nanoseconds, past the 30 bytes an
	// event log's merge reads.
	if err := os.WriteFile(a, []byte(line(t0.Add(5), "zz-A")+line(t0.Add(7), "zz-A")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, []byte(line(t0.Add(6), "aa-B")), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := MergeLines(&out, []string{a, b}, trace.StampWidth); err != nil {
		t.Fatal(err)
	}
	if want := line(t0.Add(5), "zz-A") + line(t0.Add(6), "aa-B") + line(t0.Add(7), "zz-A"); out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}
}
