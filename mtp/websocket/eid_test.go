package websocket

import (
	"net/http"
	"testing"
)

func TestExtensionEID(t *testing.T) {
	for v, want := range map[string]struct {
		eid     string
		offered bool
	}{
		`bbf-usp-protocol; eid="os::00256D-1"`:              {"os::00256D-1", true},
		`permessage-deflate, BBF-USP-Protocol;eid=proto::x`: {"proto::x", true},
		`x; a="1,2", bbf-usp-protocol; eid="a\"b\\c"; y=1`:  {`a"b\c`, true},
		`bbf-usp-protocol`:                                    {"", true},
		`bbf-usp-protocolx; eid="no"`:                         {"", false},
		`other; eid="not ours", bbf-usp-protocol; eid="ours"`: {"ours", true},
	} {
		eid, offered := extensionEID(http.Header{"Sec-Websocket-Extensions": {v}})
		if eid != want.eid || offered != want.offered {
			t.Errorf("%s: %q %v", v, eid, offered)
		}
	}
}

// FuzzParseEID: encodeEID and parseEID are inverses for every ID the
// listener accepts, and parseEID never panics on a raw query.
func FuzzParseEID(f *testing.F) {
	for _, s := range []string{"os::012345-SIM%1", "proto::a b+c", "eid=x&eid=y", "%", "eid=%zz", "é::ü", "a=1&eid=self%3A%3Ax"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = parseEID(s)
		if checkEID(s) != nil {
			return
		}
		enc := encodeEID(s)
		for i := 0; i < len(enc); i++ {
			if c := enc[i]; !unreserved(c) && c != '%' {
				t.Fatalf("encodeEID(%q) = %q leaves %q", s, enc, c)
			}
		}
		got, err := parseEID("x=1&eid=" + enc + "&y=2")
		if err != nil || got != s {
			t.Fatalf("round trip of %q: %q %v", s, got, err)
		}
	})
}

// FuzzExtensionEID: the answer the listener writes reads back as the ID,
// and no header value panics the parser.
func FuzzExtensionEID(f *testing.F) {
	f.Add(`bbf-usp-protocol; eid="os::1"`, "proto::ctrl")
	f.Add(`a; b="\"`, `x"y\z`)
	f.Fuzz(func(t *testing.T, header, eid string) {
		_, _ = extensionEID(http.Header{"Sec-Websocket-Extensions": {header}})
		if checkEID(eid) != nil {
			return
		}
		got, offered := extensionEID(http.Header{"Sec-Websocket-Extensions": {extensionValue(eid)}})
		if !offered || got != eid {
			t.Fatalf("extension round trip of %q: %q %v", eid, got, offered)
		}
	})
}
