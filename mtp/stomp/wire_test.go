package stomp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	gframe "github.com/go-stomp/stomp/v3/frame"
)

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"os::012345-SIM1": `os\c\c012345-SIM1`,
		"a\\b\r\n:c":      `a\\b\r\n\cc`,
		"plain/queue":     "plain/queue",
	} {
		if got := string(appendEscaped(nil, in)); got != want {
			t.Errorf("escape %q = %q, want %q", in, got, want)
		}
		if back, err := unescape([]byte(want), true); err != nil || back != in {
			t.Errorf("unescape %q = %q, %v", want, back, err)
		}
	}
	for _, bad := range []string{`a\tb`, `trailing\`, `\x`} {
		if _, err := unescape([]byte(bad), true); !errors.Is(err, errMalformed) {
			t.Errorf("strict unescape %q: %v", bad, err)
		}
		if got, err := unescape([]byte(bad), false); err != nil || got != bad {
			t.Errorf("lenient unescape %q = %q, %v", bad, got, err)
		}
	}
}

// Frames this package writes are read by go-stomp's reader, and frames
// go-stomp writes are read here, headers and bodies intact.
func TestWire_InteropWithGoStomp(t *testing.T) {
	hdr := []string{"destination", "/queue/agent-os::1", "reply-to-dest", "a\\b\nc", "content-length", "5"}
	enc := appendFrame(nil, "MESSAGE", hdr, []byte("he\x00lo"))
	f, err := gframe.NewReader(bytes.NewReader(enc)).Read()
	if err != nil || f.Command != "MESSAGE" || string(f.Body) != "he\x00lo" ||
		f.Header.Get("destination") != "/queue/agent-os::1" || f.Header.Get("reply-to-dest") != "a\\b\nc" {
		t.Fatalf("go-stomp read %v %v", f, err)
	}

	var buf bytes.Buffer
	gf := gframe.New("MESSAGE", "subscription", "0", "x", "a:b\\c\r\nd", "x", "second")
	gf.Body = []byte("body")
	if err := gframe.NewWriter(&buf).Write(gf); err != nil {
		t.Fatal(err)
	}
	buf.WriteString("\r\n\n") // heart-beats after a frame
	r := newReader(&buf, 100)
	got, err := r.read()
	if err != nil || got.cmd != "MESSAGE" || string(got.body) != "body" {
		t.Fatalf("read %+v %v", got, err)
	}
	if v, _ := got.get("x"); v != "a:b\\c\r\nd" { // the first of a repeated name wins
		t.Fatalf("x = %q", v)
	}
	for range 2 {
		if f, err := r.read(); f != nil || err != nil {
			t.Fatalf("heart-beat read as %v %v", f, err)
		}
	}
	if _, err := r.read(); err != io.EOF {
		t.Fatalf("at the end: %v", err)
	}
}

// CONNECTED is read leniently: go-stomp's server escapes it, STOMP 1.2
// says it is not escaped.
func TestWire_ConnectedLenient(t *testing.T) {
	r := newReader(strings.NewReader("CONNECTED\nversion:1.2\nsubscribe-dest:/queue/a\\cb\\t\n\n\x00"), 100)
	f, err := r.read()
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := f.get("subscribe-dest"); v != "/queue/a:b\\t" {
		t.Fatalf("subscribe-dest %q", v)
	}
}

// FuzzHeaderEscape: escaping round-trips through this package's and
// go-stomp's codecs, an escaped value fits on one header line, and
// unescaping any bytes never panics.
func FuzzHeaderEscape(f *testing.F) {
	for _, s := range []string{"os::012345-SIM1", `a\b`, "\r\n:", `\c\\`, "", "é\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		esc := appendEscaped(nil, s)
		if bytes.ContainsAny(esc, ":\r\n") {
			t.Fatalf("escaped %q still holds a separator: %q", s, esc)
		}
		for _, strict := range []bool{true, false} {
			if got, err := unescape(esc, strict); err != nil || got != s {
				t.Fatalf("unescape(escape(%q), %v) = %q, %v", s, strict, got, err)
			}
			_, _ = unescape([]byte(s), strict)
		}
		if strings.ContainsRune(s, 0) {
			return // a NUL in a header ends go-stomp's frame early
		}
		enc := appendFrame(nil, "MESSAGE", []string{"h", s, "content-length", "0"}, nil)
		gf, err := gframe.NewReader(bytes.NewReader(enc)).Read()
		if err != nil || gf.Header.Get("h") != s {
			t.Fatalf("go-stomp read %q back as %v, %v", s, gf, err)
		}
		var buf bytes.Buffer
		gf = gframe.New("MESSAGE", "h", s, "content-length", "0")
		if err := gframe.NewWriter(&buf).Write(gf); err != nil {
			t.Fatal(err)
		}
		if len(esc)+3 > readBufSize {
			return
		}
		got, err := newReader(&buf, 10).read()
		if err != nil {
			t.Fatalf("read go-stomp's %q: %v", buf.Bytes(), err)
		}
		if v, _ := got.get("h"); v != s {
			t.Fatalf("go-stomp's %q read back as %q", s, v)
		}
	})
}

// FuzzReadFrame: any bytes from a broker give frames, heart-beats or an
// error; never a panic, never a body over the limit.
func FuzzReadFrame(f *testing.F) {
	f.Add([]byte("MESSAGE\nsubscription:0\ncontent-length:3\n\nabc\x00\n"))
	f.Add([]byte("CONNECTED\nversion:1.2\nheart-beat:0,0\n\n\x00"))
	f.Add([]byte("ERROR\nmessage:x\\c\n\nbody\x00"))
	f.Add([]byte("MESSAGE\ncontent-length:99999999999\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := newReader(bufio.NewReader(bytes.NewReader(b)), 64)
		for range 100 {
			fr, err := r.read()
			if err != nil {
				return
			}
			if fr != nil && len(fr.body) > 64 {
				t.Fatalf("body of %d bytes over the limit", len(fr.body))
			}
		}
	})
}
