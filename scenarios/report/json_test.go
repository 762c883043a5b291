package report

import (
	"bytes"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/sample.json and testdata/sample.html from the code (review the diff)")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (%d vs %d bytes); if the change is intended, run go test ./scenarios/report/ -update and review the diff", path, len(want), len(got))
	}
}

func writeJSON(t testing.TB, r *Report) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteJSON(&b, r); err != nil {
		t.Fatalf("WriteJSON: %v", err)
	}
	return b.Bytes()
}

func TestWriteJSONGolden(t *testing.T) {
	golden(t, "sample.json", writeJSON(t, sampleReport()))
}

func TestJSONRoundTrip(t *testing.T) {
	for name, r := range map[string]*Report{
		"sample":  sampleReport(),
		"empty":   {},
		"hostile": hostileReport(),
		"big":     bigReport(500),
	} {
		t.Run(name, func(t *testing.T) {
			first := writeJSON(t, r)
			back, err := ReadJSON(bytes.NewReader(first))
			if err != nil {
				t.Fatalf("ReadJSON: %v", err)
			}
			if second := writeJSON(t, back); !bytes.Equal(first, second) {
				t.Errorf("WriteJSON → ReadJSON → WriteJSON differs:\n%s\n---\n%s", first, second)
			}
			if again := writeJSON(t, r); !bytes.Equal(first, again) {
				t.Error("two WriteJSON of the same report differ")
			}
		})
	}
}

func TestWriteJSONShape(t *testing.T) {
	out := string(writeJSON(t, &Report{}))
	for _, want := range []string{
		`"outcomes": []`, `"by_board": []`, `"by_wave": []`, `"messages": []`,
		`"progress": []`, `"fleet": []`, `"buckets": []`, `"start": "0001-01-01T00:00:00Z"`, `"duration_s": 0,`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("empty report lacks %s:\n%s", want, out)
		}
	}
	for _, absent := range []string{"wall_s", "interrupted", "aborted", "errors", "expectations", "null"} {
		if strings.Contains(out, absent) {
			t.Errorf("empty report has %q:\n%s", absent, out)
		}
	}
	if !strings.HasSuffix(out, "}\n") || !strings.HasPrefix(out, "{\n  \"scenario\"") {
		t.Errorf("not two-space indented with a trailing newline:\n%s", out)
	}

	// A device (one a line, compact) without a timeline still has an array; a Fleet entry's
	// nil timeline and a NaN in an omitempty field both vanish cleanly.
	out = string(writeJSON(t, &Report{Errors: []Count{}, Wall: Seconds(math.NaN()), Fleet: []Device{{ID: "a"}}}))
	if !strings.Contains(out, `"timeline":[]`) || strings.Contains(out, "wall_s") || strings.Contains(out, "errors") {
		t.Errorf("unexpected encoding:\n%s", out)
	}
}

func TestWriteJSONTimesUTC(t *testing.T) {
	at := time.Date(2025, 6, 1, 12, 0, 0, 500_000_000, time.UTC)
	a := &Report{Start: at, End: at.Add(time.Hour)}
	b := &Report{Start: at.In(time.FixedZone("CEST", 2*3600)), End: time.Now()}
	b.End = at.Add(time.Hour).In(time.FixedZone("W", -5*3600))
	ja, jb := writeJSON(t, a), writeJSON(t, b)
	if !bytes.Equal(ja, jb) {
		t.Errorf("same instants in other zones give other bytes:\n%s\n%s", ja, jb)
	}
	if !bytes.Contains(ja, []byte(`"start": "2025-06-01T12:00:00.5Z"`)) {
		t.Errorf("start not RFC 3339 UTC:\n%s", ja)
	}
	// The monotonic reading is not part of the output.
	now := time.Now()
	if x, y := writeJSON(t, &Report{Start: now}), writeJSON(t, &Report{Start: now.Round(0)}); !bytes.Equal(x, y) {
		t.Error("monotonic clock reading changes the output")
	}
}

func TestSecondsMarshalJSON(t *testing.T) {
	tenth := 0.1
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{0, "0"},
		{math.Copysign(0, -1), "0"},
		{1, "1"},
		{1.5, "1.5"},
		{0.00025, "0.00025"},
		{1e-7, "0.0000001"},
		{3600, "3600"},
		{1e21, "1000000000000000000000"},
		{-2.25, "-2.25"},
		{tenth + 0.2, "0.30000000000000004"},
		{math.NaN(), "0"},
		{math.Inf(1), "0"},
		{math.Inf(-1), "0"},
	} {
		got, err := Seconds(tc.in).MarshalJSON()
		if err != nil || string(got) != tc.want {
			t.Errorf("Seconds(%v).MarshalJSON() = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

func TestWriteJSONHostile(t *testing.T) {
	out := writeJSON(t, hostileReport())
	for _, bad := range []string{"NaN", "Inf", "null"} {
		if bytes.Contains(out, []byte(bad)) {
			t.Errorf("output holds %q:\n%s", bad, out)
		}
	}
	if err := WriteJSON(&bytes.Buffer{}, nil); err == nil {
		t.Error("WriteJSON(nil) succeeded")
	}
	// A year RFC 3339 cannot write is an error, not a panic, and writes
	// nothing.
	var b bytes.Buffer
	if err := WriteJSON(&b, &Report{Start: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}); err == nil || b.Len() != 0 {
		t.Errorf("year 10000: err %v, wrote %d bytes", err, b.Len())
	}
}

func TestWriteJSONDoesNotModify(t *testing.T) {
	r := hostileReport()
	before := r.Fleet[0].Timeline[0].At
	_ = writeJSON(t, r)
	if !math.IsNaN(float64(before)) || !math.IsNaN(float64(r.Fleet[0].Timeline[0].At)) || r.Progress[1].Outcomes != nil {
		t.Error("WriteJSON changed its report")
	}
}

func TestReadJSONErrors(t *testing.T) {
	for name, in := range map[string]string{
		"empty":    "",
		"unknown":  `{"scenario":"x","colour":"red"}`,
		"trailing": `{"scenario":"x"} {}`,
		"garbage":  `{"scenario":"x"} x`,
		"type":     `{"seed":"x"}`,
		"nested":   `{"fleet":[{"id":"a","bogus":1}]}`,
	} {
		if _, err := ReadJSON(strings.NewReader(in)); err == nil {
			t.Errorf("%s: ReadJSON(%q) succeeded", name, in)
		}
	}
	if _, err := ReadJSON(nil); err == nil {
		t.Error("ReadJSON(nil) succeeded")
	}
	r, err := ReadJSON(strings.NewReader("{\"seed\": 7}\n\n"))
	if err != nil || r.Seed != 7 {
		t.Errorf("ReadJSON = %+v, %v", r, err)
	}
}
