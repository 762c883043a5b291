package fleet

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestAppendEvent(t *testing.T) {
	at := time.Date(2025, 1, 1, 0, 0, 1, 5, time.FixedZone("x", 3600))
	for _, tc := range []struct {
		f            LogFormat
		kind, detail string
		want         string
	}{
		{LogText, "boot", "", "2024-12-31T23:00:01.000000005Z os::d-1 boot\n"},
		{LogText, "power-cut", "phase=install op=3", "2024-12-31T23:00:01.000000005Z os::d-1 power-cut phase=install op=3\n"},
		{LogJSON, "boot", "", `{"at":"2024-12-31T23:00:01.000000005Z","device":"os::d-1","kind":"boot","detail":"","fields":{}}` + "\n"},
		{LogJSON, "power-cut", `phase=install op=3 erase@0x40000 key="a b" =x`,
			`{"at":"2024-12-31T23:00:01.000000005Z","device":"os::d-1","kind":"power-cut","detail":"phase=install op=3 erase@0x40000 key=\"a b\" =x","fields":{"phase":"install","op":"3","key":"\"a"}}` + "\n"},
	} {
		got := string(AppendEvent(nil, tc.f, at, "os::d-1", tc.kind, tc.detail))
		if got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
		if got[:tc.f.StampWidth()] != map[LogFormat]string{LogText: "2024-12-31T23:00:01.000000005Z", LogJSON: `{"at":"2024-12-31T23:00:01.000000005Z"`}[tc.f] {
			t.Errorf("stamp %q", got[:tc.f.StampWidth()])
		}
	}
	for in, want := range map[string]LogFormat{"": LogText, "text": LogText, "json": LogJSON} {
		if f, err := ParseLogFormat(in); err != nil || f != want {
			t.Errorf("%q: %v %v", in, f, err)
		}
	}
	if _, err := ParseLogFormat("xml"); err == nil {
		t.Error("xml accepted")
	}
}

// The JSON form is JSON whatever the strings hold, and reads back as
// what was logged (invalid UTF-8 as U+FFFD).
func FuzzAppendEvent(f *testing.F) {
	f.Add("os::d-1", "power-cut", "phase=install op=3")
	f.Add("a\"b", "k\\", "x=\x00\x1f\u2028 \xff=\xfe")
	f.Fuzz(func(t *testing.T, id, kind, detail string) {
		line := AppendEvent(nil, LogJSON, time.Unix(0, 0), id, kind, detail)
		var e struct {
			At, Device, Kind, Detail string
			Fields                   map[string]string
		}
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		clean := func(s string) string { // each invalid byte one U+FFFD, as encoding/json does
			var b strings.Builder
			for _, r := range s {
				b.WriteRune(r)
			}
			return b.String()
		}
		if e.Device != clean(id) || e.Kind != clean(kind) || e.Detail != clean(detail) || !utf8.Valid(line) {
			t.Fatalf("%q %q %q read back as %+v", id, kind, detail, e)
		}
		if line[len(line)-1] != '\n' || strings.Count(string(line), "\n") != 1 {
			t.Fatalf("not one line: %q", line)
		}
	})
}
